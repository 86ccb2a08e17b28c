/* The x86 vector template's primitives (lib/kernels/x86/x86_vec.h, x86_train.h) over 16
 * plain C lanes with the semantics the real ones promise (MINPS/MAXPS NaN rule, zeroing
 * masked loads …), so the 16-lane loops are checked on every machine, including those
 * without AVX-512. Included by the tests that instantiate the template. */
#ifndef YPR_TEST_XV_PLAIN16_H
#define YPR_TEST_XV_PLAIN16_H

#define AI static inline __attribute__((always_inline))
#define XV_VL 16
#define XV_MR_MAX 16
typedef struct xv_f { float v[XV_VL]; } xv_f;
typedef uint32_t xv_m;
#define XV_LANES(expr) do { for (int l_ = 0; l_ < XV_VL; l_++) { expr; } } while (0)
#define XV_OP2(name, expr)                                                     \
    AI xv_f name(xv_f a, xv_f b) { xv_f r; XV_LANES(r.v[l_] = (expr)); return r; }
XV_OP2(xv_add, a.v[l_] + b.v[l_])
XV_OP2(xv_sub, a.v[l_] - b.v[l_])
XV_OP2(xv_mul, a.v[l_] * b.v[l_])
XV_OP2(xv_min, a.v[l_] < b.v[l_] ? a.v[l_] : b.v[l_])
XV_OP2(xv_max, a.v[l_] > b.v[l_] ? a.v[l_] : b.v[l_])
XV_OP2(xv_pos_or, a.v[l_] > 0.0f ? a.v[l_] : b.v[l_])
XV_OP2(xv_even, l_ < 8 ? a.v[2 * l_] : b.v[2 * l_ - 16])
XV_OP2(xv_odd, l_ < 8 ? a.v[2 * l_ + 1] : b.v[2 * l_ - 15])
XV_OP2(xv_scale2n, isnan(b.v[l_]) ? b.v[l_] : ldexpf(a.v[l_], (int)b.v[l_]))
AI xv_f xv_set1(float a) { xv_f r; XV_LANES(r.v[l_] = a); return r; }
AI xv_f xv_zero(void) { return xv_set1(0.0f); }
AI xv_f xv_load(const float *p) { xv_f r; memcpy(r.v, p, sizeof r.v); return r; }
AI void xv_store(float *p, xv_f v) { memcpy(p, v.v, sizeof v.v); }
AI xv_f xv_fmadd(xv_f a, xv_f b, xv_f c) { XV_LANES(c.v[l_] = fmaf(a.v[l_], b.v[l_], c.v[l_])); return c; }
AI xv_f xv_fnmadd(xv_f a, xv_f b, xv_f c) { XV_LANES(c.v[l_] = fmaf(-a.v[l_], b.v[l_], c.v[l_])); return c; }
AI xv_f xv_round(xv_f a) { XV_LANES(a.v[l_] = nearbyintf(a.v[l_])); return a; }
AI xv_f xv_rcp(xv_f a) { XV_LANES(a.v[l_] = 1.0f / a.v[l_]); return a; }
AI xv_m xv_tail(int64_t rem) { return rem <= 0 ? 0 : rem >= XV_VL ? 0xFFFFu : (1u << rem) - 1u; }
AI xv_m xv_mask_range(int lo, int hi) { return xv_tail(hi) & ~xv_tail(lo); }
AI xv_f xv_maskload(xv_m m, const float *p)
{
    xv_f r;
    XV_LANES(r.v[l_] = (m >> l_) & 1u ? p[l_] : 0.0f);
    return r;
}
AI void xv_maskstore(float *p, xv_m m, xv_f v)
{
    XV_LANES(if ((m >> l_) & 1u) p[l_] = v.v[l_]);
}
AI xv_f xv_gt_sel(xv_f a, xv_f b, xv_f x, xv_f y)
{
    xv_f r;
    XV_LANES(r.v[l_] = a.v[l_] > b.v[l_] ? x.v[l_] : y.v[l_]);
    return r;
}

#endif
