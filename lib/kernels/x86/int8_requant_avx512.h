/* The AVX-512 requantization epilogue of the avx512vnni INT8 set: one zmm
 * of 16 int32 columns per tile row, shift (dpu) and float modes with
 * identity, ReLU, leaky, SiLU and sigmoid, the rounding modes half even
 * and half up; anything else takes the scalar epilogue. Included by the
 * AVX-512 INT8 files only, so every copy is static and compiled with their
 * flags. Bit-identical to ypr__i8_requant_ref: the same integer
 * operations, and the same rounded float operations in the same order
 * (the project builds with -std=c11, so nothing is contracted into FMAs).
 * One shortcut, exact: when 1/s_out is a float exactly (s_out a power of
 * two, as in the dpu scheme), z / s_out and z · (1/s_out) are the same
 * correctly rounded value of the same real number, so the multiply
 * replaces the division. */
#ifndef YPR_INT8_REQUANT_AVX512_H
#define YPR_INT8_REQUANT_AVX512_H

#include <immintrin.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define RQ512_NR 16

/* 1/s when that is exact (else 0): the division by s is then a multiply. */
static inline float rq512_exact_inv(float s)
{
    float inv = 1.0f / s;
    return (double)inv * (double)s == 1.0 ? inv : 0.0f;   /* the double product is exact */
}

/* ypr__i8_exp, operation for operation (no fused multiply-adds). */
static inline __m512 rq512_exp(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_mul_ps(p, _mm512_mul_ps(r, r));
    y = _mm512_add_ps(y, r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    /* y · 2^n: n is an integer in [−126, 127], so 2^n is a normal float and
     * vscalefps rounds the same real number y · 2^n as the reference's multiply */
    return _mm512_scalef_ps(y, n);
}

/* The float mode up to the rounded value as int32 (inv: rq512_exact_inv;
 * act, round and whether inv is used are constants where this is inlined by
 * rq512_float_rows, so each combination compiles to a straight line). */
static inline __attribute__((always_inline)) __m512i
rq512_float_k(__m512i acc, float m, float b, __m512 alpha, __m512 s_out, __m512 inv, __m512 lo,
              __m512 hi, const int act, const int half_up, const int use_inv)
{
    __m512 z = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(m)),
                             _mm512_set1_ps(b));
    if (act == YPR_ACT_RELU || act == YPR_ACT_LEAKY) {
        __mmask16 gt = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512 neg = act == YPR_ACT_RELU ? _mm512_setzero_ps() : _mm512_mul_ps(alpha, z);
        z = _mm512_mask_mov_ps(neg, gt, z);
    } else if (act == YPR_ACT_SILU) {
        z = _mm512_div_ps(z, _mm512_add_ps(_mm512_set1_ps(1.0f),
                                           rq512_exp(_mm512_sub_ps(_mm512_setzero_ps(), z))));
    } else if (act == YPR_ACT_SIGMOID) {
        z = _mm512_div_ps(_mm512_set1_ps(1.0f),
                          _mm512_add_ps(_mm512_set1_ps(1.0f),
                                        rq512_exp(_mm512_sub_ps(_mm512_setzero_ps(), z))));
    }
    __m512 v = use_inv ? _mm512_mul_ps(z, inv) : _mm512_div_ps(z, s_out);
    v = _mm512_max_ps(v, lo);   /* v > lo ? v : lo (NaN → lo) */
    v = _mm512_min_ps(v, hi);
    if (half_up)
        v = _mm512_roundscale_ps(_mm512_add_ps(v, _mm512_set1_ps(0.5f)),
                                 _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    else
        v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_cvttps_epi32(v);   /* in [qmin, qmax]: no integer clamp needed */
}

/* Rows of a float-mode tile (16 columns per zmm, n ≤ nr). */
static inline __attribute__((always_inline)) void
rq512_float_rows(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq, int64_t c0,
                 int8_t *y, int64_t ldy, const int act, const int half_up, const int use_inv)
{
    const __m512 alpha = _mm512_set1_ps(rq->alpha), s_out = _mm512_set1_ps(rq->s_out);
    const __m512 inv = _mm512_set1_ps(use_inv ? 1.0f / rq->s_out : 0.0f);
    const __m512 lo = _mm512_set1_ps((float)rq->qmin), hi = _mm512_set1_ps((float)rq->qmax);
    for (int j = 0; j < n; j += RQ512_NR) {
        int nn = n - j < RQ512_NR ? n - j : RQ512_NR;
        const __mmask16 keep = (__mmask16)((1u << nn) - 1);
        for (int i = 0; i < m; i++) {
            __m512i q = rq512_float_k(_mm512_loadu_si512(acc + i * nr + j), rq->m[c0 + i],
                                      rq->b[c0 + i], alpha, s_out, inv, lo, hi, act, half_up,
                                      use_inv);
            if (nn == RQ512_NR)
                _mm_storeu_si128((__m128i *)(y + i * ldy + j), _mm512_cvtepi32_epi8(q));
            else
                _mm512_mask_cvtepi32_storeu_epi8(y + i * ldy + j, keep, q);
        }
    }
}

#define RQ512_FLOAT_ROWS(ACT)                                                               \
    (half_up ? (use_inv ? rq512_float_rows(acc, nr, m, n, rq, c0, y, ldy, ACT, 1, 1)       \
                        : rq512_float_rows(acc, nr, m, n, rq, c0, y, ldy, ACT, 1, 0))      \
             : (use_inv ? rq512_float_rows(acc, nr, m, n, rq, c0, y, ldy, ACT, 0, 1)       \
                        : rq512_float_rows(acc, nr, m, n, rq, c0, y, ldy, ACT, 0, 0)))

