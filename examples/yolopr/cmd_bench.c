/* yolopr bench kernels: a table of GFLOP/s per kernel set and thread count,
 * each case also as a percentage of the FMA peak of the same set on as many
 * threads (the row "peak" printed just before it). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void row(void *user, const char *isa, int threads, const char *kernel,
                const char *shape, double gflops, double ms)
{
    double *peak = user;   /* the peak of this set and thread count: measured first */
    if (strcmp(kernel, "peak") == 0) {
        *peak = gflops;
        printf("%-7s %7d  %-12s %-22s %9s %9.1f %10s\n", isa, threads, kernel, shape, "",
               gflops, "");
    } else
        printf("%-7s %7d  %-12s %-22s %9.3f %9.1f %9.1f%%\n", isa, threads, kernel, shape, ms,
               gflops, *peak > 0 ? 100.0 * gflops / *peak : 0.0);
    fflush(stdout);
}

static const char bench_usage[] =
    "yolopr bench kernels [--isa NAME] [--threads N] [--seconds S]\n"
    "       yolopr bench MODEL [--size N] [--batch B] [--threads T] [--runs R] [--fuse] [--peak]";

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s\n", bench_usage);
        return 2;
    }
    if (strcmp(argv[1], "kernels") != 0)
        return cmd_bench_model(argc, argv);
    const char *isa = NULL;
    int threads = 2;
    double seconds = 0.3;
    const cli_opt opts[] = {
        CLI_O_STR("--isa", &isa),
        CLI_O_INT("--threads", &threads, 1, 64),
        CLI_O_REAL("--seconds", &seconds, 0, 60, CLI_OPEN_LO),
        CLI_O_END,
    };
    int rc = cli_parse("bench kernels", bench_usage, opts, argc - 1, argv + 1, NULL, 0, NULL,
                       NULL);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    double peak = 0;
    printf("%-7s %7s  %-12s %-22s %9s %9s %10s\n", "isa", "threads", "kernel", "shape",
           "ms", "GFLOP/s", "%peak");
    rc = ypr_bench_kernels(isa, threads, seconds, row, &peak);
    return rc < 0 ? cli_fail("bench kernels", rc) : 0;
}
