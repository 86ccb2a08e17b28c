/* yolopr bench kernels: a table of GFLOP/s per kernel set and thread count,
 * each case also as a percentage of the same set's single-thread FMA peak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct table {
    char isa[16];
    double peak1;      /* single-thread peak of the current ISA */
} table;

static void row(void *user, const char *isa, int threads, const char *kernel,
                const char *shape, double gflops, double ms)
{
    table *t = user;
    if (strcmp(t->isa, isa) != 0) {
        snprintf(t->isa, sizeof t->isa, "%s", isa);
        t->peak1 = 0;
    }
    if (strcmp(kernel, "peak") == 0 && threads == 1)
        t->peak1 = gflops;
    if (strcmp(kernel, "peak") == 0)
        printf("%-7s %7d  %-12s %-22s %9s %9.1f %10s\n", isa, threads, kernel, shape, "",
               gflops, "");
    else
        printf("%-7s %7d  %-12s %-22s %9.3f %9.1f %9.1f%%\n", isa, threads, kernel, shape, ms,
               gflops, t->peak1 > 0 ? 100.0 * gflops / t->peak1 : 0.0);
    fflush(stdout);
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: yolopr bench kernels [--isa NAME] [--threads N] [--seconds S]\n"
                        "       yolopr bench MODEL [--size N] [--batch B] [--threads T] [--runs R]\n");
        return 2;
    }
    if (strcmp(argv[1], "kernels") != 0)
        return cmd_bench_model(argc, argv);
    const char *isa = NULL;
    int threads = 2;
    double seconds = 0.3;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc)
            isa = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "yolopr bench kernels: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    table t = {"", 0};
    printf("%-7s %7s  %-12s %-22s %9s %9s %10s\n", "isa", "threads", "kernel", "shape",
           "ms", "GFLOP/s", "%peak(1t)");
    int rc = ypr_bench_kernels(isa, threads, seconds, row, &t);
    return rc < 0 ? cli_fail("bench kernels", rc) : 0;
}
