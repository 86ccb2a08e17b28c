/* yolopr info / detect / bench MODEL: models through the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"

typedef struct opts {
    const char *model, *weights, *save;
    const char **images;   /* argv's, after the model */
    int nimages;
    int size, batch, threads, runs, fuse, peak, train, loss, nc, tensors, outputs;
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
    o->loss = -1;
    static const char *const losses[] = {"simple", "ota", NULL};   /* = ypr_train_loss */
    const struct { int cmds; cli_opt opt; } all[] = {
        {INFO | DETECT | BENCH, CLI_O_STR("--weights", &o->weights)},
        {INFO | DETECT | BENCH, CLI_O_SIZE("--size", &o->size)},
        {INFO | DETECT | BENCH, CLI_O_FLAG("--fuse", &o->fuse)},
        {INFO, CLI_O_FLAG("--tensors", &o->tensors)},
        {DETECT | BENCH, CLI_O_INT("--threads", &o->threads, 1, 1024)},
        {DETECT, CLI_O_STR("--save", &o->save)},
        {DETECT, CLI_O_REAL("--conf", &o->conf, 0, 1, 0)},
        {DETECT, CLI_O_REAL("--iou", &o->iou, 0, 1, 0)},
        {BENCH, CLI_O_INT("--batch", &o->batch, 1, 256)},
        {BENCH, CLI_O_INT("--runs", &o->runs, 1, 10000)},
        {BENCH, CLI_O_FLAG("--peak", &o->peak)},
        {BENCH, CLI_O_FLAG("--outputs", &o->outputs)},
        {BENCH, CLI_O_FLAG("--train", &o->train)},
        {BENCH, CLI_O_CHOICE("--loss", &o->loss, losses)},
        {BENCH, CLI_O_INT("--nc", &o->nc, 1, 80)},
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
    int rc = o->nc ? ypr_model_from_cfg(o->model, o->nc, 0, 0, 0, m) : ypr_model_load(o->model, m);
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

static const char info_usage[] =
    "yolopr info MODEL [--weights W] [--size N] [--fuse] [--tensors]";

static const char *const dtype_names[] = {"F32", "I8", "I32"};

static const char *dtype_name(int dtype)
{
    return dtype >= 0 && dtype < 3 ? dtype_names[dtype] : "?";
}

/* --tensors: one line per tensor: name, dtype, shape, scales. */
static int print_tensors(const ypr_model *m)
{
    printf("%-44s %-4s %-22s %s\n", "tensor", "type", "shape", "scale (zero point)");
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        ypr_tensor_info t;
        memset(&t, 0, sizeof t);
        t.struct_size = sizeof t;
        int rc = ypr_model_tensor_info_at(m, i, &t);
        if (rc < 0)
            return cli_fail("tensor info", rc);
        char shape[64] = "[";
        for (int d = 0; d < t.ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? ", " : "",
                     (long long)t.shape[d]);
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "]");
        printf("%-44s %-4s %-22s", t.name, dtype_name(t.dtype), shape);
        if (t.nscales == 1) {
            printf(" %.6g", (double)t.scale);
            if (t.zero_point)
                printf(" (%d)", (int)t.zero_point);
        } else if (t.nscales > 1) {
            float lo = t.scales[0], hi = t.scales[0];
            for (int64_t c = 1; c < t.nscales; c++) {
                lo = t.scales[c] < lo ? t.scales[c] : lo;
                hi = t.scales[c] > hi ? t.scales[c] : hi;
            }
            printf(" per channel (axis %d): %lld scales %.6g..%.6g", t.axis,
                   (long long)t.nscales, (double)lo, (double)hi);
        }
        printf("%s\n", t.is_buffer ? "  buffer" : "");
    }
    return 0;
}

