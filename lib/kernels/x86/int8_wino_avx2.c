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
#include "int8_wino_net.h"
#if defined(YPR_WINO_ZMM)
#include "int8_requant_avx512.h"
#define TOUT_FN(name) name##_avx512   /* int8_wino_zmm.c: the output transforms only */
#define rq_exact_inv rq512_exact_inv
#else
#include "int8_requant_x86.h"
#define TOUT_FN(name) name##_avx2
#endif

#if !defined(YPR_WINO_ZMM)

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
        /* short chunks: masked stores, one int32 lane (a tile's channel pair) each */
        const int64_t left = n - j;
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 16 ? left : 16)), lane);
        const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 16 ? left - 8 : 8)),
                                              lane);
        for (int x = 0; x < 16; x++) {   /* channel pairs, tiles in order */
            __m256i lo = _mm256_unpacklo_epi16(v0[x], v1[x]);
            __m256i hi = _mm256_unpackhi_epi16(v0[x], v1[x]);
            __m256i a = _mm256_permute2x128_si256(lo, hi, 0x20);
            __m256i b = _mm256_permute2x128_si256(lo, hi, 0x31);
            int *d = (int *)(v + (x * ldv + j) * 2);
            if (left >= 16) {
                _mm256_storeu_si256((__m256i *)d, a);
                _mm256_storeu_si256((__m256i *)(d + 8), b);
            } else {
                _mm256_maskstore_epi32(d, m0, a);
                _mm256_maskstore_epi32(d + 8, m1, b);
            }
        }
    }
}

#endif   /* !YPR_WINO_ZMM */

/* The epilogues the x86 vector code does (as requant16 decides), on
 * rows of 16 tiles (tiles of 16 or 32 columns, 16 at a time); anything
 * else takes the scalar output transform. */
static int vec_ok(const ypr_i8wk *wk, const ypr_i8rq *rq)
{
    int shift_act = rq->act == YPR_ACT_IDENTITY || rq->act == YPR_ACT_RELU ||
                    rq->act == YPR_ACT_LEAKY;
    int float_act = shift_act || rq->act == YPR_ACT_SILU || rq->act == YPR_ACT_SIGMOID;
    return wk->nr % 16 == 0 && (rq->mode == YPR_I8RQ_SHIFT
                                ? shift_act
                                : float_act && rq->round != YPR_I8R_HALF_AWAY);
}

/* The epilogue's per-call constants, loaded once per output transform
 * (the int8 stores of the transform may alias *rq, so reading its fields
 * in the loops would reload and reconvert them for every row). */
typedef struct rqk {
    const ypr_i8rq *rq;
    int shift, act, half_up, use_inv;
    float inv;
#if defined(YPR_WINO_ZMM)
    __m512 alpha, s_out, vinv, flo, fhi;
    __m512i lo, hi;
    rq512s sk;
#else
    __m256i lo, hi;
#endif
} rqk;

static inline void rqk_init(rqk *k, const ypr_i8rq *rq)
{
    k->rq = rq;
    k->shift = rq->mode == YPR_I8RQ_SHIFT;
    k->act = rq->act;
    k->half_up = rq->round == YPR_I8R_HALF_UP;
    k->inv = k->shift ? 0.0f : rq_exact_inv(rq->s_out);
    k->use_inv = k->inv != 0.0f;
#if defined(YPR_WINO_ZMM)
    k->alpha = _mm512_set1_ps(rq->alpha);
    k->s_out = _mm512_set1_ps(rq->s_out);
    k->vinv = _mm512_set1_ps(k->inv);
    k->flo = _mm512_set1_ps((float)rq->qmin);
    k->fhi = _mm512_set1_ps((float)rq->qmax);
    k->lo = _mm512_set1_epi32(rq->qmin);
    k->hi = _mm512_set1_epi32(rq->qmax);
    if (k->shift)
        rq512s_init(&k->sk, rq);
#else
    k->lo = _mm256_set1_epi32(rq->qmin);
    k->hi = _mm256_set1_epi32(rq->qmax);
#endif
}

/* The epilogue of 16 tiles (two halves of 8) of channel c, clamped to
 * [qmin, qmax]: one zmm in the AVX-512 build, two ymm in the AVX2 one. */
