/* ypr_bench_kernels(): the FMA peak, SGEMM and the conv layers that dominate
 * YOLOv7 at 640×640, per kernel set and thread count. Times are medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

typedef struct burn_ctx { const ypr_ktable *kt; int64_t iters; float sink[64]; double flops[64]; } burn_ctx;

static void burn_task(void *ctx, int64_t t, int worker)
{
    burn_ctx *b = ctx;
    b->flops[t] = b->kt->fma_burn(b->iters, &b->sink[t]);
}

static double peak(const ypr_ktable *kt, ypr_pool *pool, int threads, double seconds)
{
    burn_ctx b = {kt, 1 << 16, {0}, {0}};
    double best = 0;
    double t_end = ypr__now() + seconds;
    while (best == 0 || ypr__now() < t_end) {   /* at least one burst long enough to time */
        double t0 = ypr__now();
        ypr__pool_run(pool, threads, burn_task, &b);
        double dt = ypr__now() - t0;
        if (dt < 0.02) {
            b.iters *= 2;
            continue;
        }
        double f = 0;
        for (int i = 0; i < threads; i++)
            f += b.flops[i];
        if (f / dt > best)
            best = f / dt;
    }
    return best * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_case {
    const char *kernel;
    ypr_conv_shape s;           /* sgemm: n=1, c=K, h·w=N, oc=M, 1×1 */
} bench_case;

static int time_case(const ypr_ktable *kt, ypr_pool *pool, const bench_case *bc,
                     double seconds, double *ms_out, double *gflops_out)
{
    const ypr_conv_shape *s = &bc->s;
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    int64_t xn = s->n * s->c * s->h * s->w, yn = s->n * s->oc * oh * ow;
    int64_t wn = s->oc * (s->c / s->groups) * s->kh * s->kw;
    int64_t pn = ypr__conv_packed_w_floats(kt, s);
    float *x = ypr__alloc((size_t)xn * 4), *y = ypr__alloc((size_t)yn * 4);
    float *w = ypr__alloc((size_t)wn * 4), *pw = ypr__alloc((size_t)pn * 4);
    float *bias = ypr__alloc((size_t)s->oc * 4);
    int bwd = strncmp(bc->kernel, "conv bwd", 8) == 0;
    int64_t sn = bwd ? ypr__conv_bwd_scratch_floats(kt, s, ypr__pool_size(pool))
                     : ypr__pool_size(pool) * ypr__gemm_scratch_floats(kt);
    float *scratch = ypr__alloc((size_t)sn * 4);
    int rc = YPR_ENOMEM;
    if (!x || !y || !w || !pw || !bias || !scratch)
        goto out;
    ypr_rng r;
    ypr__rng_seed(&r, 42);
    for (int64_t i = 0; i < xn; i++) x[i] = ypr__rng_uniform(&r) - 0.5f;
    for (int64_t i = 0; i < wn; i++) w[i] = 0.1f * (ypr__rng_uniform(&r) - 0.5f);
    for (int64_t i = 0; i < s->oc; i++) bias[i] = 0.01f * (float)(i % 7);
    ypr__conv_pack_w(kt, s, w, pw);
    int is_gemm = strcmp(bc->kernel, "sgemm") == 0;
    ypr_epilogue ep = {NULL, bias, YPR_ACT_SILU, 0.0f};
    double times[64];
    int nt = 0;
    double t_end = ypr__now() + seconds;
    for (int64_t i = 0; bwd && i < yn; i++)   /* dY */
        y[i] = ypr__rng_uniform(&r) - 0.5f;
    rc = YPR_OK;
    for (int it = 0; it <= 64; it++) {   /* the first round warms up */
        if (nt >= 3 && ypr__now() >= t_end)
            break;
        double t0 = ypr__now();
        if (strcmp(bc->kernel, "conv bwd dX") == 0)
            rc = ypr__conv2d_bwd_data(kt, pool, s, y, w, x, 0, scratch);
        else if (strcmp(bc->kernel, "conv bwd dW") == 0)
            rc = ypr__conv2d_bwd_weight(kt, pool, s, x, y, w, bias, scratch);
        else
            rc = ypr__conv2d_ws(kt, pool, s, x, pw, is_gemm ? NULL : &ep, y, scratch);
        if (rc != YPR_OK)
            break;
        if (it > 0)
            times[nt++] = ypr__now() - t0;
    }
    if (rc == YPR_OK) {
        qsort(times, (size_t)nt, sizeof times[0], cmp_double);
        double med = times[nt / 2];
        double flops = 2.0 * (double)s->n * (double)s->oc * (double)oh * (double)ow *
                       (double)(s->c / s->groups * s->kh * s->kw);
        *ms_out = med * 1e3;
        *gflops_out = flops / med * 1e-9;
    }
out:
    ypr__free(x); ypr__free(y); ypr__free(w); ypr__free(pw); ypr__free(bias);
    ypr__free(scratch);
    return rc;
}

