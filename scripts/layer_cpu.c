/* The conv layers of a model timed one by one in CPU time on one thread:
 * what the kernels cost independently of the machine's load (a busy shared
 * machine stretches wall times 3-10x and unevenly, but barely moves the CPU
 * time of a single-threaded call). Built and fed by scripts/layer_cpu.sh;
 * a tool, not a test.
 *
 * stdin: one conv per line, "k s c oc oh ow path" (path: wino, gemm or rows,
 * as YPR_PROFILE prints it), padding k/2, one group, batch 1.
 * argv: reps, activation (ypr act number), leaky alpha, per-core peak GFLOP/s.
 * Per conv, the plan's path and the GEMM path (im2col / direct 1×1 / copied
 * rows, what YPR_CONV_ALGO=gemm runs) alternate call by call, after one
 * warm-up each; medians of the thread CPU times. Prints one line per conv,
 * then per class (stem, 1x1, 3x3 s1, 3x3 s2, other) the sums. */
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
    if (argc < 5) {
        fprintf(stderr, "usage: layer_cpu REPS ACT ALPHA CORE_PEAK_GFLOPS < convs\n");
        return 2;
    }
    int reps = atoi(argv[1]);
    if (reps < 1 || reps > 99)
        reps = 5;
    const int act = atoi(argv[2]);
    const float alpha = (float)atof(argv[3]);
    const double peak = atof(argv[4]);
    const ypr_ktable *kt = ypr__kt();
    ypr_pool *pool = NULL;
    if (ypr__pool_create(1, &pool) < 0)
        return 1;
    double cls_plan[NCLASS] = {0}, cls_gemm[NCLASS] = {0}, cls_flop[NCLASS] = {0};
    int cls_n[NCLASS] = {0};
    long long k, s, c, oc, oh, ow;
    char path[16];
    printf("%-6s %-22s %-5s %10s %8s %6s %10s %8s %9s\n", "class", "conv", "path", "cpu ms",
           "GFLOP/s", "%peak", "gemm ms", "GFLOP/s", "gemm/path");
    while (scanf("%lld %lld %lld %lld %lld %lld %15s", &k, &s, &c, &oc, &oh, &ow, path) == 7) {
        ypr_conv_shape sh = {1, c, oh * s, ow * s, oc, k, k, s, s, k / 2, k / 2, 1, 1, 1};
        int64_t h2, w2;
        if (ypr__conv_check(&sh, &h2, &w2) < 0 || h2 != oh || w2 != ow) {
            fprintf(stderr, "skipping %lldx%lld/s%lld %lld->%lld @%lldx%lld\n", k, k, s, c, oc,
                    oh, ow);
            continue;
        }
        const int wino = strcmp(path, "wino") == 0 && ypr__wino_eligible(&sh);
        const int64_t xn = c * sh.h * sh.w, yn = oc * oh * ow, wn = oc * c * k * k;
        const int64_t pn = ypr__conv_packed_w_floats(kt, &sh);
        const int64_t un = wino ? ypr__wino_packed_w_floats(kt, &sh) : 1;
        const int64_t wsn = wino ? ypr__wino_ws_floats(kt, &sh, 1) : 1;
        float *x = malloc((size_t)xn * 4), *y = malloc((size_t)yn * 4), *w = malloc((size_t)wn * 4);
        float *pw = malloc((size_t)pn * 4), *pu = malloc((size_t)un * 4), *ws = malloc((size_t)wsn * 4);
        float *bias = malloc((size_t)oc * 4);
        float *scratch = malloc((size_t)ypr__gemm_scratch_floats(kt) * 4);
        if (!x || !y || !w || !pw || !pu || !ws || !bias || !scratch)
            return 1;
        ypr_rng r;
        ypr__rng_seed(&r, 7);
        for (int64_t i = 0; i < xn; i++) x[i] = ypr__rng_uniform(&r) - 0.5f;
        for (int64_t i = 0; i < wn; i++) w[i] = 0.1f * (ypr__rng_uniform(&r) - 0.5f);
        for (int64_t i = 0; i < oc; i++) bias[i] = 0.01f * (float)(i % 7);
        ypr__conv_pack_w(kt, &sh, w, pw);
        if (wino)
            ypr__wino_pack_w(kt, &sh, w, pu);
        ypr_epilogue ep = {NULL, bias, act, alpha};
        double tp[100], tg[100];
        for (int it = -1; it < reps; it++) {
            for (int v = 0; v < 2; v++) {
                double t0 = cpu_now();
                int rc = v == 0 && wino
                             ? ypr__conv2d_wino(kt, pool, &sh, x, pu, &ep, y, ws, scratch)
                             : ypr__conv2d_ws(kt, pool, &sh, x, pw, &ep, y, scratch);
                double t = cpu_now() - t0;
                if (rc < 0)
                    return 1;
                if (it >= 0)
                    (v == 0 ? tp : tg)[it] = t;
            }
        }
        qsort(tp, (size_t)reps, sizeof tp[0], cmp_double);
        qsort(tg, (size_t)reps, sizeof tg[0], cmp_double);
        double mp = tp[reps / 2], mg = tg[reps / 2];
        double flop = 2.0 * (double)(oc * oh * ow) * (double)(c * k * k);
        int cl = c <= 4 ? STEM : k == 1 ? K1 : k == 3 && s == 1 ? S1 : k == 3 && s == 2 ? S2 : OTHER;
        char name[64];
        snprintf(name, sizeof name, "%lldx%lld/s%lld %lld->%lld @%lld", k, k, s, c, oc, oh);
        printf("%-6s %-22s %-5s %10.3f %8.1f %5.1f%% %10.3f %8.1f %9.3f\n", class_name[cl], name,
               wino ? "wino" : "gemm", mp * 1e3, flop / mp * 1e-9, 100 * flop / mp * 1e-9 / peak,
               mg * 1e3, flop / mg * 1e-9, mg / mp);
        cls_plan[cl] += mp;
        cls_gemm[cl] += mg;
        cls_flop[cl] += flop;
        cls_n[cl]++;
        free(x); free(y); free(w); free(pw); free(pu); free(ws); free(bias); free(scratch);
    }
    double tot_p = 0, tot_g = 0, tot_f = 0;
    printf("\n%-8s %5s %8s %10s %6s %8s %6s %10s %9s\n", "class", "convs", "GMACs", "cpu ms",
           "share", "GFLOP/s", "%peak", "gemm ms", "gemm/path");
    for (int i = 0; i < NCLASS; i++) {
        tot_p += cls_plan[i];
        tot_g += cls_gemm[i];
        tot_f += cls_flop[i];
    }
    for (int i = 0; i <= NCLASS; i++) {
        int all = i == NCLASS;
        double p = all ? tot_p : cls_plan[i], g = all ? tot_g : cls_gemm[i];
        double f = all ? tot_f : cls_flop[i];
        int n = 0;
        for (int j = 0; j < NCLASS; j++)
            n += all || j == i ? cls_n[j] : 0;
        if (!n)
            continue;
        printf("%-8s %5d %8.2f %10.2f %5.1f%% %8.1f %5.1f%% %10.2f %9.3f\n",
               all ? "all" : class_name[i], n, f / 2e9, p * 1e3, 100 * p / tot_p, f / p * 1e-9,
               100 * f / p * 1e-9 / peak, g * 1e3, g / p);
    }
    ypr__pool_free(pool);
    return 0;
}
