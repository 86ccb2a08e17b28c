/* yolopr quantize: post-training quantization into a fake-quantized
 * checkpoint (float weights on the INT8 grid plus activation steps in the
 * net description) or its ONNX QDQ form (-o OUT.onnx), with a per-layer SQNR
 * report and optional evaluation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char usage[] =
    "yolopr quantize MODEL --data DATA.yaml|DIR|synth[:COUNT[:SIZE[:CLASSES]]]\n"
    "       [--split train] [--weights W] [--calib-images N] [--size N]\n"
    "       [--method minmax|percentile|entropy|mse] [--percentile P]\n"
    "       [--scheme dpu|per-channel] [--hard-act] [--no-act-lut] [--bias-correction]\n"
    "       [--keep-float PATTERN]... [--keep-worst K] [--sqnr-images N] [--search-images K]\n"
    "       [--qat EPOCHS [--qat-lr LR] [--batch N] [--hyp HYP.yaml]]\n"
    "       [--eval [--eval-split val]] [--report OUT.json] [--plot OUT.png] [--threads T]\n"
    "       -o OUT.safetensors|OUT.onnx (ONNX: the QDQ form, docs/onnx.md)\n"
    "  Calibrates on the dataset's images, writes the fused, fake-quantized model\n"
    "  (weights and biases on the INT8 grid, activation steps in its net\n"
    "  description: it loads and evaluates as any checkpoint) and prints the\n"
    "  per-layer SQNR table. --eval scores the float and the quantized model.\n"
    "  SiLU (hard-swish) inputs are quantized too, so the INT8 runtime looks\n"
    "  the activation up in a table; --no-act-lut rounds only its output.\n"
    "  --qat EPOCHS fine-tunes the quantized model quantization-aware on the\n"
    "  calibration split (frozen steps, straight-through gradients; lr0 LR,\n"
    "  default 1e-4, no warm-up, batch N = nominal batch, default 16) before\n"
    "  rounding its weights onto the grid.";

typedef struct quant_args {
    const char *model, *data, *split, *eval_split, *weights, *out, *report, *plot, *hyp;
    const char *keep[CLI_MAX_PATTERNS];
    int nkeep, calib, size, method, scheme, hard, bias, keep_worst, sqnr, eval, threads;
    int synth, synth_count, synth_size, synth_classes;
    int qat, qat_batch, search, no_lut;
    double pct, qat_lr;
} quant_args;

/* --data synth[:COUNT[:SIZE[:CLASSES]]] (cli_parse_synth): 1, 0 or CLI_USAGE. */
static int parse_synth(quant_args *a)
{
    int v[3];
    int rc = cli_parse_synth("quantize", a->data, a->size, v);
    if (rc == 1) {
        a->synth = 1;
        a->synth_count = v[0];
        a->synth_size = v[1];
        a->synth_classes = v[2];
    }
    return rc;
}

static int open_set(const quant_args *a, const char *split, int seed, ypr_dataset **ds)
{
    int rc = a->synth ? ypr_dataset_synth(seed == 1 ? a->synth_count
                                                    : (a->synth_count / 4 > 0
                                                           ? a->synth_count / 4 : 1),
                                          a->synth_size, a->synth_classes, (uint64_t)seed, ds)
                      : ypr_dataset_open(a->data, split, YPR_DATASET_SKIP, ds);
    if (rc < 0)
        return cli_fail(a->synth ? "--data synth" : a->data, rc);
    if (ypr_dataset_count(*ds) == 0) {
        fprintf(stderr, "yolopr quantize: %s (%s): no images\n", a->data, split);
        return 1;
    }
    return 0;
}

static int progress(void *user, int64_t done, int64_t total)
{
    (void)user;
    if (done == total || done % 10 == 0)
        fprintf(stderr, "\rcalibrating %lld/%lld", (long long)done, (long long)total);
    if (done == total)
        fputc('\n', stderr);
    return 0;
}

