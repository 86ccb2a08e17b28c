/* The avx512vnni set's INT8 Winograd transforms (kernels.h, "INT8
 * Winograd"). int8_wino_avx2.c's F(2×2) output transform rebuilt with the
 * AVX-512 flags (the transform on ymm halves, the requantization epilogue
 * on one zmm per 16 tiles, int8_requant_avx512.h: SiLU's exp and divisions
 * on 16 lanes); below it, the F(4×4) input transform on 32 tiles per zmm of
 * int16 lanes (32→32 @160² took 0.95 of its time with it) and the F(4×4)
 * output transform on 16 tiles per zmm (yolov7-tiny dpu @640: 0.98).
 * Bit-identical to ypr__i8_wino_tout_ref, _tin4_ref and _tout4_ref. */
#define YPR_WINO_ZMM 1
#include "int8_wino_avx2.c"

/* ---- the F(4×4) input transform, 32 tiles per zmm of int16 lanes.
 *
 * |V| ≤ 100·255 fits int16, and every step (x − zp, the additions,
 * subtractions and shifts of B^T) is a ring operation: computed modulo 2^16
 * it gives V exactly. Row y of 32 tiles comes from four loads (tile j's
 * bytes 4j … 4j + 5: its dword and the next one) and three vpermt2w that
 * pick the dwords' low or high words; the words are placed so that lane
 * k (128 bits) holds tiles 4k … 4k + 3 in words 0 … 3 and tiles
 * 16 + 4k … 16 + 4k + 3 in words 4 … 7: vpunpcklwd / vpunpckhwd of two
 * channels then give the channel pairs of tiles 0 … 15 and 16 … 31 in
 * order. Loads and stores are masked at the segment's end: nothing past
 * the last tile's bytes is read or written. */

/* Lavin's B^T on 32 int16 lanes (int8_wino_net.h). */
YPR_WINO_BT6(bt6w, __m512i, _mm512_add_epi16, _mm512_sub_epi16, _mm512_slli_epi16)

/* The bytes [0, valid) of the 64 at p (0 past them; nothing else read). */
static inline __m512i load_upto(const int8_t *p, int64_t valid)
{
    if (valid >= 64)
        return _mm512_loadu_si512(p);
    if (valid <= 0)
        return _mm512_setzero_si512();
    return _mm512_maskz_loadu_epi8((__mmask64)((1ull << valid) - 1), p);
}

/* V of 32 tiles of one channel from tile j on (int16 lanes, the split
 * order above); tiles past n read as zeros. */
static inline void tin32x4(const int8_t *const *r, int64_t j, int64_t n, __m512i z,
                           __m512i lo_idx, __m512i hi_idx, __m512i v[36])
{
    const int64_t valid = 4 * (n - j) + 2;   /* bytes of tiles j … n − 1 */
    __m512i t[6][6];
    for (int y = 0; y < 6; y++) {
        const int8_t *p = r[y] + 4 * j;
        __m512i a = load_upto(p, valid), b = load_upto(p + 64, valid - 64);
        __m512i a4 = load_upto(p + 4, valid - 4), b4 = load_upto(p + 68, valid - 68);
        __m512i w01 = _mm512_permutex2var_epi16(a, lo_idx, b);    /* bytes 0, 1 */
        __m512i w23 = _mm512_permutex2var_epi16(a, hi_idx, b);    /* bytes 2, 3 */
        __m512i w45 = _mm512_permutex2var_epi16(a4, lo_idx, b4);  /* bytes 4, 5 */
        __m512i x[6];
        x[0] = _mm512_sub_epi16(_mm512_srai_epi16(_mm512_slli_epi16(w01, 8), 8), z);
        x[1] = _mm512_sub_epi16(_mm512_srai_epi16(w01, 8), z);
        x[2] = _mm512_sub_epi16(_mm512_srai_epi16(_mm512_slli_epi16(w23, 8), 8), z);
        x[3] = _mm512_sub_epi16(_mm512_srai_epi16(w23, 8), z);
        x[4] = _mm512_sub_epi16(_mm512_srai_epi16(_mm512_slli_epi16(w45, 8), 8), z);
        x[5] = _mm512_sub_epi16(_mm512_srai_epi16(w45, 8), z);
        bt6w(x, t[y]);
    }
    for (int b = 0; b < 6; b++) {
        __m512i col[6], o[6];
        for (int y = 0; y < 6; y++)
            col[y] = t[y][b];
        bt6w(col, o);
        for (int a = 0; a < 6; a++)
            v[6 * a + b] = o[a];
    }
}

/* The same for at most 16 tiles on ymm (segments of 5–16 tiles: 20²–64²
 * maps' tile rows): B^T on 16 int16 lanes, tiles j … j + 15 from two
 * masked 32-byte loads per row and their +4 copies. The words are placed
 * as above with 128-bit lanes: lane k holds tiles 4k … 4k + 3 in words
 * 0 … 3 and tiles 8 + 4k … 8 + 4k + 3 in words 4 … 7. */
