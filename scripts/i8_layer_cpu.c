/* The conv layers of a model timed one by one in CPU time on one thread, in
 * INT8 and in float: the INT8 direct conv (ypr__i8_conv2d), the INT8
 * Winograd F(2×2, 3×3) (ypr__i8_wino_conv2d, 3×3 stride-1 convs) and the
 * float plan's path (Winograd F(4×4, 3×3) or GEMM, as YPR_PROFILE printed
 * it), alternated call by call after one warm-up each; medians of the
 * thread CPU times. Built and fed by scripts/i8_layer_cpu.sh; a tool, not a
 * test (docs/quant.md, "Speed").
 *
 * stdin: one conv per line, "k s c oc oh ow path", padding k/2, batch 1.
 * argv: reps. Prints one line per conv, then per class the sums. Environment:
 * I8_SILU=1 runs SiLU layers (INT8: the float epilogue mode) instead of leaky ones. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/kernels/kernels.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { STEM, K1, S1, S2, OTHER, NCLASS };
static const char *const class_name[NCLASS] = {"stem", "1x1", "3x3 s1", "3x3 s2", "other"};

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    reps = reps < 1 || reps > 99 ? 5 : reps;
    const ypr_ktable *kt = ypr__kt();
    const ypr_i8kt *ik = ypr__i8kt();
    ypr_pool *pool = NULL;
    if (ypr__pool_create(1, &pool) < 0)
        return 1;
    double cf[NCLASS] = {0}, cd[NCLASS] = {0}, cb[NCLASS] = {0};
    int cn[NCLASS] = {0};
    long long k, s, c, oc, oh, ow;
    char path[16];
    printf("# int8 set %s, float set %s; i8wino: the plan's rule (>= 8 channels; F(4x4) from 32 "
           "where exact, else F(2x2)); plan: what the INT8 plan runs\n", ik->name, kt->name);
    printf("%-6s %-22s %-5s %9s %9s %9s %8s %8s %8s\n", "class", "conv", "fpath", "float ms",
           "i8dir ms", "i8wino ms", "dir/wino", "f/dir", "f/plan");
    while (scanf("%lld %lld %lld %lld %lld %lld %15s", &k, &s, &c, &oc, &oh, &ow, path) == 7) {
        ypr_conv_shape sh = {1, c, oh * s, ow * s, oc, k, k, s, s, k / 2, k / 2, 1, 1, 1};
        int64_t h2, w2;
        if (ypr__conv_check(&sh, &h2, &w2) < 0 || h2 != oh || w2 != ow)
            continue;
        const int fw = strcmp(path, "wino") == 0 && ypr__wino_eligible(&sh);
        const int iw = ypr__i8_wino_eligible(&sh) && c >= 8;   /* the plan's rule (exec_i8.c) */
        const int64_t xn = c * sh.h * sh.w, yn = oc * oh * ow, wn = oc * c * k * k;
        float *x = malloc((size_t)xn * 4), *y = malloc((size_t)yn * 4), *w = malloc((size_t)wn * 4);
        float *pw = malloc((size_t)ypr__conv_packed_w_floats(kt, &sh) * 4);
        float *pu = malloc((size_t)(fw ? ypr__wino_packed_w_floats(kt, &sh) : 1) * 4);
        float *ws = malloc((size_t)(fw ? ypr__wino_ws_floats(kt, &sh, 1) : 1) * 4);
        float *bias = malloc((size_t)oc * 4), *scratch = malloc((size_t)ypr__gemm_scratch_floats(kt) * 4);
        int8_t *xq = malloc((size_t)xn), *wq = malloc((size_t)wn), *yq = malloc((size_t)yn);
        void *pd = ypr__alloc((size_t)ypr__i8_conv_packed_bytes(ik, &sh));
        int32_t *bsh = calloc((size_t)oc, sizeof(int32_t));
        ypr_rng r;
        ypr__rng_seed(&r, 7);
        for (int64_t i = 0; i < xn; i++) {
            x[i] = ypr__rng_uniform(&r) - 0.5f;
            xq[i] = (int8_t)(x[i] * 254);
        }
        for (int64_t i = 0; i < wn; i++) {
            w[i] = 0.1f * (ypr__rng_uniform(&r) - 0.5f);
            wq[i] = (int8_t)(w[i] * 400);
        }
        for (int64_t i = 0; i < oc; i++)
            bias[i] = 0.01f * (float)(i % 7);
        /* F(4×4) from 32 channels where the weights allow it (I8_WINO_TILE=2: F(2×2)) */
        const char *te = getenv("I8_WINO_TILE");
        const int wt = iw && !(te && te[0] == '2') && c >= 32 &&
                               ypr__i8_wino_exact(&sh, wq, 128, 4) ? 4 : 2;
        void *pwq = iw ? ypr__alloc((size_t)ypr__i8_wino_packed_bytes(ik, &sh, wt)) : NULL;
        ypr__conv_pack_w(kt, &sh, w, pw);
        if (fw)
            ypr__wino_pack_w(kt, &sh, w, pu);
        ypr__i8_conv_pack_w(ik, &sh, wq, pd);
        if (iw)
            ypr__i8_wino_pack_w(ik, &sh, wq, wt, pwq);
        ypr_epilogue ep = {NULL, bias, YPR_ACT_LEAKY, 0.1f};
        ypr_i8rq rq = {YPR_I8RQ_SHIFT, YPR_ACT_LEAKY, 26.0f / 256, -127, 127, bsh, 8, 26,
                       (int32_t)((128LL << 16) / 26 + 1), NULL, NULL, 0, YPR_I8R_HALF_UP};
        /* I8_SILU=1: SiLU both sides, INT8 in the float epilogue mode (the dpu scheme's
         * SiLU layers: a power-of-two output step), as yolov7's convs */
        const char *se = getenv("I8_SILU");
        float *rm = malloc((size_t)oc * 4), *rb = malloc((size_t)oc * 4);
        for (int64_t i = 0; i < oc; i++) {
            rm[i] = 1.0f / 4096;
            rb[i] = 0.01f * (float)(i % 7);
        }
        if (se && se[0] == '1') {
            ep.act = YPR_ACT_SILU;
            rq = (ypr_i8rq){YPR_I8RQ_FLOAT, YPR_ACT_SILU, 0, -128, 127, NULL, 0, 0, 0, rm, rb,
                            1.0f / 32, YPR_I8R_HALF_UP};
        }
        double tf[100], td[100], tw[100];
        for (int it = -1; it < reps; it++)
            for (int v = 0; v < 3; v++) {
                if (v == 2 && !iw)
                    continue;
                double t0 = cpu_now();
                int rc = v == 0 ? (fw ? ypr__conv2d_wino(kt, pool, &sh, x, pu, &ep, y, ws, scratch)
                                      : ypr__conv2d_ws(kt, pool, &sh, x, pw, &ep, y, scratch))
                         : v == 1 ? ypr__i8_conv2d(ik, pool, &sh, xq, pd, &rq, yq, NULL)
                                  : ypr__i8_wino_conv2d(ik, pool, &sh, xq, 0, wt, pwq, &rq, yq, NULL);
                double t = cpu_now() - t0;
                if (rc < 0)
                    return 1;
                if (it >= 0)
                    (v == 0 ? tf : v == 1 ? td : tw)[it] = t;
            }
        qsort(tf, (size_t)reps, sizeof tf[0], cmp_double);
        qsort(td, (size_t)reps, sizeof td[0], cmp_double);
        double mf = tf[reps / 2], md = td[reps / 2], mw = md;
        if (iw) {
            qsort(tw, (size_t)reps, sizeof tw[0], cmp_double);
            mw = tw[reps / 2];
        }
        double best = iw ? mw : md;   /* what the INT8 plan runs */
        int cl = c <= 4 ? STEM : k == 1 ? K1 : k == 3 && s == 1 ? S1 : k == 3 && s == 2 ? S2 : OTHER;
        char name[64];
        snprintf(name, sizeof name, "%lldx%lld/s%lld %lld->%lld @%lld", k, k, s, c, oc, oh);
        printf("%-6s %-22s %-5s %9.3f %9.3f %9.3f %8.3f %8.3f %8.3f\n", class_name[cl], name,
               fw ? "wino" : "gemm", mf * 1e3, md * 1e3, iw ? mw * 1e3 : 0.0, md / mw, mf / md,
               mf / best);
        cf[cl] += mf;
        cd[cl] += md;
        cb[cl] += best;
        cn[cl]++;
        free(x); free(y); free(w); free(pw); free(pu); free(ws); free(bias); free(scratch);
        free(xq); free(wq); free(yq); free(bsh); free(rm); free(rb);
        ypr__free(pd);
        ypr__free(pwq);
    }
    printf("\n%-8s %5s %10s %10s %10s %8s %8s\n", "class", "convs", "float ms", "i8dir ms",
           "i8plan ms", "f/dir", "f/plan");
    double tf = 0, td = 0, tb = 0;
    for (int i = 0; i <= NCLASS; i++) {
        int all = i == NCLASS;
        double f = all ? tf : cf[i], d = all ? td : cd[i], b = all ? tb : cb[i];
        int n = all ? 0 : cn[i];
        for (int j = 0; all && j < NCLASS; j++)
            n += cn[j];
        if (!all) {
            tf += f;
            td += d;
            tb += b;
        }
        if (n)
            printf("%-8s %5d %10.2f %10.2f %10.2f %8.3f %8.3f\n", all ? "all" : class_name[i], n,
                   f * 1e3, d * 1e3, b * 1e3, f / d, f / b);
    }
    ypr__pool_free(pool);
    return 0;
}
