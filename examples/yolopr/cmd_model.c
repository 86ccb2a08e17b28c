/* yolopr info / detect / bench MODEL: models through the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

typedef struct opts {
    const char *model, *weights, *save;
    const char **images;   /* argv's, after the model */
    int nimages;
    int size, batch, threads, runs, fuse, peak;
    double conf, iou;
} opts;

enum { INFO = 1, DETECT = 2, BENCH = 4 };

/* The options of info, detect and bench MODEL (@p which); o->images must be
 * released with free(). Returns 0, CLI_HELP or CLI_USAGE (printed). */
static int parse(int argc, char **argv, opts *o, const char *cmd, int which, const char *usage)
{
    memset(o, 0, sizeof *o);
    o->size = 640;
    o->batch = 1;
    o->runs = 10;
    o->conf = 0.25;
    o->iou = 0.45;
    const struct { int cmds; cli_opt opt; } all[] = {
        {INFO | DETECT | BENCH, CLI_O_STR("--weights", &o->weights)},
        {INFO | DETECT | BENCH, CLI_O_SIZE("--size", &o->size)},
        {INFO | DETECT | BENCH, CLI_O_FLAG("--fuse", &o->fuse)},
        {DETECT | BENCH, CLI_O_INT("--threads", &o->threads, 1, 1024)},
        {DETECT, CLI_O_STR("--save", &o->save)},
        {DETECT, CLI_O_REAL("--conf", &o->conf, 0, 1, 0)},
        {DETECT, CLI_O_REAL("--iou", &o->iou, 0, 1, 0)},
        {BENCH, CLI_O_INT("--batch", &o->batch, 1, 256)},
        {BENCH, CLI_O_INT("--runs", &o->runs, 1, 10000)},
        {BENCH, CLI_O_FLAG("--peak", &o->peak)},
    };
    cli_opt table[sizeof all / sizeof all[0] + 1];
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i].cmds & which)
            table[n++] = all[i].opt;
    table[n] = (cli_opt)CLI_O_END;
    const char **pos = malloc((size_t)argc * sizeof *pos);
    if (!pos) {
        fprintf(stderr, "yolopr %s: out of memory\n", cmd);
        return CLI_USAGE;
    }
    int npos = 0;
    int rc = cli_parse(cmd, usage, table, argc, argv, pos, which == DETECT ? argc : 1, &npos,
                       "MODEL");
    if (rc) {
        free(pos);
        return rc;
    }
    o->model = pos[0];
    o->images = pos;
    o->nimages = npos - 1;
    memmove(pos, pos + 1, (size_t)o->nimages * sizeof *pos);
    return 0;
}

/* The files every model command reads. */
static int model_inputs(cli_io *io, const opts *o)
{
    return cli_io_input(io, o->model) || cli_io_input(io, o->weights);
}

static int open_model(const opts *o, ypr_model **m)
{
    int rc = ypr_model_load(o->model, m);
    const char *what = o->model;
    if (rc == 0 && o->weights && (rc = ypr_model_load_weights(*m, o->weights, 0)) < 0)
        what = o->weights;
    if (rc == 0 && o->threads && (rc = ypr_model_set_threads(*m, o->threads)) < 0)
        what = "--threads";
    if (rc == 0 && o->fuse && (rc = ypr_model_fuse(*m)) < 0)
        what = "--fuse";
    if (rc < 0) {
        ypr_model_free(*m);
        *m = NULL;
        return cli_fail(what, rc);
    }
    return 0;
}

static const char info_usage[] = "yolopr info MODEL [--weights W] [--size N] [--fuse]";