/* The tensors by dtype, and the bytes their values take in that dtype. */
static void print_dtypes(const ypr_model *m)
{
    int64_t count[3] = {0, 0, 0}, bytes = 0;
    static const int size[3] = {4, 1, 4};
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        ypr_tensor_info t;
        memset(&t, 0, sizeof t);
        t.struct_size = sizeof t;
        if (ypr_model_tensor_info_at(m, i, &t) < 0 || t.dtype < 0 || t.dtype > 2)
            continue;
        count[t.dtype]++;
        bytes += t.numel * size[t.dtype] + t.nscales * 4;
    }
    printf("tensors: %lld F32, %lld I8, %lld I32; %.2f MB of values\n", (long long)count[0],
           (long long)count[1], (long long)count[2], (double)bytes / 1e6);
}

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
    print_dtypes(m);
    ypr_free(text);
    rc = o.tensors ? print_tensors(m) : 0;
    ypr_model_free(m);
    return rc;
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
    "yolopr bench MODEL [--size N] [--batch B] [--threads T] [--runs R] [--nc N] [--fuse] [--peak]\n"
    "             [--outputs]\n"
    "       yolopr bench MODEL --train [--size N] [--batch B] [--threads T] [--runs R] [--nc N]\n"
    "             [--loss ota|simple]";

/* the input batch the CLI allocates for bench MODEL, at most */
#define BENCH_MAX_INPUT_BYTES ((size_t)1 << 30)

/* A fixed training batch: the first @p b images of a synthetic set rendered
 * at @p size (RGB in [0, 1], NCHW) and their labels as target rows (image,
 * class, cx, cy, w, h normalized). Returns 0 or 1 (printed). */
static int synth_batch(int b, int size, int classes, float **x, float **targets, int64_t *nt)
{
    ypr_dataset *ds = NULL;
    int rc = ypr_dataset_synth(b, size, classes, 1, &ds);
    if (rc < 0)
        return cli_fail("synthetic batch", rc);
    size_t plane = (size_t)size * (size_t)size;
    *x = malloc((size_t)b * 3 * plane * sizeof(float));
    *targets = NULL;
    *nt = 0;
    int64_t cap = 0;
    for (int i = 0; *x && rc == 0 && i < b; i++) {
        uint8_t *rgb = NULL;
        int w = 0, h = 0, count = 0;
        float rows[64 * 6];
        if ((rc = ypr_dataset_image(ds, i, &rgb, &w, &h)) < 0 ||
            (rc = ypr_dataset_labels(ds, i, rows, 64, &count)) < 0)
            break;
        for (size_t p = 0; p < plane && w == size && h == size; p++)
            for (int c = 0; c < 3; c++)
                (*x)[((size_t)i * 3 + (size_t)c) * plane + p] = (float)rgb[p * 3 + (size_t)c] / 255.0f;
        ypr_free(rgb);
        if (w != size || h != size) {
            rc = YPR_EINTERNAL;
            break;
        }
        if (count > 64)
            count = 64;
        if (*nt + count > cap) {
            cap = 2 * (*nt + count);
            float *t = realloc(*targets, (size_t)cap * 6 * sizeof(float));
            if (!t) {
                rc = YPR_ENOMEM;
                break;
            }
            *targets = t;
        }
        for (int k = 0; k < count; k++) {
            const float *r = rows + k * 6;
            float *t = *targets + *nt * 6;
            t[0] = (float)i;
            t[1] = r[0];
            t[2] = (r[1] + r[3]) / 2 / (float)size;
            t[3] = (r[2] + r[4]) / 2 / (float)size;
            t[4] = (r[3] - r[1]) / (float)size;
            t[5] = (r[4] - r[2]) / (float)size;
            (*nt)++;
        }
    }
    ypr_dataset_free(ds);
    if (*x && rc == 0)
        return 0;
    int oom = !*x;
    free(*x);
    free(*targets);
    *x = *targets = NULL;
    if (oom) {
        fprintf(stderr, "yolopr bench: out of memory\n");
        return 1;
    }
    return cli_fail("synthetic batch", rc);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
}

/* bench MODEL --train: median seconds per ypr_trainer_step() on one fixed
 * synthetic batch, after a warm-up step (which builds the training plan). */
