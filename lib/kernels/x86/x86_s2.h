/* The direct stride-2 tile and row flush (kernels.h, ypr_ktable.s2_tile,
 * s2_flush) over the x86 template's vector primitives, for kernels_avx2.c
 * (S2_NV 2: 16 channels, 12 + 2 + 1 of the 16 ymm) and kernels_avx512.c
 * (S2_NV 4: 64 channels, 24 + 4 + 1 of the 32 zmm). Per input channel,
 * kernel row and kernel column: S2_NV loads of weights (the block's
 * channels), one broadcast of an input value per output position, NP·NV
 * FMAs. The including file defines, after x86_vec.h:
 *   void xv_transpose(xv_f r[XV_VL])   (rows ↔ columns of a VL×VL block)
 * Gets s2_tile_vec and s2_flush_vec. */
#ifndef S2_NV
#error "define S2_NV (channel vectors per block) before including x86_s2.h"
#endif
#define S2_OCB (S2_NV * XV_VL)

static const float s2_zero = 0.0f;

AI void s2_body(const float *x, int64_t plane, int64_t w, const float *wb, int64_t nic, int kh0,
                int kh1, int skip0, int skipl, int accumulate, float *t, const int NP,
                const int NV)
{
    xv_f acc[YPR_S2_NP][S2_NV];
#pragma GCC unroll 6
    for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[p][v] = xv_zero();
    for (int64_t ic = 0; ic < nic; ic++) {
        const float *xi = x + ic * plane;
        const float *wi = wb + (ic * 9 + kh0 * 3) * S2_OCB;
        for (int kh = kh0; kh < kh1; kh++, xi += w, wi += 3 * S2_OCB) {
            /* the two taps that may fall on the zero padding read a zero */
            const float *first = skip0 ? &s2_zero : xi - 1;
            const float *last = skipl ? &s2_zero : xi + 2 * NP - 1;
            const float *xr = xi;
            /* the line the next tile of the row starts on: the hardware
             * prefetcher does not follow C·3 row streams (32→64 @416²
             * alone: 0.89 of the time; 512→512 @26², 3 tiles per row: 1.02) */
            __builtin_prefetch(xi + 4 * NP, 0, 3);
#pragma GCC unroll 3
            for (int kw = 0; kw < 3; kw++) {
                /* Opaque per column: GCC would otherwise keep the input
                 * values that columns 0 and 2 share (x[2p + 2] = x[2(p+1)])
                 * in registers across the columns and spill accumulators. */
                __asm__("" : "+r"(xr));
                xv_f wv[S2_NV];
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    wv[v] = xv_load(wi + kw * S2_OCB + v * XV_VL);
#pragma GCC unroll 6
                for (int p = 0; p < NP; p++) {
                    const float *src = kw == 0 && p == 0        ? first
                                       : kw == 2 && p == NP - 1 ? last
                                                                : xr + 2 * p + kw - 1;
                    const xv_f b = xv_set1(*src);
#pragma GCC unroll 4
                    for (int v = 0; v < NV; v++)
                        acc[p][v] = xv_fmadd(b, wv[v], acc[p][v]);
                }
            }
        }
    }
#pragma GCC unroll 6
    for (int p = 0; p < NP; p++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            float *d = t + p * S2_OCB + v * XV_VL;
            xv_store(d, accumulate ? xv_add(xv_load(d), acc[p][v]) : acc[p][v]);
        }
}

#define S2_CASE(NP_, NV_)                                                                \
    case (NP_) * 8 + (NV_):                                                              \
        s2_body(x, plane, w, wb, nic, kh0, kh1, skip0, skipl, accumulate, t, NP_, NV_); \
        break;
#define S2_NPS(NV_) S2_CASE(1, NV_) S2_CASE(2, NV_) S2_CASE(3, NV_) S2_CASE(4, NV_) \
    S2_CASE(5, NV_) S2_CASE(6, NV_)

static void s2_tile_vec(const float *x, int64_t plane, int64_t w, const float *wb, int64_t nic,
                        int kh0, int kh1, int np, int noc, int skip0, int skipl, int accumulate,
                        float *t)
{
    const int nv = (noc + XV_VL - 1) / XV_VL;
    switch (np * 8 + nv) {
        S2_NPS(1)
        S2_NPS(2)
#if S2_NV > 2
        S2_NPS(3)
        S2_NPS(4)
#endif
    default:
        break;
    }
}

#undef S2_NPS
#undef S2_CASE
#undef S2_OCB

/* VL positions × VL channels of t at a time, transposed in registers, each
 * channel's vector through the epilogue (the reference's rounding) and
 * stored, masked past OW. */
AI void s2_flush_loop(const float *t, int64_t ocb, int64_t ow, int noc, float *y, int64_t ohw,
                      const float *scale, const float *bias, float alpha, const int ACT)
{
    const xv_f al = xv_set1(alpha);
    for (int64_t q0 = 0; q0 < ow; q0 += XV_VL) {
        const int qn = (int)(ow - q0 < XV_VL ? ow - q0 : XV_VL);
        const xv_m mk = xv_tail(qn);
        for (int o0 = 0; o0 < noc; o0 += XV_VL) {
            xv_f r[XV_VL];
#pragma GCC unroll 16
            for (int i = 0; i < XV_VL; i++)
                r[i] = i < qn ? xv_load(t + (q0 + i) * ocb + o0) : xv_zero();
            xv_transpose(r);
            const int on = noc - o0 < XV_VL ? noc - o0 : XV_VL;
            for (int c = 0; c < on; c++) {
                const xv_f sv = xv_set1(scale ? scale[o0 + c] : 1.0f);
                const xv_f bv = xv_set1(bias ? bias[o0 + c] : 0.0f);
                const xv_f v = act_vec(affine_vec(r[c], sv, bv), ACT, al);
                float *d = y + (int64_t)(o0 + c) * ohw + q0;
                if (qn == XV_VL)
                    xv_store(d, v);
                else
                    xv_maskstore(d, mk, v);
            }
        }
    }
}

static void s2_flush_vec(const float *t, int64_t ocb, int64_t ow, int noc, float *y, int64_t ohw,
                         const float *scale, const float *bias, int act, float alpha)
{
    YPR_ACT_SPECIALIZE(act, s2_flush_loop(t, ocb, ow, noc, y, ohw, scale, bias, alpha, ACT_));
}
