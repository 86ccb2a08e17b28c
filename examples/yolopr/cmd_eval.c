/* yolopr eval: YOLOv7-style mAP, P/R and speed of a model on a dataset, or
 * of detections made elsewhere (--detections DIR). Public API only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "yolopr eval: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *data = NULL, *split = "val", *json = NULL, *plots = NULL;
    const char *dets = NULL, *weights = NULL;
    int size = 640, batch = 1, max_images = 0, metric = 0, synth = 0, threads = 0, cap = 0;
    double conf = 0.001, iou = 0.65;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--data") == 0 && more) data = argv[++i];
        else if (strcmp(a, "--split") == 0 && more) split = argv[++i];
        else if (strcmp(a, "--size") == 0 && more) size = atoi(argv[++i]);
        else if (strcmp(a, "--batch") == 0 && more) batch = atoi(argv[++i]);
        else if (strcmp(a, "--conf") == 0 && more) conf = atof(argv[++i]);
        else if (strcmp(a, "--iou") == 0 && more) iou = atof(argv[++i]);
        else if (strcmp(a, "--max-images") == 0 && more) max_images = atoi(argv[++i]);
        else if (strcmp(a, "--json") == 0 && more) json = argv[++i];
        else if (strcmp(a, "--plots") == 0 && more) plots = argv[++i];
        else if (strcmp(a, "--detections") == 0 && more) dets = argv[++i];
        else if (strcmp(a, "--weights") == 0 && more) weights = argv[++i];
        else if (strcmp(a, "--synth") == 0 && more) synth = atoi(argv[++i]);
        else if (strcmp(a, "--threads") == 0 && more) threads = atoi(argv[++i]);
        else if (strcmp(a, "--cap-canvas") == 0) cap = 1;
        else if (strcmp(a, "--metric") == 0 && more) {
            const char *m = argv[++i];
            if (strcmp(m, "coco") == 0) metric = 1;
            else if (strcmp(m, "yolov7") != 0) {
                fprintf(stderr, "yolopr eval: --metric yolov7|coco\n");
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "unknown option '%s'\nusage: %s\n", a, usage);
            return 2;
        } else if (!model_path) model_path = a;
        else {
            fprintf(stderr, "usage: %s\n", usage);
            return 2;
        }
    }
    if ((!model_path && !dets) || (!data && !synth)) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    ypr_dataset *ds = NULL;
    ypr_model *m = NULL;
    ypr_evaluator *e = NULL;
    int rc, status = 1;
    if (synth)
        rc = ypr_dataset_synth(synth, size, 8, 1, &ds);
    else
        rc = ypr_dataset_open(data, split, YPR_DATASET_SKIP, &ds);
    if (rc < 0) {
        cli_fail(data ? data : "synthetic dataset", rc);
        goto out;
    }
    if (ypr_dataset_num_skipped(ds))
        fprintf(stderr, "yolopr eval: %d images skipped (label problems, see warnings)\n",
                ypr_dataset_num_skipped(ds));
    if (model_path && !dets) {
        size_t len = strlen(model_path);
        int checkpoint = len > 12 && strcmp(model_path + len - 12, ".safetensors") == 0;
        /* a cfg or built-in is built with the dataset's class count */
        rc = checkpoint ? ypr_model_load(model_path, &m)
                        : ypr_model_from_cfg(model_path, ypr_dataset_num_classes(ds), 0, 0, 0, &m);
        if (rc < 0 ||
            (weights && (rc = ypr_model_load_weights(m, weights, 0)) < 0) ||
            (threads && (rc = ypr_model_set_threads(m, threads)) < 0)) {
            cli_fail(model_path, rc);
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
    char *text = NULL;
    if ((rc = ypr_evaluator_table(e, &text)) < 0) {
        cli_fail("table", rc);
        goto out;
    }
    fputs(text, stdout);
    ypr_free(text);
    status = 0;
    if (json) {
        if ((rc = ypr_evaluator_json(e, &text)) < 0)
            status = cli_fail("json", rc);
        else {
            status |= write_text(json, text);
            ypr_free(text);
        }
    }
    if (plots && (rc = ypr_evaluator_save_plots(e, plots)) < 0)
        status = cli_fail(plots, rc);
out:
    ypr_evaluator_free(e);
    ypr_model_free(m);
    ypr_dataset_free(ds);
    return status;
}
