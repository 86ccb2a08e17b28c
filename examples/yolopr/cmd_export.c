/* yolopr export MODEL -o OUT.onnx, yolopr convert IN OUT: a model from any
 * format ypr_model_load() reads (cfg, built-in name, our .safetensors
 * checkpoint, .onnx) written as ONNX or as our checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const char export_usage[] =
    "yolopr export MODEL -o OUT.onnx [--weights W] [--size N] [--fuse] [--int8 | --float]\n"
    "  MODEL: yolov7 | yolov7-tiny | yolov7x | cfg .yaml | .safetensors | .onnx\n"
    "  -o OUT.onnx    ONNX opset 13: raw head outputs [batch, anchors, H, W, 5 + nc] per\n"
    "                 level, class names, anchors and strides in metadata_props (docs/onnx.md)\n"
    "  --weights W    safetensors weights loaded by name into MODEL\n"
    "  --size N       the input size the graph declares ([batch, 3, N, N]; default: the\n"
    "                 model's, 640 for a cfg)\n"
    "  --fuse         fold BatchNorm, RepConv and implicit layers first\n"
    "  A quantized MODEL (yolopr quantize) is written in ONNX's QDQ form: QuantizeLinear/\n"
    "  DequantizeLinear on every quantized value, INT8 weights, INT32 biases\n"
    "  --int8         require that form (an error for a float MODEL)\n"
    "  --float        a quantized MODEL as plain float ops (its weights, no QDQ)";

static const char convert_usage[] =
    "yolopr convert IN OUT [--weights W] [--nc N] [--fuse]\n"
    "  IN: yolov7 | yolov7-tiny | yolov7x | cfg .yaml | .safetensors | .onnx | a YOLOv7 .pt\n"
    "      checkpoint (best.pt, last.pt: the EMA model when present)\n"
    "  --weights W: a state_dict (.safetensors or .pt) loaded by name into IN\n"
    "  --nc N: the class count a cfg is built with (default: the cfg's)\n"
    "  OUT: .onnx (as yolopr export) or our .safetensors checkpoint (weights under their\n"
    "       state_dict names plus the net description; yolopr info/detect/prune/train read it)";

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Load, optionally with weights, resized and fused; 0 or 1 (printed). */
static int load(const char *path, const char *weights, int nc, int size, int fuse,
                ypr_model **m)
{
    const char *what = path;
    int rc = nc ? ypr_model_from_cfg(path, nc, 0, 0, 0, m) : ypr_model_load(path, m);
    if (rc == 0 && weights && (rc = ypr_model_load_weights(*m, weights, 0)) < 0)
        what = weights;
    if (rc == 0 && size && (rc = ypr_model_set_int(*m, YPR_MODEL_INPUT_SIZE, size)) < 0)
        what = "--size";
    if (rc == 0 && fuse && (rc = ypr_model_fuse(*m)) < 0)
        what = "--fuse";
    if (rc < 0) {
        ypr_model_free(*m);
        *m = NULL;
        return cli_fail(what, rc);
    }
    return 0;
}

/* Read IN (and WEIGHTS), write OUT as ONNX or checkpoint by its extension. */
static int run(const char *cmd, const char *in, const char *weights, const char *out,
               const char *opt, int nc, int size, int fuse, unsigned flags)
{
    cli_io io;
    cli_io_init(&io, cmd);
    ypr_model *m = NULL;
    int onnx = ends_with(out, ".onnx"), idx = -1;
    int status = cli_io_input(&io, in) || cli_io_input(&io, weights);
    if (!status && (idx = cli_io_output(&io, opt, out)) < 0)
        status = 1;
    if (!status)
        status = cli_io_prepare(&io);
    if (!status)
        status = load(in, weights, nc, size, fuse, &m);
    if (!status) {
        const char *stage = io.out[idx].stage;
        int rc = onnx ? ypr_model_export_onnx_flags(m, stage, flags) : ypr_model_save(m, stage);
        status = rc < 0 ? cli_fail(out, rc) : cli_io_commit(&io);
    }
    if (!status)
        printf("wrote %s (%s, %d classes, %lld parameters)\n", out,
               onnx ? "ONNX opset 13" : "libyolopr checkpoint", ypr_model_num_classes(m),
               (long long)ypr_model_num_params(m));
    cli_io_free(&io);
    ypr_model_free(m);
    return status;
}

int cmd_export(int argc, char **argv)
{
    const char *out = NULL, *weights = NULL, *pos[1];
    int size = 0, fuse = 0, npos = 0, int8 = 0, fl = 0;
    const cli_opt table[] = {
        CLI_O_STR("-o", &out), CLI_O_STR("--weights", &weights), CLI_O_SIZE("--size", &size),
        CLI_O_FLAG("--fuse", &fuse), CLI_O_FLAG("--int8", &int8), CLI_O_FLAG("--float", &fl),
        CLI_O_END};
    int rc = cli_parse("export", export_usage, table, argc, argv, pos, 1, &npos, "MODEL");
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if (!out || !ends_with(out, ".onnx")) {
        fprintf(stderr, "yolopr export: -o OUT.onnx is required (an .onnx name)\n%s\n",
                export_usage);
        return CLI_USAGE;
    }
    if (int8 && fl) {
        fprintf(stderr, "yolopr export: --int8 and --float exclude each other\n%s\n",
                export_usage);
        return CLI_USAGE;
    }
    return run("export", pos[0], weights, out, "-o", 0, size, fuse,
               int8 ? YPR_EXPORT_INT8 : fl ? YPR_EXPORT_FLOAT : 0);
}

int cmd_convert(int argc, char **argv)
{
    const char *weights = NULL, *pos[2];
    int fuse = 0, npos = 0, nc = 0;
    const cli_opt table[] = {CLI_O_STR("--weights", &weights), CLI_O_INT("--nc", &nc, 1, 100000),
                             CLI_O_FLAG("--fuse", &fuse), CLI_O_END};
    int rc = cli_parse("convert", convert_usage, table, argc, argv, pos, 2, &npos, "IN");
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if (npos != 2 || (!ends_with(pos[1], ".onnx") && !ends_with(pos[1], ".safetensors"))) {
        fprintf(stderr, "yolopr convert: expected IN and OUT (.onnx or .safetensors)\n%s\n",
                convert_usage);
        return CLI_USAGE;
    }
    return run("convert", pos[0], weights, pos[1], "OUT", nc, 0, fuse, 0);
}
