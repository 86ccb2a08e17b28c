/* yolopr eval: YOLOv7-style mAP, P/R and speed of a model on a dataset, or
 * of detections made elsewhere (--detections DIR). Public API only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "yolopr eval MODEL --data DATA.yaml|DIR|VOC_ROOT [--split val] [--size N] [--batch B]\n"
    "       [--conf C] [--iou I] [--metric yolov7|coco] [--max-images N] [--weights W]\n"
    "       [--json OUT.json] [--plots DIR] [--detections DIR] [--synth N] [--threads T]\n"
    "       [--cap-canvas]  (no canvas side past --size; test.py's canvas reaches past it)";

static int progress(void *user, int64_t done, int64_t total)
{
    (void)user;
    if (isatty(2)) {
        int width = 40, fill = total ? (int)(width * done / total) : width;
        fprintf(stderr, "\r  [%.*s%*s] %lld/%lld", fill, "########################################",
                width - fill, "", (long long)done, (long long)total);
        if (done == total)
            fputc('\n', stderr);
    }
    return 0;
}

/* The files a dataset reads for image @p img besides the image: its YOLO
 * label (images/…/x.jpg → labels/…/x.txt) or VOC annotation
 * (JPEGImages/x.jpg → Annotations/x.xml), where they exist. */
static int sibling(cli_io *io, const char *img, const char *from, const char *to,
                   const char *ext)
{
    char path[4096];
    size_t lf = strlen(from);
    if (strlen(img) + 16 >= sizeof path)
        return 0;
    const char *hit = NULL;   /* the last "<from>/" that starts a path component */
    for (const char *p = strstr(img, from); p; p = strstr(p + 1, from))
        if (p == img || p[-1] == '/')
            hit = p;
    if (!hit)
        return 0;
    snprintf(path, sizeof path, "%.*s%s%s", (int)(hit - img), img, to, hit + lf);
    char *sl = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (dot && (!sl || dot > sl + 1))
        *dot = '\0';
    strcat(path, ext);
    return cli_io_input(io, path);
}

/* The stem YOLOv7's detect.py names a detection file after. */
static void stem_of(const char *img, int i, char *out, size_t n)
{
    const char *b = strrchr(img, '/');
    snprintf(out, n, "%s", b ? b + 1 : img);
    char *dot = strrchr(out, '.');
    if (dot)
        *dot = '\0';
    if (!*out)
        snprintf(out, n, "%06d", i);
}

/* The folder of image @p img, an input folder. */
static int image_dir(cli_io *io, const char *img)
{
    const char *sl = strrchr(img, '/');
    char dir[4096];
    if (!sl)
        return cli_io_input_dir(io, ".");
    snprintf(dir, sizeof dir, "%.*s", sl == img ? 1 : (int)(sl - img), img);
    return cli_io_input_dir(io, dir);
}

/* Every file eval reads: model, weights, data, each image with its label
 * file, each detection file; and the folders it lists: the images', the
 * detections'. */
static int eval_inputs(cli_io *io, const ypr_dataset *ds, const char *const paths[3],
                       const char *dets)
{
    for (int k = 0; k < 3; k++)
        if (cli_io_input(io, paths[k]))
            return 1;
    if (cli_io_input_dir(io, dets))
        return 1;
    for (int i = 0; i < ypr_dataset_count(ds); i++) {
        const char *img = ypr_dataset_image_path(ds, i);
        if (!img || !*img)
            continue;   /* synthetic */
        char stem[512], path[4096];
        stem_of(img, i, stem, sizeof stem);
        snprintf(path, sizeof path, "%s/%s.txt", dets ? dets : "", stem);
        if (cli_io_input(io, img) || image_dir(io, img) ||
            sibling(io, img, "images/", "labels/", ".txt") ||
            sibling(io, img, "JPEGImages/", "Annotations/", ".xml") ||
            (dets && cli_io_input(io, path)))
            return 1;
    }
    return 0;
}

static int open_data(const char *data, const char *split, int synth, int size, ypr_dataset **ds)
{
    int rc = synth ? ypr_dataset_synth(synth, size, 8, 1, ds)
                   : ypr_dataset_open(data, split, YPR_DATASET_SKIP, ds);
    if (rc < 0)
        return cli_fail(data ? data : "synthetic dataset", rc);
    int skipped = ypr_dataset_num_skipped(*ds);
    if (ypr_dataset_count(*ds) == 0) {
        fprintf(stderr, "yolopr eval: %s: no image to evaluate (%d skipped, see the warnings "
                "above)\n", data ? data : "dataset", skipped);
        return 1;
    }
    if (skipped)
        fprintf(stderr, "yolopr eval: %d image(s) skipped: %d with image problems, %d with label "
                "problems (see the warnings above)\n", skipped,
                ypr_dataset_num_skipped_for(*ds, YPR_DATASET_SKIPPED_IMAGE),
                ypr_dataset_num_skipped_for(*ds, YPR_DATASET_SKIPPED_LABELS));
    return 0;
}

static const char *const plot_files[] = {"PR_curve.png", "confusion_matrix.png", NULL};

int cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *data = NULL, *split = "val", *json = NULL, *plots = NULL;
    const char *dets = NULL, *weights = NULL;
    int size = 640, batch = 1, max_images = 0, metric = 0, synth = 0, threads = 0, cap = 0;
    double conf = 0.001, iou = 0.65;
    static const char *const metrics[] = {"yolov7", "coco", NULL};
    const cli_opt opts[] = {
        CLI_O_STR("--data", &data),
        CLI_O_STR("--split", &split),
        CLI_O_SIZE("--size", &size),
        CLI_O_INT("--batch", &batch, 1, 256),
        CLI_O_REAL("--conf", &conf, 0, 1, 0),
        CLI_O_REAL("--iou", &iou, 0, 1, 0),
        CLI_O_INT("--max-images", &max_images, 0, 1000000000),
        CLI_O_STR("--json", &json),
        CLI_O_STR("--plots", &plots),
        CLI_O_STR("--detections", &dets),
        CLI_O_STR("--weights", &weights),
        CLI_O_INT("--synth", &synth, 1, 1000000),
        CLI_O_INT("--threads", &threads, 1, 1024),
        CLI_O_CHOICE("--metric", &metric, metrics),
        CLI_O_FLAG("--cap-canvas", &cap),
        CLI_O_END,
    };
    int rc = cli_parse("eval", usage, opts, argc, argv, &model_path, 1, NULL, NULL);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if ((!model_path && !dets) || (!data == !synth)) {
        fprintf(stderr, "yolopr eval: %s\nusage: %s\n",
                !model_path && !dets ? "no MODEL (or --detections DIR) given"
                                     : "give one of --data or --synth", usage);
        return CLI_USAGE;
    }
    struct stat st;
    if (dets && (stat(dets, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "yolopr eval: --detections %s: no such folder\n", dets);
        return CLI_USAGE;
    }
    ypr_dataset *ds = NULL;
    ypr_model *m = NULL;
    ypr_evaluator *e = NULL;
    cli_io io;
    cli_io_init(&io, "eval");
    const char *in[3] = {dets ? NULL : model_path, dets ? NULL : weights, data};
    int status = open_data(data, split, synth, size, &ds);
    int ojson = -1, oplots = -1;
    if (!status)
        status = eval_inputs(&io, ds, in, dets);
    if (!status && json && (ojson = cli_io_output(&io, "--json", json)) < 0)
        status = 1;
    if (!status && plots && (oplots = cli_io_output_dir(&io, "--plots", plots, plot_files)) < 0)
        status = 1;
    if (!status)
        status = cli_io_prepare(&io);
    if (status)
        goto out;
    status = 1;
    if (model_path && !dets) {
        int checkpoint = cli_is_checkpoint(model_path);
        /* a cfg or built-in is built with the dataset's class count */
        rc = checkpoint ? ypr_model_load(model_path, &m)
                        : ypr_model_from_cfg(model_path, ypr_dataset_num_classes(ds), 0, 0, 0, &m);
        const char *what = model_path;
        if (rc == 0 && weights && (rc = ypr_model_load_weights(m, weights, 0)) < 0)
            what = weights;
        if (rc == 0 && threads && (rc = ypr_model_set_threads(m, threads)) < 0)
            what = "--threads";
        if (rc < 0) {
            cli_fail(what, rc);
            goto out;
        }
    }
    if ((rc = ypr_evaluator_create(m, ds, &e)) < 0 ||
        (rc = ypr_evaluator_set_float(e, YPR_EVAL_CONF_THRESHOLD, conf)) < 0 ||
        (rc = ypr_evaluator_set_float(e, YPR_EVAL_IOU_THRESHOLD, iou)) < 0 ||
        (rc = ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, size)) < 0 ||
        (rc = ypr_evaluator_set_int(e, YPR_EVAL_BATCH, batch)) < 0 ||
        (rc = ypr_evaluator_set_int(e, YPR_EVAL_METRIC, metric)) < 0 ||
        (rc = ypr_evaluator_set_int(e, YPR_EVAL_MAX_IMAGES, max_images)) < 0 ||
        (rc = ypr_evaluator_set_int(e, YPR_EVAL_CAP_CANVAS, cap)) < 0 ||
        (rc = ypr_evaluator_set_progress(e, progress, NULL)) < 0) {
        cli_fail("evaluator", rc);
        goto out;
    }
    rc = dets ? ypr_evaluator_read_detections(e, dets) : ypr_evaluator_run(e);
    if (rc < 0) {
        cli_fail(dets ? dets : "eval", rc);
        goto out;
    }
    double images = 0;
    if ((rc = ypr_evaluator_get(e, -1, YPR_EVAL_IMAGES, &images)) < 0 || images < 1) {
        fprintf(stderr, "yolopr eval: no image was evaluated\n");
        goto out;
    }
    char *text = NULL;
    if ((rc = ypr_evaluator_table(e, &text)) < 0) {
        cli_fail("table", rc);
        goto out;
    }
    fputs(text, stdout);
    ypr_free(text);
    if (json) {
        if ((rc = ypr_evaluator_json(e, &text)) < 0) {
            cli_fail("json", rc);
            goto out;
        }
        int bad = cli_io_write_text(&io, ojson, text);
        ypr_free(text);
        if (bad)
            goto out;
    }
    if (plots && (rc = ypr_evaluator_save_plots(e, io.out[oplots].stage)) < 0) {
        cli_fail(plots, rc);
        goto out;
    }
    status = cli_io_commit(&io);
out:
    cli_io_free(&io);
    ypr_evaluator_free(e);
    ypr_model_free(m);
    ypr_dataset_free(ds);
    return status;
}