static inline void rq_pair(__m256i y0, __m256i y1, const rqk *k, int64_t c, __m256i *q0,
                           __m256i *q1)
{
    const ypr_i8rq *rq = k->rq;
#if defined(YPR_WINO_ZMM)
    __m512i y = _mm512_inserti64x4(_mm512_castsi256_si512(y0), y1, 1);
    __m512i q;
    if (k->shift)
        q = rq512_shift_c(y, &k->sk, _mm512_set1_epi32(rq->bsh[c]), k->sk.act);
    else   /* in [qmin, qmax] already */
        q = rq512_float_k(y, rq->m[c], rq->b[c], k->alpha, k->s_out, k->vinv, k->flo, k->fhi,
                          k->act, k->half_up, k->use_inv);
    *q0 = _mm512_castsi512_si256(q);
    *q1 = _mm512_extracti64x4_epi64(q, 1);
#else
    __m256i a = k->shift ? rq_shift(y0, rq, rq->bsh[c])
                         : rq_float(y0, rq, rq->m[c], rq->b[c], k->inv);
    __m256i b = k->shift ? rq_shift(y1, rq, rq->bsh[c])
                         : rq_float(y1, rq, rq->m[c], rq->b[c], k->inv);
    *q0 = _mm256_min_epi32(_mm256_max_epi32(a, k->lo), k->hi);
    *q1 = _mm256_min_epi32(_mm256_max_epi32(b, k->lo), k->hi);
#endif
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

void TOUT_FN(ypr__i8_wino_tout)(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m16,
                                int m, int n, const ypr_i8rq *rq, int64_t c0, int8_t *o)
{
    if (!vec_ok(wk, rq)) {
#if !defined(YPR_WINO_ZMM)
        (void)requant16;
#endif
        ypr__i8_wino_tout_ref(kt, wk, m16, m, n, rq, c0, o);
        return;
    }
    const int mr = wk->mr;
    const int nr = wk->nr;
    const int64_t xs = (int64_t)mr * nr;   /* between the 16 matrices */
    rqk k;
    rqk_init(&k, rq);
    for (int i = 0; i < m; i++)
    for (int c = 0; c < nr; c += 16) {   /* 16 tiles */
        __m256i y[2][2][2];   /* [half][dy][dx] */
        for (int h = 0; h < 2; h++)
            tout8(m16 + i * nr + c + 8 * h, xs, y[h]);
        __m256i w[2][2];   /* [dy][half]: 16 int16, tiles in order, dx interleaved */
        for (int dy = 0; dy < 2; dy++) {
            __m256i q[2][2];   /* [half][dx] */
            for (int dx = 0; dx < 2; dx++)
                rq_pair(y[0][dy][dx], y[1][dy][dx], &k, c0 + i, &q[0][dx], &q[1][dx]);
            for (int h = 0; h < 2; h++)
                w[dy][h] = _mm256_packs_epi32(_mm256_unpacklo_epi32(q[h][0], q[h][1]),
                                              _mm256_unpackhi_epi32(q[h][0], q[h][1]));
        }
        for (int dy = 0; dy < 2; dy++) {
            __m256i b = _mm256_permute4x64_epi64(_mm256_packs_epi16(w[dy][0], w[dy][1]), 0xD8);
            _mm256_storeu_si256((__m256i *)(o + (i * 2 + dy) * 2 * nr + 2 * c), b);
        }
    }
    (void)n;
}

/* ---------------------------------------------------------- F(4×4, 3×3) */
#if !defined(YPR_WINO_ZMM)

/* Lavin's B^T on 8 int32 lanes (int8_wino_net.h). */
YPR_WINO_BT6(bt6, __m256i, _mm256_add_epi32, _mm256_sub_epi32, _mm256_slli_epi32)

/* V = B^T d B of 8 tiles of one channel (int32 lanes; |V| ≤ 100·255). */
static inline void tin8x4(const int8_t *const *r, int64_t j, __m256i z, __m256i v[36])
{
    __m256i t[6][6];   /* t[y][b] = (d B)[y][b] */
    for (int y = 0; y < 6; y++) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(r[y] + 4 * j));
        __m256i b = _mm256_loadu_si256((const __m256i *)(r[y] + 4 * j + 4));
        __m256i x[6];
        x[0] = _mm256_sub_epi32(_mm256_srai_epi32(_mm256_slli_epi32(a, 24), 24), z);
        x[1] = _mm256_sub_epi32(_mm256_srai_epi32(_mm256_slli_epi32(a, 16), 24), z);
        x[2] = _mm256_sub_epi32(_mm256_srai_epi32(_mm256_slli_epi32(a, 8), 24), z);
        x[3] = _mm256_sub_epi32(_mm256_srai_epi32(a, 24), z);
        x[4] = _mm256_sub_epi32(_mm256_srai_epi32(_mm256_slli_epi32(b, 24), 24), z);
        x[5] = _mm256_sub_epi32(_mm256_srai_epi32(_mm256_slli_epi32(b, 16), 24), z);
        bt6(x, t[y]);
    }
    for (int b = 0; b < 6; b++) {
        __m256i col[6], o[6];
        for (int y = 0; y < 6; y++)
            col[y] = t[y][b];
        bt6(col, o);
        for (int a = 0; a < 6; a++)
            v[6 * a + b] = o[a];
    }
}

