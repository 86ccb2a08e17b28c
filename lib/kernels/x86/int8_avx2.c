/* AVX2 INT8 set: int8 widened to int16 pairs and multiplied with vpmaddwd
 * (exact: no saturation, unlike vpmaddubsw), 6×16 int32 tiles; the
 * requantization epilogue for the shift (dpu) and float modes with
 * identity, ReLU and leaky activations (others take the scalar epilogue).
 * Bit-identical to the scalar reference. Built with -mavx2 -mfma -mf16c;
 * every helper is static. */
#include <immintrin.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define MR 6
#define NR 16

static void gemm_6x16(int64_t nkg, const void *a, const void *b, const int32_t *init, int32_t *c)
{
    const int32_t *pa = a;          /* a pair of int16 per (k pair, row) */
    const __m256i *pb = b;          /* 16 columns × a pair of int16 per k pair */
    __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    c00 = c01 = _mm256_set1_epi32(init ? init[0] : 0);
    c10 = c11 = _mm256_set1_epi32(init ? init[1] : 0);
    c20 = c21 = _mm256_set1_epi32(init ? init[2] : 0);
    c30 = c31 = _mm256_set1_epi32(init ? init[3] : 0);
    c40 = c41 = _mm256_set1_epi32(init ? init[4] : 0);
    c50 = c51 = _mm256_set1_epi32(init ? init[5] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += MR, pb += 2) {
        __m256i b0 = _mm256_loadu_si256(pb), b1 = _mm256_loadu_si256(pb + 1), r;
        r = _mm256_set1_epi32(pa[0]);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(r, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(pa[1]);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(r, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(pa[2]);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(r, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(pa[3]);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(r, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(pa[4]);
        c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(r, b0));
        c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(r, b1));
        r = _mm256_set1_epi32(pa[5]);
        c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(r, b0));
        c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(r, b1));
    }
    __m256i *pc = (__m256i *)c;
    _mm256_storeu_si256(pc + 0, c00);
    _mm256_storeu_si256(pc + 1, c01);
    _mm256_storeu_si256(pc + 2, c10);
    _mm256_storeu_si256(pc + 3, c11);
    _mm256_storeu_si256(pc + 4, c20);
    _mm256_storeu_si256(pc + 5, c21);
    _mm256_storeu_si256(pc + 6, c30);
    _mm256_storeu_si256(pc + 7, c31);
    _mm256_storeu_si256(pc + 8, c40);
    _mm256_storeu_si256(pc + 9, c41);
    _mm256_storeu_si256(pc + 10, c50);
    _mm256_storeu_si256(pc + 11, c51);
}

/* ---------------------------------------------------------- requantize */

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

static __m256i rq_float(__m256i acc, const ypr_i8rq *rq, float m, float b)
{
    __m256 z = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(m)),
                             _mm256_set1_ps(b));
    __m256 gt = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ);
    if (rq->act == YPR_ACT_RELU)
        z = _mm256_blendv_ps(_mm256_setzero_ps(), z, gt);
    else if (rq->act == YPR_ACT_LEAKY)
        z = _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(rq->alpha), z), z, gt);
    __m256 v = _mm256_div_ps(z, _mm256_set1_ps(rq->s_out));
    v = _mm256_max_ps(v, _mm256_set1_ps((float)rq->qmin));   /* v > lo ? v : lo (NaN → lo) */
    v = _mm256_min_ps(v, _mm256_set1_ps((float)rq->qmax));
    if (rq->round == YPR_I8R_HALF_UP)
        v = _mm256_floor_ps(_mm256_add_ps(v, _mm256_set1_ps(0.5f)));
    else
        v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvttps_epi32(v);
}

static void requant(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq, int64_t c0,
                    int8_t *y, int64_t ldy)
{
    int vec = nr == NR && (rq->act == YPR_ACT_IDENTITY || rq->act == YPR_ACT_RELU ||
                           rq->act == YPR_ACT_LEAKY) &&
              (rq->mode == YPR_I8RQ_SHIFT || rq->round != YPR_I8R_HALF_AWAY);
    if (!vec) {
        ypr__i8_requant_ref(acc, nr, m, n, rq, c0, y, ldy);
        return;
    }
    const __m256i lo = _mm256_set1_epi32(rq->qmin), hi = _mm256_set1_epi32(rq->qmax);
    for (int i = 0; i < m; i++) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(acc + i * nr));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + i * nr + 8));
        __m256i q0, q1;
        if (rq->mode == YPR_I8RQ_SHIFT) {
            q0 = rq_shift(a0, rq, rq->bsh[c0 + i]);
            q1 = rq_shift(a1, rq, rq->bsh[c0 + i]);
        } else {
            q0 = rq_float(a0, rq, rq->m[c0 + i], rq->b[c0 + i]);
            q1 = rq_float(a1, rq, rq->m[c0 + i], rq->b[c0 + i]);
        }
        q0 = _mm256_min_epi32(_mm256_max_epi32(q0, lo), hi);
        q1 = _mm256_min_epi32(_mm256_max_epi32(q1, lo), hi);
        __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
        __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        if (n == NR) {
            _mm_storeu_si128((__m128i *)(y + i * ldy), bytes);
        } else {
            int8_t tmp[NR];
            _mm_storeu_si128((__m128i *)tmp, bytes);
            memcpy(y + i * ldy, tmp, (size_t)n);
        }
    }
}

void ypr__i8kt_fill_avx2(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"avx2", MR, NR, 2, YPR_I8F_S16, gemm_6x16, requant};
}