static int evaluate(ypr_model *m, const ypr_dataset *ds, int size, const char *label)
{
    ypr_evaluator *e = NULL;
    double map50 = 0, map = 0;
    int rc;
    if ((rc = ypr_evaluator_create(m, ds, &e)) < 0 ||
        (rc = ypr_evaluator_set_int(e, YPR_EVAL_INPUT_SIZE, size)) < 0 ||
        (rc = ypr_evaluator_run(e)) < 0 ||
        (rc = ypr_evaluator_get(e, -1, YPR_EVAL_MAP50, &map50)) < 0 ||
        (rc = ypr_evaluator_get(e, -1, YPR_EVAL_MAP, &map)) < 0) {
        ypr_evaluator_free(e);
        return cli_fail(label, rc);
    }
    printf("%-10s mAP@.5 %.4f  mAP@.5:.95 %.4f\n", label, map50, map);
    ypr_evaluator_free(e);
    return 0;
}

static int load_model(const quant_args *a, int nc, ypr_model **m)
{
    size_t len = strlen(a->model);
    int ckpt = len > 12 && strcmp(a->model + len - 12, ".safetensors") == 0;
    int rc = ckpt ? ypr_model_load(a->model, m) : ypr_model_from_cfg(a->model, nc, 0, 0, 0, m);
    if (rc < 0)
        return cli_fail(a->model, rc);
    if (a->weights && (rc = ypr_model_load_weights(*m, a->weights, 0)) < 0)
        return cli_fail(a->weights, rc);
    if (a->threads && (rc = ypr_model_set_threads(*m, a->threads)) < 0)
        return cli_fail("--threads", rc);
    return 0;
}

static int configure(ypr_quantizer *q, const quant_args *a)
{
    const struct { int key; int64_t v; } set[] = {
        {YPR_QUANT_SCHEME, a->scheme}, {YPR_QUANT_METHOD, a->method},
        {YPR_QUANT_CALIB_IMAGES, a->calib}, {YPR_QUANT_BIAS_CORRECTION, a->bias},
        {YPR_QUANT_KEEP_WORST, a->keep_worst}, {YPR_QUANT_HARD_ACT, a->hard},
        {YPR_QUANT_SQNR_IMAGES, a->sqnr}, {YPR_QUANT_SEARCH_IMAGES, a->search},
        {YPR_QUANT_ACT_LUT, !a->no_lut}};
    int rc;
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if ((rc = ypr_quantizer_set_int(q, set[i].key, set[i].v)) < 0)
            return cli_fail("quantizer", rc);
    if (a->size > 0 && (rc = ypr_quantizer_set_int(q, YPR_QUANT_INPUT_SIZE, a->size)) < 0)
        return cli_fail("--size", rc);
    if ((rc = ypr_quantizer_set_float(q, YPR_QUANT_PERCENTILE, a->pct)) < 0)
        return cli_fail("--percentile", rc);
    for (int i = 0; i < a->nkeep; i++)
        if ((rc = ypr_quantizer_keep_float(q, a->keep[i])) < 0 && rc != YPR_ENOTFOUND)
            return cli_fail("--keep-float", rc);
        else if (rc == YPR_ENOTFOUND)
            fprintf(stderr, "yolopr quantize: warning: %s\n", ypr_last_error());
    return ypr_quantizer_set_progress(q, progress, NULL) < 0;
}

static int qat_progress(void *user, int epoch, int epochs, int iter, int iters,
                        const double *values)
{
    (void)user;
    fprintf(stderr, "\rQAT epoch %d/%d batch %d/%d loss %.4f", epoch + 1, epochs, iter + 1,
            iters, values[YPR_TV_TOTAL]);
    if (iter + 1 == iters)
        fputc('\n', stderr);
    return 0;
}

