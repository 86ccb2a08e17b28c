/* The Winograd transforms (winograd_vec.h) over the x86 template's vector
 * primitives, for kernels_avx2.c and kernels_avx512.c: the stride-4
 * shuffles are built from xv_even/xv_odd (already defined for max-pool) and
 * xv_zip_lo/xv_zip_hi, which the including file defines after x86_vec.h:
 *   xv_f xv_zip_lo(a, b) = a0 b0 a1 b1 … (first halves of a and b)
 *   xv_f xv_zip_hi(a, b) = the same for the second halves
 * Gets wino4_in_vec and wino4_out_vec (ypr_ktable entries). */

#define WV_VL XV_VL
typedef xv_f wv_f;
AI wv_f wv_load(const float *p) { return xv_load(p); }
AI void wv_store(float *p, wv_f v) { xv_store(p, v); }
AI wv_f wv_set1(float v) { return xv_set1(v); }
AI wv_f wv_add(wv_f a, wv_f b) { return xv_add(a, b); }
AI wv_f wv_sub(wv_f a, wv_f b) { return xv_sub(a, b); }
AI wv_f wv_mul(wv_f a, wv_f b) { return xv_mul(a, b); }

/* Two rounds of even/odd picks: lanes 4l + k of the 4·VL floats at p. */
AI void wv_deint4(const float *p, wv_f q[4])
{
    xv_f a0 = xv_load(p), a1 = xv_load(p + XV_VL);
    xv_f a2 = xv_load(p + 2 * XV_VL), a3 = xv_load(p + 3 * XV_VL);
    xv_f e0 = xv_even(a0, a1), e1 = xv_even(a2, a3);
    xv_f o0 = xv_odd(a0, a1), o1 = xv_odd(a2, a3);
    q[0] = xv_even(e0, e1);
    q[1] = xv_even(o0, o1);
    q[2] = xv_odd(e0, e1);
    q[3] = xv_odd(o0, o1);
}

/* The inverse: two rounds of zips. */
AI void wv_int4(float *p, const wv_f q[4])
{
    xv_f u0 = xv_zip_lo(q[0], q[2]), u1 = xv_zip_hi(q[0], q[2]);
    xv_f w0 = xv_zip_lo(q[1], q[3]), w1 = xv_zip_hi(q[1], q[3]);
    xv_store(p, xv_zip_lo(u0, w0));
    xv_store(p + XV_VL, xv_zip_hi(u0, w0));
    xv_store(p + 2 * XV_VL, xv_zip_lo(u1, w1));
    xv_store(p + 3 * XV_VL, xv_zip_hi(u1, w1));
}

/* lanes 2l + k of the 2·VL floats at p, and the inverse */
AI void wv_deint2(const float *p, wv_f q[2])
{
    xv_f a0 = xv_load(p), a1 = xv_load(p + XV_VL);
    q[0] = xv_even(a0, a1);
    q[1] = xv_odd(a0, a1);
}

AI void wv_int2(float *p, const wv_f q[2])
{
    xv_store(p, xv_zip_lo(q[0], q[1]));
    xv_store(p + XV_VL, xv_zip_hi(q[0], q[1]));
}

AI wv_f wv_ep(wv_f y, wv_f s, wv_f b, wv_f alpha, const int ACT)
{
    return act_vec(affine_vec(y, s, b), ACT, alpha);
}

#define WV_STORE_N
AI void wv_store_n(float *p, wv_f v, int n) { xv_maskstore(p, xv_tail(n), v); }

/* lanes lo … hi − 1 to q: a masked store at q − lo, formed without an
 * out-of-object pointer in C terms (its masked-off lanes are not written) */
#define WV_STORE_LANES
AI void wv_store_lanes(float *q, wv_f v, int lo, int hi)
{
    float *p = (float *)((uintptr_t)q - (uintptr_t)lo * sizeof(float));
    xv_maskstore(p, xv_mask_range(lo, hi), v);
}

#include "lib/kernels/winograd_vec.h"
