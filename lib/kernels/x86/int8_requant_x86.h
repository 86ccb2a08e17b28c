/* The AVX2 requantization epilogue of the x86 INT8 sets (tiles of 16
 * int32 columns): shift (dpu) and float modes with identity, ReLU and
 * leaky activations; anything else takes the scalar epilogue. Included by
 * each x86 INT8 file, so every copy is static and compiled with that file's
 * flags (never picked by the linker for generic callers). Bit-identical to
 * ypr__i8_requant_ref: the same integer operations, and the same rounded
 * float operations in the same order (multiply, add, compare-select,
 * divide, clamp, round), but for an exact shortcut: the division by a
 * power-of-two s_out is a multiply by its reciprocal (rq_exact_inv). */
#ifndef YPR_INT8_REQUANT_X86_H
#define YPR_INT8_REQUANT_X86_H

#include <immintrin.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define RQ_NR 16

static __m256i rq_shift(__m256i acc, const ypr_i8rq *rq, int32_t bsh)
{
    __m256i a = _mm256_add_epi32(acc, _mm256_set1_epi32(bsh));
    __m256i pos = _mm256_sra_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(1 << (rq->sh - 1))),
                                   _mm_cvtsi32_si128(rq->sh));
    if (rq->act == YPR_ACT_IDENTITY)
        return pos;
    __m256i neg_mask = _mm256_cmpgt_epi32(_mm256_setzero_si256(), a);
    __m256i neg = _mm256_setzero_si256();
    if (rq->act == YPR_ACT_LEAKY) {
        __m256i an = _mm256_max_epi32(a, _mm256_set1_epi32(-rq->lneg));
        neg = _mm256_sra_epi32(_mm256_add_epi32(_mm256_mullo_epi32(an, _mm256_set1_epi32(rq->lk)),
                                                _mm256_set1_epi32(1 << (rq->sh + 7))),
                               _mm_cvtsi32_si128(rq->sh + 8));
    }
    return _mm256_blendv_epi8(pos, neg, neg_mask);
}

/* ypr__i8_exp, operation for operation (no fused multiply-adds). */
static inline __m256 i8_exp8(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(-2.12194440e-4f)));
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_mul_ps(p, _mm256_mul_ps(r, r));
    y = _mm256_add_ps(y, r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* 1/s when that is exact (else 0): s a power of two, as in the dpu scheme.
 * Then z / s and z · (1/s) are the same correctly rounded value of the same
 * real number, and the multiply replaces the division. */
static inline float rq_exact_inv(float s)
{
    float inv = 1.0f / s;
    return (double)inv * (double)s == 1.0 ? inv : 0.0f;   /* the double product is exact */
}

/* The float mode up to the rounded value as int32 (inv: rq_exact_inv(s_out)). */
static __m256i rq_float(__m256i acc, const ypr_i8rq *rq, float m, float b, float inv)
{
    __m256 z = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(m)),
                             _mm256_set1_ps(b));
    __m256 gt = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ);
    if (rq->act == YPR_ACT_RELU)
        z = _mm256_blendv_ps(_mm256_setzero_ps(), z, gt);
    else if (rq->act == YPR_ACT_LEAKY)
        z = _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(rq->alpha), z), z, gt);
    else if (rq->act == YPR_ACT_SILU)
        z = _mm256_div_ps(z, _mm256_add_ps(_mm256_set1_ps(1.0f),
                                           i8_exp8(_mm256_sub_ps(_mm256_setzero_ps(), z))));
    else if (rq->act == YPR_ACT_SIGMOID)
        z = _mm256_div_ps(_mm256_set1_ps(1.0f),
                          _mm256_add_ps(_mm256_set1_ps(1.0f),
                                        i8_exp8(_mm256_sub_ps(_mm256_setzero_ps(), z))));
    __m256 v = inv != 0.0f ? _mm256_mul_ps(z, _mm256_set1_ps(inv))
                           : _mm256_div_ps(z, _mm256_set1_ps(rq->s_out));
    v = _mm256_max_ps(v, _mm256_set1_ps((float)rq->qmin));   /* v > lo ? v : lo (NaN → lo) */
    v = _mm256_min_ps(v, _mm256_set1_ps((float)rq->qmax));
    if (rq->round == YPR_I8R_HALF_UP)
        v = _mm256_floor_ps(_mm256_add_ps(v, _mm256_set1_ps(0.5f)));
    else
        v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvttps_epi32(v);
}

static void requant16(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq, int64_t c0,
                    int8_t *y, int64_t ldy)
{
    int shift_act = rq->act == YPR_ACT_IDENTITY || rq->act == YPR_ACT_RELU ||
                    rq->act == YPR_ACT_LEAKY;
    int float_act = shift_act || rq->act == YPR_ACT_SILU || rq->act == YPR_ACT_SIGMOID;
    int vec = nr == RQ_NR && (rq->mode == YPR_I8RQ_SHIFT
                                  ? shift_act
                                  : float_act && rq->round != YPR_I8R_HALF_AWAY);
    if (!vec) {
        ypr__i8_requant_ref(acc, nr, m, n, rq, c0, y, ldy);
        return;
    }
    const __m256i lo = _mm256_set1_epi32(rq->qmin), hi = _mm256_set1_epi32(rq->qmax);
    const float inv = rq->mode == YPR_I8RQ_SHIFT ? 0.0f : rq_exact_inv(rq->s_out);
    for (int i = 0; i < m; i++) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(acc + i * nr));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + i * nr + 8));
        __m256i q0, q1;
        if (rq->mode == YPR_I8RQ_SHIFT) {
            q0 = rq_shift(a0, rq, rq->bsh[c0 + i]);
            q1 = rq_shift(a1, rq, rq->bsh[c0 + i]);
        } else {
            q0 = rq_float(a0, rq, rq->m[c0 + i], rq->b[c0 + i], inv);
            q1 = rq_float(a1, rq, rq->m[c0 + i], rq->b[c0 + i], inv);
        }
        q0 = _mm256_min_epi32(_mm256_max_epi32(q0, lo), hi);
        q1 = _mm256_min_epi32(_mm256_max_epi32(q1, lo), hi);
        __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
        __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        if (n == RQ_NR) {
            _mm_storeu_si128((__m128i *)(y + i * ldy), bytes);
        } else {
            int8_t tmp[RQ_NR];
            _mm_storeu_si128((__m128i *)tmp, bytes);
            memcpy(y + i * ldy, tmp, (size_t)n);
        }
    }
}

#endif
