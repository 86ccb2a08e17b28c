/* The convolution-backward helpers of the x86 sets (ypr_ktable.pack_t and
 * .add_strided), in ymm code: included by kernels_avx2.c and
 * kernels_avx512.c (both built with AVX2), nothing here is compiled on its
 * own. Every function is static in the including file.
 *
 * The including file defines AI (static inline always_inline) first. */
#include <immintrin.h>
#include <stdint.h>

/* In-register transpose of an 8×8 block: v[i] lane j becomes v[j] lane i. */
AI void bwd_tr8x8(__m256 v[8])
{
    __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
    __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    v[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    v[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    v[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    v[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* dst[p·width + r] = src[r·lds + p] (r < rows), 0 for rows ≤ r < width:
 * 8 columns at a time, rows by 8×8 and 4×8 register transposes. */
static void pack_t_x86(const float *src, int64_t lds, int rows, int64_t cols, int width,
                       float *dst)
{
    int64_t p = 0;
    for (; p + 8 <= cols; p += 8) {
        float *d = dst + p * width;
        const float *s = src + p;
        int r = 0;
        for (; r + 8 <= rows; r += 8) {
            __m256 v[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                v[i] = _mm256_loadu_ps(s + (r + i) * lds);
            bwd_tr8x8(v);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(d + i * width + r, v[i]);
        }
        for (; r + 4 <= rows; r += 4) {
            __m256 a0 = _mm256_loadu_ps(s + r * lds), a1 = _mm256_loadu_ps(s + (r + 1) * lds);
            __m256 a2 = _mm256_loadu_ps(s + (r + 2) * lds), a3 = _mm256_loadu_ps(s + (r + 3) * lds);
            __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
            __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
            __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                           _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                _mm_storeu_ps(d + c * width + r, _mm256_castps256_ps128(u[c]));
                _mm_storeu_ps(d + (c + 4) * width + r, _mm256_extractf128_ps(u[c], 1));
            }
        }
        for (; r < rows; r++)
            for (int c = 0; c < 8; c++)
                d[c * width + r] = s[r * lds + c];
        for (; r < width; r++)
            for (int c = 0; c < 8; c++)
                d[c * width + r] = 0.0f;
    }
    for (; p < cols; p++) {
        float *d = dst + p * width;
        for (int r = 0; r < rows; r++)
            d[r] = src[r * lds + p];
        for (int r = rows; r < width; r++)
            d[r] = 0.0f;
    }
}

/* d[t·sd] += s[t]. Stride 2 adds into the even lanes of two vectors and
 * keeps the odd lanes' bits (blend), touching only floats strictly inside
 * the span it updates. */
static void add_strided_x86(float *d, int64_t sd, const float *s, int64_t n)
{
    int64_t t = 0;
    if (sd == 1) {
        for (; t + 8 <= n; t += 8)
            _mm256_storeu_ps(d + t, _mm256_add_ps(_mm256_loadu_ps(d + t), _mm256_loadu_ps(s + t)));
        for (; t < n; t++)
            d[t] += s[t];
        return;
    }
    if (sd == 2) {
        const __m256 z = _mm256_setzero_ps();
        for (; t + 8 < n; t += 8) {
            __m256 v = _mm256_loadu_ps(s + t);
            __m256 lo = _mm256_unpacklo_ps(v, z), hi = _mm256_unpackhi_ps(v, z);
            __m256 a = _mm256_permute2f128_ps(lo, hi, 0x20);
            __m256 b = _mm256_permute2f128_ps(lo, hi, 0x31);
            float *q = d + 2 * t;
            __m256 d0 = _mm256_loadu_ps(q), d1 = _mm256_loadu_ps(q + 8);
            _mm256_storeu_ps(q, _mm256_blend_ps(_mm256_add_ps(d0, a), d0, 0xAA));
            _mm256_storeu_ps(q + 8, _mm256_blend_ps(_mm256_add_ps(d1, b), d1, 0xAA));
        }
    }
    for (; t < n; t++)
        d[t * sd] += s[t];
}