/* --qat: fine-tune the quantized model through its steps, then round it. */
static int qat(const quant_args *a, ypr_quantizer *q, const ypr_dataset *train,
               ypr_model **qm)
{
    ypr_trainer *t = NULL;
    ypr_model *out = NULL;
    int64_t size = a->size > 0 ? a->size : a->synth ? a->synth_size : 0;
    if (size <= 0 && ypr_model_get_int(*qm, YPR_MODEL_INPUT_SIZE, &size) < 0)
        size = 640;
    int rc = ypr_trainer_create(*qm, train, NULL, &t);
    if (rc >= 0 && a->hyp)
        rc = ypr_trainer_load_hyp(t, a->hyp);
    const struct { int key; int64_t v; } set[] = {
        {YPR_TRAIN_EPOCHS, a->qat}, {YPR_TRAIN_BATCH, a->qat_batch},
        {YPR_TRAIN_NOMINAL_BATCH, a->qat_batch}, {YPR_TRAIN_SIZE, size},
        {YPR_TRAIN_EVAL, 0}};
    for (size_t i = 0; rc >= 0 && i < sizeof set / sizeof set[0]; i++)
        rc = ypr_trainer_set_int(t, set[i].key, set[i].v);
    if (rc >= 0)
        rc = ypr_trainer_set_hyp(t, "warmup_epochs", 0);
    if (rc >= 0)
        rc = ypr_trainer_set_hyp(t, "lr0", a->qat_lr);
    if (rc >= 0)
        rc = ypr_trainer_set_callback(t, qat_progress, NULL);
    if (rc >= 0)
        rc = ypr_trainer_run(t);
    ypr_trainer_free(t);
    if (rc >= 0)
        rc = ypr_quantizer_convert(q, *qm, &out);
    if (rc < 0)
        return cli_fail("--qat", rc);
    ypr_model_free(*qm);
    *qm = out;
    return 0;
}

static int run(quant_args *a, cli_io *io, int oout, int oreport, int oplot)
{
    ypr_dataset *calib = NULL, *val = NULL;
    ypr_model *m = NULL, *qm = NULL;
    ypr_quantizer *q = NULL;
    int status = open_set(a, a->split, 1, &calib), rc;
    if (!status && a->eval)
        status = open_set(a, a->eval_split, 2, &val);
    if (!status)
        status = load_model(a, ypr_dataset_num_classes(calib), &m);
    if (!status && (rc = ypr_quantizer_create(m, calib, &q)) < 0)
        status = cli_fail("quantizer", rc);
    if (!status)
        status = configure(q, a);
    if (!status && (rc = ypr_quantizer_quantize(q, &qm)) < 0)
        status = cli_fail("quantize", rc);
    if (!status && a->qat > 0)
        status = qat(a, q, calib, &qm);
    char *text = NULL;
    if (!status && (rc = ypr_quantizer_report(q, &text, 0)) < 0)
        status = cli_fail("report", rc);
    if (!status)
        fputs(text, stdout);
    ypr_free(text);
    text = NULL;
    int size = a->size > 0 ? a->size : (a->synth ? a->synth_size : 640);
    if (!status && a->eval) {
        int64_t s = 0;
        if (a->size <= 0 && !a->synth && ypr_model_get_int(m, YPR_MODEL_INPUT_SIZE, &s) == 0)
            size = (int)s;
        status = evaluate(m, val, size, "float");
        if (!status)
            status = evaluate(qm, val, size, "quantized");
    }
    if (!status && oreport >= 0) {
        if ((rc = ypr_quantizer_report(q, &text, 1)) < 0)
            status = cli_fail("report", rc);
        else
            status = cli_io_write_text(io, oreport, text);
        ypr_free(text);
    }
    if (!status && oplot >= 0 && (rc = ypr_quantizer_plot(q, io->out[oplot].stage)) < 0)
        status = cli_fail(a->plot, rc);
    size_t olen = a->out ? strlen(a->out) : 0;
    int onnx = olen > 5 && strcmp(a->out + olen - 5, ".onnx") == 0;
    if (!status && oout >= 0 && (rc = onnx ? ypr_model_export_onnx(qm, io->out[oout].stage)
                                           : ypr_model_save(qm, io->out[oout].stage)) < 0)
        status = cli_fail(a->out, rc);
    if (!status)
        status = cli_io_commit(io);
    ypr_quantizer_free(q);
    ypr_model_free(qm);
    ypr_model_free(m);
    ypr_dataset_free(val);
    ypr_dataset_free(calib);
    return status;
}

