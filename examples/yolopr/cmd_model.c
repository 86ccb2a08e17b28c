/* yolopr info / detect / bench MODEL: models through the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

typedef struct opts {
    const char *model, *weights, *save;
    const char *images[256];
    int nimages;
    int size, batch, threads, runs, fuse, peak;
    double conf, iou;
} opts;

static int parse(int argc, char **argv, opts *o, const char *usage)
{
    memset(o, 0, sizeof *o);
    o->size = 640;
    o->batch = 1;
    o->threads = 0;
    o->runs = 10;
    o->conf = 0.25;
    o->iou = 0.45;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--size") == 0 && more) o->size = atoi(argv[++i]);
        else if (strcmp(a, "--batch") == 0 && more) o->batch = atoi(argv[++i]);
        else if (strcmp(a, "--threads") == 0 && more) o->threads = atoi(argv[++i]);
        else if (strcmp(a, "--runs") == 0 && more) o->runs = atoi(argv[++i]);
        else if (strcmp(a, "--weights") == 0 && more) o->weights = argv[++i];
        else if (strcmp(a, "--save") == 0 && more) o->save = argv[++i];
        else if (strcmp(a, "--conf") == 0 && more) o->conf = atof(argv[++i]);
        else if (strcmp(a, "--iou") == 0 && more) o->iou = atof(argv[++i]);
        else if (strcmp(a, "--fuse") == 0) o->fuse = 1;
        else if (strcmp(a, "--peak") == 0) o->peak = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "unknown option '%s'\nusage: %s\n", a, usage);
            return -1;
        } else if (!o->model) o->model = a;
        else if (o->nimages < 256) o->images[o->nimages++] = a;
    }
    if (!o->model) {
        fprintf(stderr, "usage: %s\n", usage);
        return -1;
    }
    return 0;
}

static int open_model(const opts *o, ypr_model **m)
{
    int rc = ypr_model_load(o->model, m);
    if (rc < 0)
        return cli_fail(o->model, rc);
    if (o->weights && (rc = ypr_model_load_weights(*m, o->weights, 0)) < 0) {
        ypr_model_free(*m);
        return cli_fail(o->weights, rc);
    }
    if (o->threads && (rc = ypr_model_set_threads(*m, o->threads)) < 0) {
        ypr_model_free(*m);
        return cli_fail("threads", rc);
    }
    if (o->fuse && (rc = ypr_model_fuse(*m)) < 0) {
        ypr_model_free(*m);
        return cli_fail("fuse", rc);
    }
    return 0;
}

int cmd_info(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o, "yolopr info MODEL [--weights W] [--size N] [--fuse]") < 0)
        return 2;
    ypr_model *m;
    if (open_model(&o, &m))
        return 1;
    char *text;
    int rc = ypr_model_summary(m, o.size, o.size, &text);
    if (rc < 0) {
        ypr_model_free(m);
        return cli_fail("summary", rc);
    }
    int64_t all = 0;
    ypr_model_macs(m, o.size, o.size, 0, &all);
    fputs(text, stdout);
    printf("%s: %d classes, %d levels, %lld parameters, %.3f GMACs (all ops) at %dx%d\n",
           o.model, ypr_model_num_classes(m), ypr_model_num_levels(m),
           (long long)ypr_model_num_params(m), (double)all / 1e9, o.size, o.size);
    ypr_free(text);
    ypr_model_free(m);
    return 0;
}

int cmd_detect(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o, "yolopr detect MODEL IMAGE... [--weights W] [--conf C] [--iou I] "
              "[--size N] [--save OUT.png]") < 0)
        return 2;
    if (!o.nimages) {
        fprintf(stderr, "yolopr detect: no image given\n");
        return 2;
    }
    ypr_model *m;
    if (open_model(&o, &m))
        return 1;
    int rc;
    if ((rc = ypr_model_set_float(m, YPR_MODEL_CONF_THRESHOLD, o.conf)) < 0 ||
        (rc = ypr_model_set_float(m, YPR_MODEL_IOU_THRESHOLD, o.iou)) < 0 ||
        (rc = ypr_model_set_int(m, YPR_MODEL_INPUT_SIZE, o.size)) < 0) {
        ypr_model_free(m);
        return cli_fail("settings", rc);
    }
    int status = 0;
    float dets[300 * 6];
    for (int i = 0; i < o.nimages; i++) {
        uint8_t *rgb;
        int w, h, n = 0;
        if ((rc = ypr_image_load(o.images[i], &rgb, &w, &h)) < 0) {
            status = cli_fail(o.images[i], rc);
            continue;
        }
        if ((rc = ypr_model_detect(m, rgb, w, h, dets, 300, &n)) < 0) {
            status = cli_fail(o.images[i], rc);
            ypr_free(rgb);
            continue;
        }
        printf("%s: %dx%d, %d detections\n", o.images[i], w, h, n);
        for (int k = 0; k < n; k++)
            printf("  class %3d  conf %.3f  box %.1f %.1f %.1f %.1f\n", (int)dets[k * 6 + 5],
                   dets[k * 6 + 4], dets[k * 6], dets[k * 6 + 1], dets[k * 6 + 2], dets[k * 6 + 3]);
        if (o.save) {
            char path[1024];
            if (o.nimages == 1)
                snprintf(path, sizeof path, "%s", o.save);
            else
                snprintf(path, sizeof path, "%s.%d.png", o.save, i);
            ypr_image_draw_detections(rgb, w, h, dets, n, NULL, 0);
            if ((rc = ypr_image_save_png(path, rgb, w, h)) < 0)
                status = cli_fail(path, rc);
            else
                printf("  saved %s\n", path);
        }
        ypr_free(rgb);
    }
    ypr_model_free(m);
    return status;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void log_to_stderr(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    fprintf(stderr, "%s\n", msg);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench_model(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o, "yolopr bench MODEL [--size N] [--batch B] [--threads T] "
              "[--runs R] [--fuse] [--peak]") < 0)
        return 2;
    if (o.runs < 1 || o.runs > 10000 || o.batch < 1 || o.size < 32) {
        fprintf(stderr, "yolopr bench: bad --runs, --batch or --size\n");
        return 2;
    }
    ypr_model *m;
    if (open_model(&o, &m))
        return 1;
    size_t n = (size_t)o.batch * 3 * o.size * o.size;
    float *x = malloc(n * sizeof(float));
    double *t = malloc((size_t)o.runs * sizeof(double));
    if (!x || !t) {
        fprintf(stderr, "yolopr bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 251) / 251.0f;
    /* --peak: the FMA peak on as many threads, right before and right after
     * the runs (the machine may be shared), as the yardstick */
    double peak0 = 0, peak1 = 0;
    if (o.peak)
        ypr_bench_peak(NULL, o.threads, 0.25, &peak0);
    int rc = ypr_model_forward(m, x, o.batch, o.size, o.size);   /* warm-up + plan */
    for (int r = 0; rc == 0 && r < o.runs; r++) {
        double t0 = now();
        rc = ypr_model_forward(m, x, o.batch, o.size, o.size);
        t[r] = now() - t0;
    }
    if (rc < 0) {
        free(x);
        free(t);
        ypr_model_free(m);
        return cli_fail("forward", rc);
    }
    if (o.peak)
        ypr_bench_peak(NULL, o.threads, 0.25, &peak1);
    if (getenv("YPR_PROFILE")) {   /* one more pass with per-step times on stderr */
        ypr_set_log_callback(log_to_stderr, NULL, YPR_LOG_INFO);
        ypr_model_forward(m, x, o.batch, o.size, o.size);
        ypr_set_log_callback(NULL, NULL, YPR_LOG_WARN);
    }
    qsort(t, (size_t)o.runs, sizeof *t, cmp);
    int64_t macs = 0;
    ypr_model_macs(m, o.size, o.size, 1, &macs);
    double med = t[o.runs / 2];
    int64_t mem = 0;
    ypr_model_memory(m, &mem);
    printf("%s%s @%dx%d batch %d, %d threads, kernels %s: median %.2f ms (min %.2f), "
           "%.2f GMACs/image, %.1f GFLOP/s effective, %.0f MB\n", o.model, o.fuse ? " (fused)" : "",
           o.size, o.size, o.batch, o.threads ? o.threads : ypr_get_num_threads(),
           ypr_simd_active(), med * 1e3, t[0] * 1e3, (double)macs / 1e9,
           2.0 * (double)macs * o.batch / med / 1e9, (double)mem / 1e6);
    if (o.peak) {
        double pk = peak0 > peak1 ? peak0 : peak1;
        printf("FMA peak on %d threads %.1f GFLOP/s (before %.1f, after %.1f): the model runs at "
               "%.1f %% of it\n", o.threads ? o.threads : ypr_get_num_threads(), pk, peak0, peak1,
               pk > 0 ? 100.0 * 2.0 * (double)macs * o.batch / med / 1e9 / pk : 0.0);
    }
    free(x);
    free(t);
    ypr_model_free(m);
    return 0;
}