YPR_WINO_BT6(bt6y, __m256i, _mm256_add_epi16, _mm256_sub_epi16, _mm256_slli_epi16)

static inline __m256i load_upto32(const int8_t *p, int64_t valid)
{
    if (valid >= 32)
        return _mm256_loadu_si256((const __m256i *)p);
    if (valid <= 0)
        return _mm256_setzero_si256();
    return _mm256_maskz_loadu_epi8((__mmask32)((1u << valid) - 1), p);
}

/* int16 sign extension of a word's low (sh 8) or high byte (sh 0), minus z */
#define SX_LO(v, z) _mm256_sub_epi16(_mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), z)
#define SX_HI(v, z) _mm256_sub_epi16(_mm256_srai_epi16(v, 8), z)

static inline void tin16x4(const int8_t *const *r, int64_t j, int64_t n, __m256i z,
                           __m256i lo_idx, __m256i hi_idx, __m256i v[36])
{
    const int64_t valid = 4 * (n - j) + 2;
    __m256i t[6][6];
    for (int y = 0; y < 6; y++) {
        const int8_t *p = r[y] + 4 * j;
        __m256i a = load_upto32(p, valid), b = load_upto32(p + 32, valid - 32);
        __m256i a4 = load_upto32(p + 4, valid - 4), b4 = load_upto32(p + 36, valid - 36);
        __m256i w01 = _mm256_permutex2var_epi16(a, lo_idx, b);
        __m256i w23 = _mm256_permutex2var_epi16(a, hi_idx, b);
        __m256i w45 = _mm256_permutex2var_epi16(a4, lo_idx, b4);
        const __m256i x[6] = {SX_LO(w01, z), SX_HI(w01, z), SX_LO(w23, z),
                              SX_HI(w23, z), SX_LO(w45, z), SX_HI(w45, z)};
        bt6y(x, t[y]);
    }
    for (int b = 0; b < 6; b++) {
        __m256i col[6], o[6];
        for (int y = 0; y < 6; y++)
            col[y] = t[y][b];
        bt6y(col, o);
        for (int a = 0; a < 6; a++)
            v[6 * a + b] = o[a];
    }
}

#undef SX_LO
#undef SX_HI

/* Tiles j … n − 1 (at most 16) of the channel pair, stored as in the zmm loop. */
static void tin4_short(const int8_t *const *r0, const int8_t *const *r1, int64_t j, int64_t n,
                       int zp, int16_t *v, int64_t ldv)
{
    static const int16_t li[16] __attribute__((aligned(32))) = {0,  2,  4,  6,  16, 18, 20, 22,
                                                                8, 10, 12, 14, 24, 26, 28, 30};
    const __m256i lo_idx = _mm256_load_si256((const __m256i *)li);
    const __m256i hi_idx = _mm256_add_epi16(lo_idx, _mm256_set1_epi16(1));
    const __m256i z = _mm256_set1_epi16((int16_t)zp);
    __m256i v0[36], v1[36];
    tin16x4(r0, j, n, z, lo_idx, hi_idx, v0);
    if (r1)
        tin16x4(r1, j, n, z, lo_idx, hi_idx, v1);
    else
        for (int x = 0; x < 36; x++)
            v1[x] = _mm256_setzero_si256();
    const int64_t left = n - j;
    const __mmask8 m0 = left >= 8 ? (__mmask8)0xff : (__mmask8)((1u << left) - 1);
    const __mmask8 m1 = left >= 16 ? (__mmask8)0xff
                        : left <= 8 ? 0 : (__mmask8)((1u << (left - 8)) - 1);
    for (int x = 0; x < 36; x++) {
        int16_t *d = v + (x * ldv + j) * 2;
        __m256i p0 = _mm256_unpacklo_epi16(v0[x], v1[x]);   /* tiles j … j + 7 */
        __m256i p1 = _mm256_unpackhi_epi16(v0[x], v1[x]);   /* tiles j + 8 … */
        _mm256_mask_storeu_epi32(d, m0, p0);
        if (m1)
            _mm256_mask_storeu_epi32(d + 16, m1, p1);
    }
}

