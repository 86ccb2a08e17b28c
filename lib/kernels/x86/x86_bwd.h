/* The convolution-backward helper of the x86 sets (ypr_ktable.add_strided),
 * in ymm code: included by kernels_avx2.c and
 * kernels_avx512.c (both built with AVX2), nothing here is compiled on its
 * own. Every function is static in the including file.
 *
 * The including file defines AI (static inline always_inline) first. */
#include <immintrin.h>
#include <stdint.h>

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