#define CONV(kern, c_, h_, oc_, k_, s_) \
    {kern, {1, c_, h_, h_, oc_, k_, k_, s_, s_, (k_) / 2, (k_) / 2, 1, 1, 1}}

static const bench_case cases[] = {
    {"sgemm", {1, 1024, 32, 32, 1024, 1, 1, 1, 1, 0, 0, 1, 1, 1}},
    CONV("conv 1x1", 256, 160, 128, 1, 1),
    CONV("conv 3x3", 128, 80, 128, 3, 1),
    CONV("conv 3x3 s2", 256, 80, 256, 3, 2),
    CONV("conv 1x1", 1024, 20, 512, 1, 1),
    /* the backward of the 3×3 and stride-2 cases (same flops as forward) */
    CONV("conv bwd dX", 128, 80, 128, 3, 1),
    CONV("conv bwd dW", 128, 80, 128, 3, 1),
    CONV("conv bwd dX", 256, 80, 256, 3, 2),
    CONV("conv bwd dW", 256, 80, 256, 3, 2),
    CONV("conv bwd dX", 256, 160, 128, 1, 1),
    CONV("conv bwd dW", 256, 160, 128, 1, 1),
};

static void shape_text(const bench_case *bc, char *buf, size_t n)
{
    const ypr_conv_shape *s = &bc->s;
    if (strcmp(bc->kernel, "sgemm") == 0)
        snprintf(buf, n, "M=%lld N=%lld K=%lld", (long long)s->oc,
                 (long long)(s->h * s->w), (long long)s->c);
    else
        snprintf(buf, n, "%lld->%lld @%lldx%lld", (long long)s->c, (long long)s->oc,
                 (long long)s->h, (long long)s->w);
}

static int bench_isa(const ypr_ktable *kt, int max_threads, double seconds,
                     ypr_bench_fn cb, void *user)
{
    for (int th = 1; th <= max_threads; th++) {
        ypr_pool *pool;
        TRY(ypr__pool_create(th, &pool));
        double pk = peak(kt, pool, th, seconds);
        cb(user, kt->name, th, "peak", "12 FMA chains", pk, 0.0);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            double ms = 0, gf = 0;
            char shape[64];
            int rc = time_case(kt, pool, &cases[i], seconds, &ms, &gf);
            if (rc < 0) {
                ypr__pool_free(pool);
                return rc;
            }
            shape_text(&cases[i], shape, sizeof shape);
            cb(user, kt->name, th, cases[i].kernel, shape, gf, ms);
        }
        ypr__pool_free(pool);
    }
    return YPR_OK;
}

int ypr_bench_kernels(const char *isa, int max_threads, double seconds,
                      ypr_bench_fn cb, void *user)
{
    RETURN_IF(!cb, YPR_EINVAL, "bench: NULL callback");
    RETURN_IF(max_threads < 0 || max_threads > 64, YPR_EINVAL,
              "bench: thread count %d outside [0, 64]", max_threads);
    RETURN_IF(!(seconds >= 0 && seconds <= 60), YPR_EINVAL, "bench: seconds %g outside [0, 60]", seconds);
    if (max_threads == 0)
        max_threads = ypr_get_num_threads();
    if (seconds == 0)
        seconds = 0.3;
    static const char *const all[] = {"avx512", "avx2", "neon", "scalar"};
    if (isa) {
        RETURN_IF(!ypr_simd_available(isa), YPR_EUNSUPPORTED,
                  "bench: kernel set '%s' is not available here", isa);
        return bench_isa(ypr__kt_named(isa), max_threads, seconds, cb, user);
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (ypr_simd_available(all[i]))
            TRY(bench_isa(ypr__kt_named(all[i]), max_threads, seconds, cb, user));
    return YPR_OK;
}

int ypr_bench_peak(const char *isa, int threads, double seconds, double *gflops)
{
    RETURN_IF(!gflops, YPR_EINVAL, "bench peak: NULL result pointer");
    RETURN_IF(threads < 0 || threads > 64, YPR_EINVAL,
              "bench peak: thread count %d outside [0, 64]", threads);
    RETURN_IF(!(seconds >= 0 && seconds <= 60), YPR_EINVAL,
              "bench peak: seconds %g outside [0, 60]", seconds);
    RETURN_IF(isa && !ypr_simd_available(isa), YPR_EUNSUPPORTED,
              "bench peak: kernel set '%s' is not available here", isa);
    const ypr_ktable *kt = isa ? ypr__kt_named(isa) : ypr__kt();
    ypr_pool *pool;
    TRY(ypr__pool_create(threads ? threads : ypr_get_num_threads(), &pool));
    *gflops = peak(kt, pool, ypr__pool_size(pool), seconds > 0 ? seconds : 0.3);
    ypr__pool_free(pool);
    return YPR_OK;
}
