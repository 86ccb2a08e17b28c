/* AVX2 transforms of the INT8 Winograd F(2×2, 3×3) (kernels.h, "INT8
 * Winograd"): the input transform 16 tiles at a time (int16 lanes, the
 * tile's 4×4 int8 patch from two 32-byte loads per row), the output
 * transform 8 tiles per register (wrapping int32, an exact arithmetic shift
 * by 2) fused with the x86 requantization epilogue. The element-wise stage
 * is the avx2 set's 6×16 vpmaddwd tile (int8_avx2.c). Bit-identical to
 * ypr__i8_wino_tin_ref / _tout_ref. Built with -mavx2 -mfma -mf16c; every
 * helper is static. */
#include <immintrin.h>
#include <string.h>

#include "lib/kernels/kernels.h"
#include "int8_requant_x86.h"

/* One row of 16 tiles as int16 lanes d0 … d3 (minus the zero point). */
static inline void load_row(const int8_t *r, __m256i z, __m256i d[4])
{
    __m256i a = _mm256_loadu_si256((const __m256i *)r);
    __m256i b = _mm256_loadu_si256((const __m256i *)(r + 2));
    d[0] = _mm256_sub_epi16(_mm256_srai_epi16(_mm256_slli_epi16(a, 8), 8), z);
    d[1] = _mm256_sub_epi16(_mm256_srai_epi16(a, 8), z);
    d[2] = _mm256_sub_epi16(_mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8), z);
    d[3] = _mm256_sub_epi16(_mm256_srai_epi16(b, 8), z);
}

/* V = B^T d B of 16 tiles of one channel (v[ξ]: 16 int16 lanes). */
static inline void tin16(const int8_t *const *r, int64_t j, __m256i z, __m256i v[16])
{
    __m256i t[4][4];
    for (int y = 0; y < 4; y++) {
        __m256i d[4];
        load_row(r[y] + 2 * j, z, d);
        t[y][0] = _mm256_sub_epi16(d[0], d[2]);
        t[y][1] = _mm256_add_epi16(d[1], d[2]);
        t[y][2] = _mm256_sub_epi16(d[2], d[1]);
        t[y][3] = _mm256_sub_epi16(d[1], d[3]);
    }
    for (int b = 0; b < 4; b++) {
        v[b] = _mm256_sub_epi16(t[0][b], t[2][b]);
        v[4 + b] = _mm256_add_epi16(t[1][b], t[2][b]);
        v[8 + b] = _mm256_sub_epi16(t[2][b], t[1][b]);
        v[12 + b] = _mm256_sub_epi16(t[1][b], t[3][b]);
    }
}

void ypr__i8_wino_tin_avx2(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                           int16_t *v, int64_t ldv)
{
    const __m256i z = _mm256_set1_epi16((int16_t)zp);
    for (int64_t j = 0; j < n; j += 16) {
        __m256i v0[16], v1[16];
        tin16(r0, j, z, v0);   /* a tail reads past tile n − 1: inside the rows' 64 spare bytes */
        if (r1)
            tin16(r1, j, z, v1);
        else
            for (int x = 0; x < 16; x++)
                v1[x] = _mm256_setzero_si256();
        int16_t tmp[2 * 16];
        for (int x = 0; x < 16; x++) {   /* channel pairs, tiles in order */
            __m256i lo = _mm256_unpacklo_epi16(v0[x], v1[x]), hi = _mm256_unpackhi_epi16(v0[x], v1[x]);
            __m256i *d = (__m256i *)(n - j >= 16 ? v + (x * ldv + j) * 2 : tmp);
            _mm256_storeu_si256(d, _mm256_permute2x128_si256(lo, hi, 0x20));
            _mm256_storeu_si256(d + 1, _mm256_permute2x128_si256(lo, hi, 0x31));
            if (n - j < 16)
                memcpy(v + (x * ldv + j) * 2, tmp, (size_t)(n - j) * 4);
        }
    }
}

/* Y = A^T M A of 8 tiles, / 4: y[dy][dx]. */
static inline void tout8(const int32_t *m, int64_t xs, __m256i y[2][2])
{
    __m256i s[4][2];
    for (int a = 0; a < 4; a++) {
        __m256i m0 = _mm256_loadu_si256((const __m256i *)(m + (4 * a) * xs));
        __m256i m1 = _mm256_loadu_si256((const __m256i *)(m + (4 * a + 1) * xs));
        __m256i m2 = _mm256_loadu_si256((const __m256i *)(m + (4 * a + 2) * xs));
        __m256i m3 = _mm256_loadu_si256((const __m256i *)(m + (4 * a + 3) * xs));
        s[a][0] = _mm256_add_epi32(_mm256_add_epi32(m0, m1), m2);
        s[a][1] = _mm256_sub_epi32(_mm256_sub_epi32(m1, m2), m3);
    }
    for (int dx = 0; dx < 2; dx++) {
        y[0][dx] = _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(s[0][dx], s[1][dx]), s[2][dx]), 2);
        y[1][dx] = _mm256_srai_epi32(_mm256_sub_epi32(_mm256_sub_epi32(s[1][dx], s[2][dx]), s[3][dx]), 2);
    }
}

void ypr__i8_wino_tout_avx2(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m16, int m,
                            int n, const ypr_i8rq *rq, int64_t c0, int8_t *o)
{
    int shift_act = rq->act == YPR_ACT_IDENTITY || rq->act == YPR_ACT_RELU ||
                    rq->act == YPR_ACT_LEAKY;
    int float_act = shift_act || rq->act == YPR_ACT_SILU || rq->act == YPR_ACT_SIGMOID;
    int vec = wk->nr == 16 && (rq->mode == YPR_I8RQ_SHIFT
                                    ? shift_act
                                    : float_act && rq->round != YPR_I8R_HALF_AWAY);
    if (!vec) {
        (void)requant16;
        ypr__i8_wino_tout_ref(kt, wk, m16, m, n, rq, c0, o);
        return;
    }
    const int mr = wk->mr;
    const int64_t xs = (int64_t)mr * 16;   /* between the 16 matrices */
    const __m256i lo = _mm256_set1_epi32(rq->qmin), hi = _mm256_set1_epi32(rq->qmax);
    for (int i = 0; i < m; i++) {
        __m256i w[2][2];   /* [dy][half]: 16 int16, tiles in order, dx interleaved */
        for (int h = 0; h < 2; h++) {
            __m256i y[2][2];
            tout8(m16 + i * 16 + 8 * h, xs, y);
            for (int dy = 0; dy < 2; dy++) {
                __m256i q[2];
                for (int dx = 0; dx < 2; dx++) {
                    q[dx] = rq->mode == YPR_I8RQ_SHIFT
                                ? rq_shift(y[dy][dx], rq, rq->bsh[c0 + i])
                                : rq_float(y[dy][dx], rq, rq->m[c0 + i], rq->b[c0 + i]);
                    q[dx] = _mm256_min_epi32(_mm256_max_epi32(q[dx], lo), hi);
                }
                w[dy][h] = _mm256_packs_epi32(_mm256_unpacklo_epi32(q[0], q[1]),
                                              _mm256_unpackhi_epi32(q[0], q[1]));
            }
        }
        for (int dy = 0; dy < 2; dy++) {
            __m256i b = _mm256_permute4x64_epi64(_mm256_packs_epi16(w[dy][0], w[dy][1]), 0xD8);
            _mm256_storeu_si256((__m256i *)(o + (i * 2 + dy) * 32), b);
        }
    }
    (void)n;
}