static int bench_train(const opts *o, ypr_model *m)
{
    int nc = ypr_model_num_classes(m);
    if (nc > 80) {
        fprintf(stderr, "yolopr bench: --train draws its batch from the synthetic set (at most "
                "80 classes); the model has %d (give --nc)\n", nc);
        return 1;
    }
    float *x = NULL, *targets = NULL;
    int64_t nt = 0;
    if (synth_batch(o->batch, o->size, nc, &x, &targets, &nt))
        return 1;
    double *t = malloc((size_t)o->runs * sizeof(double));
    ypr_dataset *ds = NULL;
    ypr_trainer *tr = NULL;
    int rc = t ? ypr_dataset_synth(o->batch, o->size, nc, 1, &ds) : YPR_ENOMEM;
    const char *what = "trainer";
    if (rc == 0)
        rc = ypr_trainer_create(m, ds, NULL, &tr);
    if (rc == 0 && (rc = ypr_trainer_set_int(tr, YPR_TRAIN_BATCH, o->batch)) == 0 &&
        (rc = ypr_trainer_set_int(tr, YPR_TRAIN_SIZE, o->size)) == 0 && o->loss >= 0)
        rc = ypr_trainer_set_int(tr, YPR_TRAIN_LOSS, o->loss);
    double loss[4] = {0}, first = 0, last = 0;
    if (getenv("YPR_PROFILE"))   /* the training plan's per-step times on stderr */
        ypr_set_log_callback(log_to_stderr, NULL, YPR_LOG_INFO);
    if (rc == 0) {
        what = "training step";
        double t0 = now();
        rc = ypr_trainer_step(tr, x, o->batch, o->size, targets, nt, loss);   /* warm-up + plan */
        first = now() - t0;
    }
    double *cpu = malloc((size_t)o->runs * sizeof(double));
    if (!cpu)
        rc = YPR_ENOMEM;
    for (int r = 0; rc == 0 && r < o->runs; r++) {
        double t0 = now(), c0 = cpu_seconds();
        rc = ypr_trainer_step(tr, x, o->batch, o->size, targets, nt, loss);
        t[r] = now() - t0;
        cpu[r] = cpu_seconds() - c0;
        last = loss[3];
    }
    int64_t parts[6] = {0};
    if (rc == 0)
        rc = ypr_trainer_memory(tr, parts);
    if (rc < 0) {
        cli_fail(what, rc);
    } else {
        qsort(t, (size_t)o->runs, sizeof *t, cmp);
        qsort(cpu, (size_t)o->runs, sizeof *cpu, cmp);
        double med = t[o->runs / 2];
        int64_t params = ypr_model_num_params(m), macs = 0;
        ypr_model_macs(m, o->size, o->size, 1, &macs);
        printf("%s train step @%dx%d batch %d (%lld targets), %d threads, kernels %s: "
               "median %.4f s per step (min %.4f, first %.4f), %.2f images/s, loss %.4g\n",
               o->model, o->size, o->size, o->batch, (long long)nt,
               o->threads ? o->threads : ypr_get_num_threads(), ypr_simd_active(), med, t[0],
               first, o->batch / med, last);
        /* CPU time of the whole process (every thread): on a loaded machine
         * it moves less than the wall time, which waits for the CPU */
        printf("  median CPU %.4f s per step (all threads)\n", cpu[o->runs / 2]);
        printf("  %.2f GMACs/image forward; %lld parameters: %.1f MB weights, %.1f MB gradients, "
               "%.1f MB momentum\n", (double)macs / 1e9, (long long)params,
               (double)params * 4 / 1e6, (double)parts[2] / 1e6, (double)parts[3] / 1e6);
        printf("  trainer memory: saved activations %.1f MB, gradient buffers %.1f MB, "
               "parameter gradients %.1f MB, momentum %.1f MB, EMA %.1f MB, other %.1f MB\n",
               (double)parts[0] / 1e6, (double)parts[1] / 1e6, (double)parts[2] / 1e6,
               (double)parts[3] / 1e6, (double)parts[4] / 1e6, (double)parts[5] / 1e6);
        printf("  peak RSS %.1f MB\n", peak_rss_mb());
    }
    ypr_trainer_free(tr);
    ypr_dataset_free(ds);
    free(cpu);
    free(t);
    free(x);
    free(targets);
    return rc < 0 ? 1 : 0;
}