/* The shift mode's constants in registers, read once per call (the int8
 * stores may alias rq, so reading its fields in a loop would reload them
 * after every store), and rq512_shift on them. */
typedef struct rq512s {
    __m512i rnd, lk, lneg, lrnd, lo, hi;
    __m128i cnt, lcnt;
    int act;
} rq512s;

static inline void rq512s_init(rq512s *k, const ypr_i8rq *rq)
{
    const int sh = rq->sh, leaky = rq->act == YPR_ACT_LEAKY;
    k->act = rq->act;
    k->rnd = _mm512_set1_epi32(1 << (sh - 1));
    k->cnt = _mm_cvtsi32_si128(sh);
    k->lk = _mm512_set1_epi32(leaky ? rq->lk : 0);
    k->lneg = _mm512_set1_epi32(leaky ? -rq->lneg : 0);
    k->lrnd = _mm512_set1_epi32(leaky ? 1 << (sh + 7) : 0);
    k->lcnt = _mm_cvtsi32_si128(sh + 8);
    k->lo = _mm512_set1_epi32(rq->qmin);
    k->hi = _mm512_set1_epi32(rq->qmax);
}

/* rq512_shift, then the clamp to [qmin, qmax] (act: k->act, or a constant
 * where this is inlined with one). */
static inline __attribute__((always_inline)) __m512i
rq512_shift_c(__m512i acc, const rq512s *k, __m512i bsh, const int act)
{
    __m512i a = _mm512_add_epi32(acc, bsh);
    __m512i q = _mm512_sra_epi32(_mm512_add_epi32(a, k->rnd), k->cnt);
    if (act != YPR_ACT_IDENTITY) {
        __mmask16 neg = _mm512_cmplt_epi32_mask(a, _mm512_setzero_si512());
        if (act == YPR_ACT_RELU) {
            q = _mm512_mask_mov_epi32(q, neg, _mm512_setzero_si512());
        } else {
            __m512i prod = _mm512_mullo_epi32(_mm512_max_epi32(a, k->lneg), k->lk);
            q = _mm512_mask_mov_epi32(q, neg,
                                      _mm512_sra_epi32(_mm512_add_epi32(prod, k->lrnd), k->lcnt));
        }
    }
    return _mm512_min_epi32(_mm512_max_epi32(q, k->lo), k->hi);
}

/* Rows of a shift-mode tile (16 columns per zmm, n ≤ nr), the activation a
 * constant where this is inlined. */
static inline __attribute__((always_inline)) void
rq512_shift_rows(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq, int64_t c0,
                 int8_t *y, int64_t ldy, const int act)
{
    rq512s k;
    rq512s_init(&k, rq);
    const int32_t *bsh = rq->bsh + c0;
    for (int i = 0; i < m; i++) {
        const __m512i b = _mm512_set1_epi32(bsh[i]);
        for (int j = 0; j < n; j += RQ512_NR) {
            int nn = n - j < RQ512_NR ? n - j : RQ512_NR;
            __m512i q = rq512_shift_c(_mm512_loadu_si512(acc + i * nr + j), &k, b, act);
            if (nn == RQ512_NR)
                _mm_storeu_si128((__m128i *)(y + i * ldy + j), _mm512_cvtepi32_epi8(q));
            else
                _mm512_mask_cvtepi32_storeu_epi8(y + i * ldy + j, (__mmask16)((1u << nn) - 1),
                                                 q);
        }
    }
}

/* Whether the vector epilogue does rq (else the scalar one). */
static inline int rq512_vec_ok(const ypr_i8rq *rq)
{
    int shift_act = rq->act == YPR_ACT_IDENTITY || rq->act == YPR_ACT_RELU ||
                    rq->act == YPR_ACT_LEAKY;
    int float_act = shift_act || rq->act == YPR_ACT_SILU || rq->act == YPR_ACT_SIGMOID;
    return rq->mode == YPR_I8RQ_SHIFT ? shift_act
                                      : float_act && rq->round != YPR_I8R_HALF_AWAY;
}

/* Tiles of 16 or 32 columns (one or two zmm per row). */
static inline void requant16_avx512(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq,
                                    int64_t c0, int8_t *y, int64_t ldy)
{
    if ((nr != RQ512_NR && nr != 2 * RQ512_NR) || !rq512_vec_ok(rq)) {
        ypr__i8_requant_ref(acc, nr, m, n, rq, c0, y, ldy);
        return;
    }
    if (rq->mode == YPR_I8RQ_FLOAT) {
        const int half_up = rq->round == YPR_I8R_HALF_UP;
        const int use_inv = rq512_exact_inv(rq->s_out) != 0.0f;
        switch (rq->act) {
        case YPR_ACT_RELU: RQ512_FLOAT_ROWS(YPR_ACT_RELU); return;
        case YPR_ACT_LEAKY: RQ512_FLOAT_ROWS(YPR_ACT_LEAKY); return;
        case YPR_ACT_SILU: RQ512_FLOAT_ROWS(YPR_ACT_SILU); return;
        case YPR_ACT_SIGMOID: RQ512_FLOAT_ROWS(YPR_ACT_SIGMOID); return;
        default: RQ512_FLOAT_ROWS(YPR_ACT_IDENTITY); return;
        }
    }
    switch (rq->act) {
    case YPR_ACT_RELU: rq512_shift_rows(acc, nr, m, n, rq, c0, y, ldy, YPR_ACT_RELU); return;
    case YPR_ACT_LEAKY: rq512_shift_rows(acc, nr, m, n, rq, c0, y, ldy, YPR_ACT_LEAKY); return;
    default: rq512_shift_rows(acc, nr, m, n, rq, c0, y, ldy, YPR_ACT_IDENTITY); return;
    }
}

#endif