int cmd_info(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o, "info", INFO, info_usage);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    free(o.images);
    ypr_model *m;
    if (open_model(&o, &m))
        return 1;
    char *text;
    if ((rc = ypr_model_summary(m, o.size, o.size, &text)) < 0) {
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

static const char detect_usage[] =
    "yolopr detect MODEL IMAGE... [--weights W] [--conf C] [--iou I] [--size N] [--threads T]\n"
    "       [--save OUT.png]   (several images: OUT.png.0.png, OUT.png.1.png, ...)";

/* Detect in one image, print the boxes and, with --save, draw them into
 * output @p out's temporary name (-1: no --save). Returns 0 or 1 (printed). */
static int detect_one(ypr_model *m, const char *image, cli_io *io, int out)
{
    float dets[300 * 6];
    uint8_t *rgb;
    int w, h, n = 0, rc;
    if ((rc = ypr_image_load(image, &rgb, &w, &h)) < 0)
        return cli_fail(image, rc);
    if ((rc = ypr_model_detect(m, rgb, w, h, dets, 300, &n)) < 0) {
        ypr_free(rgb);
        return cli_fail(image, rc);
    }
    printf("%s: %dx%d, %d detections\n", image, w, h, n);
    for (int k = 0; k < n; k++)
        printf("  class %3d  conf %.3f  box %.1f %.1f %.1f %.1f\n", (int)dets[k * 6 + 5],
               dets[k * 6 + 4], dets[k * 6], dets[k * 6 + 1], dets[k * 6 + 2], dets[k * 6 + 3]);
    if (out >= 0) {
        ypr_image_draw_detections(rgb, w, h, dets, n, NULL, 0);
        if ((rc = ypr_image_save_png(io->out[out].stage, rgb, w, h)) < 0) {
            ypr_free(rgb);
            return cli_fail(io->out[out].path, rc);
        }
    }
    ypr_free(rgb);
    return 0;
}

/* --save OUT: OUT for one image, OUT.<i>.png for each of several. */
static int detect_outputs(cli_io *io, const opts *o)
{
    for (int i = 0; o->save && i < o->nimages; i++) {
        char path[4096];
        if (o->nimages == 1)
            snprintf(path, sizeof path, "%s", o->save);
        else
            snprintf(path, sizeof path, "%s.%d.png", o->save, i);
        if (cli_io_output(io, "--save", path) < 0)
            return 1;
    }
    return 0;
}

int cmd_detect(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o, "detect", DETECT, detect_usage);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if (!o.nimages) {
        fprintf(stderr, "yolopr detect: no IMAGE given\nusage: %s\n", detect_usage);
        free(o.images);
        return CLI_USAGE;
    }
    cli_io io;
    cli_io_init(&io, "detect");
    int status = model_inputs(&io, &o);
    for (int i = 0; !status && i < o.nimages; i++)
        status = cli_io_input(&io, o.images[i]);
    if (!status)
        status = detect_outputs(&io, &o);
    if (!status)
        status = cli_io_prepare(&io);
    ypr_model *m = NULL;
    if (!status && open_model(&o, &m))
        status = 1;
    if (!status && ((rc = ypr_model_set_float(m, YPR_MODEL_CONF_THRESHOLD, o.conf)) < 0 ||
                    (rc = ypr_model_set_float(m, YPR_MODEL_IOU_THRESHOLD, o.iou)) < 0 ||
                    (rc = ypr_model_set_int(m, YPR_MODEL_INPUT_SIZE, o.size)) < 0))
        status = cli_fail("settings", rc);
    /* every image is tried (each failure reported); outputs only if all worked */
    int failed = 0;
    for (int i = 0; !status && i < o.nimages; i++)
        failed |= detect_one(m, o.images[i], &io, o.save ? i : -1);
    status |= failed;
    if (!status && o.save && !(status = cli_io_commit(&io)))
        for (int i = 0; i < io.nout; i++)
            printf("saved %s\n", io.out[i].path);
    if (failed && o.save)
        fprintf(stderr, "yolopr detect: nothing saved\n");
    cli_io_free(&io);
    ypr_model_free(m);
    free(o.images);
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

static const char bench_model_usage[] =
    "yolopr bench MODEL [--size N] [--batch B] [--threads T] [--runs R] [--fuse] [--peak]";

/* the input batch the CLI allocates for bench MODEL, at most */
#define BENCH_MAX_INPUT_BYTES ((size_t)1 << 30)

int cmd_bench_model(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o, "bench", BENCH, bench_model_usage);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    free(o.images);
    /* sizes are bounded by parse(): at most 256 × 3 × 8192², no overflow */
    size_t n = (size_t)o.batch * 3 * (size_t)o.size * (size_t)o.size;
    if (n * sizeof(float) > BENCH_MAX_INPUT_BYTES) {
        fprintf(stderr, "yolopr bench: --batch %d at --size %d is a %.0f MB input; "
                "at most %zu MB\n", o.batch, o.size, (double)(n * sizeof(float)) / 1048576.0,
                BENCH_MAX_INPUT_BYTES >> 20);
        return CLI_USAGE;
    }
    ypr_model *m;
    if (open_model(&o, &m))
        return 1;
    float *x = malloc(n * sizeof(float));
    double *t = malloc((size_t)o.runs * sizeof(double));
    if (!x || !t) {
        free(x);
        free(t);
        ypr_model_free(m);
        fprintf(stderr, "yolopr bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 251) / 251.0f;
    /* --peak: the FMA peak on as many threads, right before and right after
     * the runs (the machine may be shared), as the yardstick */
    double peak0 = 0, peak1 = 0;
    if (o.peak)
        rc = ypr_bench_peak(NULL, o.threads, 0.25, &peak0);
    if (rc == 0)
        rc = ypr_model_forward(m, x, o.batch, o.size, o.size);   /* warm-up + plan */
    for (int r = 0; rc == 0 && r < o.runs; r++) {
        double t0 = now();
        rc = ypr_model_forward(m, x, o.batch, o.size, o.size);
        t[r] = now() - t0;
    }
    if (rc == 0 && o.peak)
        rc = ypr_bench_peak(NULL, o.threads, 0.25, &peak1);
    if (rc < 0) {
        free(x);
        free(t);
        ypr_model_free(m);
        return cli_fail(o.peak ? "forward or --peak" : "forward", rc);
    }
    if (getenv("YPR_PROFILE")) {   /* one more pass with per-step times on stderr */
        ypr_set_log_callback(log_to_stderr, NULL, YPR_LOG_INFO);
        ypr_model_forward(m, x, o.batch, o.size, o.size);
        ypr_set_log_callback(cli_log, NULL, YPR_LOG_WARN);
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