int cmd_bench_model(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o, "bench", BENCH, bench_model_usage);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    free(o.images);
    const char *why = o.train && (o.fuse || o.peak || o.outputs)
                          ? "--train times training steps: drop --fuse, --peak and --outputs"
                    : !o.train && o.loss >= 0 ? "--loss needs --train" : NULL;
    if (why) {
        fprintf(stderr, "yolopr bench: %s\nusage: %s\n", why, bench_model_usage);
        return CLI_USAGE;
    }
    /* sizes are bounded by parse(): at most 256 × 3 × 8192², no overflow */
    size_t n = (size_t)o.batch * 3 * (size_t)o.size * (size_t)o.size;
    if (n * sizeof(float) > BENCH_MAX_INPUT_BYTES) {
        fprintf(stderr, "yolopr bench: --batch %d at --size %d is a %.0f MB input; "
                "at most %zu MB\n", o.batch, o.size, (double)(n * sizeof(float)) / 1048576.0,
                BENCH_MAX_INPUT_BYTES >> 20);
        return CLI_USAGE;
    }
    if (o.threads)
        ypr_set_num_threads(o.threads);
    ypr_model *m;
    if (open_model(&o, &m))
        return 1;
    if (o.train) {
        rc = bench_train(&o, m);
        ypr_model_free(m);
        return rc;
    }
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
    /* --outputs: each run also copies every level's raw head output out, in
     * YOLOv7's layout (ypr_model_output), as an ONNX graph of YOLOv7 ends */
    int levels = o.outputs && rc == 0 ? ypr_model_num_levels(m) : 0;
    float *heads[8] = {NULL};
    for (int l = 0; l < levels && l < 8 && rc == 0; l++) {
        int64_t sh[5];
        rc = ypr_model_output(m, l, NULL, sh);
        heads[l] = rc == 0 ? malloc((size_t)(sh[0] * sh[1] * sh[2] * sh[3] * sh[4]) *
                                    sizeof(float)) : NULL;
        if (rc == 0 && !heads[l])
            rc = YPR_ENOMEM;
    }
    if (levels > 8)
        rc = YPR_ERANGE;
    for (int r = 0; rc == 0 && r < o.runs; r++) {
        double t0 = now();
        rc = ypr_model_forward(m, x, o.batch, o.size, o.size);
        for (int l = 0; l < levels && rc == 0; l++) {
            int64_t sh[5];
            rc = ypr_model_output(m, l, heads[l], sh);
        }
        t[r] = now() - t0;
    }
    for (int l = 0; l < 8; l++)
        free(heads[l]);
    if (rc == 0 && o.peak)
        rc = ypr_bench_peak(NULL, o.threads, 0.25, &peak1);
    if (rc < 0) {
        free(x);
        free(t);
        ypr_model_free(m);
        return cli_fail(o.peak ? "forward or --peak" : o.outputs ? "forward or --outputs"
                                                                 : "forward", rc);
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
           "%.2f ms/image, %.2f images/s, %.2f GMACs/image, %.1f GFLOP/s effective, %.0f MB\n",
           o.model, o.fuse ? " (fused)" : "", o.size, o.size, o.batch,
           o.threads ? o.threads : ypr_get_num_threads(), ypr_simd_active(), med * 1e3,
           t[0] * 1e3, med * 1e3 / o.batch, o.batch / med, (double)macs / 1e9,
           2.0 * (double)macs * o.batch / med / 1e9, (double)mem / 1e6);
    printf("plan: %s\n", ypr_model_plan_name(m));   /* INT8 runtime or float, kernel set */
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
