/* Helpers shared by the kernel tests (those that link the internal library:
 * test_kernels, test_winograd, test_conv_bwd, test_conv_s2). Include after
 * lib/kernels/kernels.h and cmocka.h. */
#ifndef YPR_TEST_KERNEL_UTIL_H
#define YPR_TEST_KERNEL_UTIL_H

/* n floats uniform in [lo, hi) from r (a buffer of at least one float). */
static inline float *rand_buf(ypr_rng *r, int64_t n, float lo, float hi)
{
    float *p = ypr__alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * ypr__rng_uniform(r);
    return p;
}

#endif
