/* The INT8 Winograd output transforms of int8_wino_avx2.c (F(2×2) and
 * F(4×4)) built with the AVX-512 flags for the avx512vnni set: the same
 * transforms on ymm halves, the requantization epilogue on one zmm per 16
 * tiles (int8_requant_avx512.h) — SiLU's exp and divisions on 16 lanes.
 * Bit-identical to ypr__i8_wino_tout_ref / _tout4_ref. Below them, the
 * F(4×4) input transform on 32 tiles per zmm (bit-identical to
 * ypr__i8_wino_tin4_ref); 32→32 @160 took 0.95 of its time with it. */
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

/* Lavin's B^T applied to x[0..5] (int16 lanes, wrapping): t = B^T x. */
static inline void bt6w(const __m512i x[6], __m512i t[6])
{
    __m512i u = _mm512_sub_epi16(x[4], x[2]);
    __m512i d31 = _mm512_slli_epi16(_mm512_sub_epi16(x[3], x[1]), 1);
    t[0] = _mm512_add_epi16(_mm512_slli_epi16(_mm512_sub_epi16(x[0], x[2]), 2), u);
    t[1] = _mm512_sub_epi16(_mm512_add_epi16(x[3], x[4]),
                            _mm512_slli_epi16(_mm512_add_epi16(x[1], x[2]), 2));
    t[2] = _mm512_add_epi16(_mm512_sub_epi16(x[4], x[3]),
                            _mm512_slli_epi16(_mm512_sub_epi16(x[1], x[2]), 2));
    t[3] = _mm512_add_epi16(u, d31);
    t[4] = _mm512_sub_epi16(u, d31);
    t[5] = _mm512_add_epi16(_mm512_slli_epi16(_mm512_sub_epi16(x[1], x[3]), 2),
                            _mm512_sub_epi16(x[5], x[3]));
}

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

void ypr__i8_wino_tin4_avx512(const int8_t *const *r0, const int8_t *const *r1, int64_t n,
                              int zp, int16_t *v, int64_t ldv)
{
    /* word p = 8k + w: tile 4k + w (w < 4) of a, else tile 16 + 4k + w − 4 of b;
     * a tile's low word is word 2·tile of its register (+32 for b) */
    int16_t li[32];
    for (int p = 0; p < 32; p++) {
        int k = p / 8, w = p % 8;
        li[p] = (int16_t)(w < 4 ? 2 * (4 * k + w) : 32 + 2 * (4 * k + w - 4));
    }
    const __m512i lo_idx = _mm512_loadu_si512(li);
    const __m512i hi_idx = _mm512_add_epi16(lo_idx, _mm512_set1_epi16(1));
    const __m512i z = _mm512_set1_epi16((int16_t)zp);
    for (int64_t j = 0; j < n; j += 32) {
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