void ypr__i8_wino_tin4_avx2(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                            int16_t *v, int64_t ldv)
{
    const __m256i z = _mm256_set1_epi32(zp);
    for (int64_t j = 0; j < n; j += 8) {
        __m256i v0[36], v1[36];
        tin8x4(r0, j, z, v0);   /* a tail reads past tile n − 1: inside the rows' 64 spare bytes */
        if (r1)
            tin8x4(r1, j, z, v1);
        else
            for (int x = 0; x < 36; x++)
                v1[x] = _mm256_setzero_si256();
        const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j < 8 ? n - j : 8)),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int x = 0; x < 36; x++) {   /* (channel c, c + 1) as one int32 per tile */
            __m256i pair = _mm256_blend_epi16(v0[x], _mm256_slli_epi32(v1[x], 16), 0xAA);
            if (n - j >= 8)
                _mm256_storeu_si256((__m256i *)(v + (x * ldv + j) * 2), pair);
            else   /* one int32 lane (a tile's channel pair) per tile */
                _mm256_maskstore_epi32((int *)(v + (x * ldv + j) * 2), keep, pair);
        }
    }
}

#endif   /* !YPR_WINO_ZMM */

#if !defined(YPR_WINO_ZMM)   /* int8_wino_zmm.c has its own F(4×4) output transform */

/* A'' on 8 int32 lanes (int8_wino_net.h). */
YPR_WINO_AT6(at6, __m256i, _mm256_add_epi32, _mm256_sub_epi32, _mm256_slli_epi32)

void TOUT_FN(ypr__i8_wino_tout4)(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m36,
                                 int m, int n, const ypr_i8rq *rq, int64_t c0, int8_t *o)
{
    if (!vec_ok(wk, rq)) {
        ypr__i8_wino_tout4_ref(kt, wk, m36, m, n, rq, c0, o);
        return;
    }
    const int nr = wk->nr;
    const int64_t xs = (int64_t)wk->mr * nr;   /* between the 36 matrices */
    const __m256i inv9 = _mm256_set1_epi32(0x38e38e39);   /* 9^−1 modulo 2^32 */
    rqk k;
    rqk_init(&k, rq);
    for (int i = 0; i < m; i++)
    for (int c = 0; c < nr; c += 16) {   /* 16 tiles */
        __m256i q[2][4][4];   /* [half][dy][dx]: 8 tiles of int32 */
        for (int h = 0; h < 2; h++) {
            const int32_t *mb = m36 + i * nr + c + 8 * h;
            __m256i s[6][4];
            for (int a = 0; a < 6; a++) {
                __m256i row[6];
                for (int b = 0; b < 6; b++)
                    row[b] = _mm256_loadu_si256((const __m256i *)(mb + (6 * a + b) * xs));
                at6(row, s[a]);
            }
            for (int dx = 0; dx < 4; dx++) {
                __m256i col[6], y[4];
                for (int a = 0; a < 6; a++)
                    col[a] = s[a][dx];
                at6(col, y);
                for (int dy = 0; dy < 4; dy++)
                    q[h][dy][dx] = _mm256_srai_epi32(_mm256_mullo_epi32(y[dy], inv9), 6);
            }
        }
        for (int dy = 0; dy < 4; dy++)
            for (int dx = 0; dx < 4; dx++)
                rq_pair(q[0][dy][dx], q[1][dy][dx], &k, c0 + i, &q[0][dy][dx], &q[1][dy][dx]);
        for (int dy = 0; dy < 4; dy++) {
            __m128i b[4];   /* per dx: 16 tiles' bytes in order */
            for (int dx = 0; dx < 4; dx++) {
                __m256i w16 = _mm256_permute4x64_epi64(
                    _mm256_packs_epi32(q[0][dy][dx], q[1][dy][dx]), 0xD8);
                b[dx] = _mm_packs_epi16(_mm256_castsi256_si128(w16),
                                        _mm256_extracti128_si256(w16, 1));
            }
            __m128i x01l = _mm_unpacklo_epi8(b[0], b[1]), x01h = _mm_unpackhi_epi8(b[0], b[1]);
            __m128i x23l = _mm_unpacklo_epi8(b[2], b[3]), x23h = _mm_unpackhi_epi8(b[2], b[3]);
            __m128i *d = (__m128i *)(o + (i * 4 + dy) * 4 * nr + 4 * c);
            _mm_storeu_si128(d, _mm_unpacklo_epi16(x01l, x23l));
            _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(x01l, x23l));
            _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(x01h, x23h));
            _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(x01h, x23h));
        }
    }
    (void)n;
}

#endif   /* !YPR_WINO_ZMM */