void ypr__i8_wino_tin4_avx512(const int8_t *const *r0, const int8_t *const *r1, int64_t n,
                              int zp, int16_t *v, int64_t ldv)
{
    /* word p = 8k + w: tile 4k + w (w < 4) of a, else tile 16 + 4k + w − 4 of b;
     * a tile's low word is word 2·tile of its register (+32 for b) */
    static const int16_t li[32] __attribute__((aligned(64))) = {
        0,  2,  4,  6,  32, 34, 36, 38, 8,  10, 12, 14, 40, 42, 44, 46,
        16, 18, 20, 22, 48, 50, 52, 54, 24, 26, 28, 30, 56, 58, 60, 62};
    const __m512i lo_idx = _mm512_load_si512(li);
    const __m512i hi_idx = _mm512_add_epi16(lo_idx, _mm512_set1_epi16(1));
    const __m512i z = _mm512_set1_epi16((int16_t)zp);
    for (int64_t j = 0; j < n; j += 32) {
        if (n - j <= 16) {   /* a short segment or tail: half the work on ymm */
            tin4_short(r0, r1, j, n, zp, v, ldv);
            return;
        }
        __m512i v0[36], v1[36];
        tin32x4(r0, j, n, z, lo_idx, hi_idx, v0);
        if (r1)
            tin32x4(r1, j, n, z, lo_idx, hi_idx, v1);
        else
            for (int x = 0; x < 36; x++)
                v1[x] = _mm512_setzero_si512();
        const int64_t left = n - j;
        const __mmask16 m0 = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        const __mmask16 m1 = left >= 32 ? (__mmask16)0xffff
                             : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
        for (int x = 0; x < 36; x++) {   /* (channel c, c + 1) as one int32 per tile */
            int16_t *d = v + (x * ldv + j) * 2;
            __m512i p0 = _mm512_unpacklo_epi16(v0[x], v1[x]);   /* tiles j … j + 15 */
            __m512i p1 = _mm512_unpackhi_epi16(v0[x], v1[x]);   /* tiles j + 16 … */
            if (left >= 32) {
                _mm512_storeu_si512(d, p0);
                _mm512_storeu_si512(d + 32, p1);
            } else {
                _mm512_mask_storeu_epi32(d, m0, p0);
                if (m1)
                    _mm512_mask_storeu_epi32(d + 32, m1, p1);
            }
        }
    }
}

/* ---- the F(4×4) output transform, 16 tiles per zmm (wrapping int32).
 * The same operations as int8_wino_avx2.c's on ymm halves, so the same
 * values: A'' on rows, then on columns, the exact division by 576 as a
 * multiply by 9^−1 modulo 2^32 and an arithmetic shift by 6, the epilogue
 * of int8_requant_avx512.h, bytes interleaved by dx. */

/* A'' on 16 int32 lanes (int8_wino_net.h). */
YPR_WINO_AT6(at6z, __m512i, _mm512_add_epi32, _mm512_sub_epi32, _mm512_slli_epi32)

void ypr__i8_wino_tout4_avx512(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m36,
                               int m, int n, const ypr_i8rq *rq, int64_t c0, int8_t *o)
{
    if (!vec_ok(wk, rq)) {
        ypr__i8_wino_tout4_ref(kt, wk, m36, m, n, rq, c0, o);
        return;
    }
    const int nr = wk->nr;
    const int64_t xs = (int64_t)wk->mr * nr;   /* between the 36 matrices */
    const __m512i inv9 = _mm512_set1_epi32(0x38e38e39);   /* 9^−1 modulo 2^32 */
    rqk k;
    rqk_init(&k, rq);
    for (int i = 0; i < m; i++) {
        const int64_t c = c0 + i;
        const __m512i bsh = _mm512_set1_epi32(k.shift ? rq->bsh[c] : 0);
        const float mc = k.shift ? 0.0f : rq->m[c], bc = k.shift ? 0.0f : rq->b[c];
        for (int t = 0; t < n; t += 16) {   /* 16 tiles (the valid ones: n ≤ nr) */
            const int32_t *mb = m36 + i * nr + t;
            __m512i s[6][4];
            for (int a = 0; a < 6; a++) {
                __m512i row[6];
                for (int b = 0; b < 6; b++)
                    row[b] = _mm512_loadu_si512(mb + (6 * a + b) * xs);
                at6z(row, s[a]);
            }
            __m128i bytes[4][4];   /* [dy][dx]: 16 tiles' int8 */
            for (int dx = 0; dx < 4; dx++) {
                __m512i col[6], y[4];
                for (int a = 0; a < 6; a++)
                    col[a] = s[a][dx];
                at6z(col, y);
                for (int dy = 0; dy < 4; dy++) {
                    __m512i v = _mm512_srai_epi32(_mm512_mullo_epi32(y[dy], inv9), 6);
                    v = k.shift ? rq512_shift_c(v, &k.sk, bsh, k.sk.act)
                                : rq512_float_k(v, mc, bc, k.alpha, k.s_out, k.vinv, k.flo,
                                                k.fhi, k.act, k.half_up, k.use_inv);
                    bytes[dy][dx] = _mm512_cvtepi32_epi8(v);   /* in [qmin, qmax] */
                }
            }
            for (int dy = 0; dy < 4; dy++) {
                const __m128i *b = bytes[dy];
                __m128i x01l = _mm_unpacklo_epi8(b[0], b[1]), x01h = _mm_unpackhi_epi8(b[0], b[1]);
                __m128i x23l = _mm_unpacklo_epi8(b[2], b[3]), x23h = _mm_unpackhi_epi8(b[2], b[3]);
                __m128i *d = (__m128i *)(o + (i * 4 + dy) * 4 * nr + 4 * t);
                _mm_storeu_si128(d, _mm_unpacklo_epi16(x01l, x23l));
                _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(x01l, x23l));
                _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(x01h, x23h));
                _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(x01h, x23h));
            }
        }
    }
}