int cmd_quant(int argc, char **argv)
{
    quant_args a = {.split = "train", .eval_split = "val", .calib = 100, .size = -1,
                    .method = 2, .sqnr = 2, .pct = 99.99, .qat_batch = 16, .qat_lr = 1e-4};
    static const char *const methods[] = {"minmax", "percentile", "entropy", "mse", NULL};
    static const char *const schemes[] = {"dpu", "per-channel", NULL};
    const cli_opt opts[] = {
        CLI_O_STR("--data", &a.data),
        CLI_O_STR("--split", &a.split),
        CLI_O_STR("--eval-split", &a.eval_split),
        CLI_O_STR("--weights", &a.weights),
        CLI_O_INT("--calib-images", &a.calib, 1, 1000000),
        CLI_O_SIZE("--size", &a.size),
        CLI_O_CHOICE("--method", &a.method, methods),
        CLI_O_REAL("--percentile", &a.pct, 0, 100, CLI_OPEN_LO),
        CLI_O_CHOICE("--scheme", &a.scheme, schemes),
        CLI_O_FLAG("--hard-act", &a.hard),
        CLI_O_FLAG("--no-act-lut", &a.no_lut),
        CLI_O_FLAG("--bias-correction", &a.bias),
        CLI_O_LIST("--keep-float", a.keep, CLI_MAX_PATTERNS, &a.nkeep),
        CLI_O_INT("--keep-worst", &a.keep_worst, 0, 16384),
        CLI_O_INT("--sqnr-images", &a.sqnr, 0, 1000),
        CLI_O_INT("--search-images", &a.search, 0, 1000),
        CLI_O_INT("--qat", &a.qat, 0, 100000),
        CLI_O_REAL("--qat-lr", &a.qat_lr, 0, 10, CLI_OPEN_LO),
        CLI_O_INT("--batch", &a.qat_batch, 1, 1024),
        CLI_O_STR("--hyp", &a.hyp),
        CLI_O_FLAG("--eval", &a.eval),
        CLI_O_STR("--report", &a.report),
        CLI_O_STR("--plot", &a.plot),
        CLI_O_INT("--threads", &a.threads, 1, 1024),
        CLI_O_STR("-o", &a.out),
        CLI_O_END,
    };
    int rc = cli_parse("quantize", usage, opts, argc, argv, &a.model, 1, NULL, "MODEL");
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if (!a.data || (!a.out && !a.eval && !a.report)) {
        fprintf(stderr, "yolopr quantize: %s\nusage: %s\n",
                !a.data ? "no --data DATA.yaml|DIR|synth given"
                        : "nothing to do: give -o OUT.safetensors|OUT.onnx, --eval or --report",
                usage);
        return CLI_USAGE;
    }
    if ((rc = parse_synth(&a)) == CLI_USAGE)
        return rc;
    cli_io io;
    cli_io_init(&io, "quantize");
    int oout = -1, oreport = -1, oplot = -1, status = 0;
    struct stat st;
    if (cli_io_input(&io, a.model) || cli_io_input(&io, a.weights) || cli_io_input(&io, a.hyp) ||
        (!a.synth && stat(a.data, &st) == 0 &&
         (S_ISDIR(st.st_mode) ? cli_io_input_dir(&io, a.data) : cli_io_input(&io, a.data))))
        status = 1;
    if (!status && a.out && (oout = cli_io_output(&io, "-o", a.out)) < 0)
        status = 1;
    if (!status && a.report && (oreport = cli_io_output(&io, "--report", a.report)) < 0)
        status = 1;
    if (!status && a.plot && (oplot = cli_io_output(&io, "--plot", a.plot)) < 0)
        status = 1;
    if (!status)
        status = cli_io_prepare(&io);
    if (!status)
        status = run(&a, &io, oout, oreport, oplot);
    cli_io_free(&io);
    return status;
}
