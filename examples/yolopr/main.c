/* yolopr — the command-line front door of libyolopr. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: yolopr COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  bench kernels [--isa NAME] [--threads N] [--seconds S]\n"
            "                      GFLOP/s of SGEMM and YOLOv7's dominant conv layers\n"
            "  bench MODEL [--size N] [--batch B] [--threads T] [--runs R] [--fuse] [--peak]\n"
            "                      median forward latency and effective GFLOP/s\n"
            "  bench MODEL --train [--size N] [--batch B] [--threads T] [--runs R] [--nc N]\n"
            "        [--loss ota|simple]   median seconds per training step, memory\n"
            "  info MODEL [--weights W] [--size N] [--fuse] [--tensors]\n"
            "                      per-layer table, parameters, MACs, tensor dtypes\n"
            "  detect MODEL IMAGE... [--weights W] [--conf C] [--iou I] [--size N] [--threads T]\n"
            "         [--save OUT.png]\n"
            "  eval MODEL --data DATA.yaml|DIR|VOC [--split val] [--size N] [--batch B] [--conf C]\n"
            "       [--iou I] [--metric yolov7|coco] [--json OUT] [--plots DIR] [--detections DIR]\n"
            "       [--synth N]         mAP@.5, mAP@.5:.95, per-class P/R, speed (YOLOv7 test.py)\n"
            "  graph MODEL [-v] [--dot OUT.dot] [--lanes N [--size S]]   coupled channel groups\n"
            "  prune MODEL --ratio R [--importance l1|l2|lamp|bn|fpgm|random] [--global]\n"
            "        [--round-to N] [--steps K] [--ignore PATTERN]... [--report OUT.json]\n"
            "        -o OUT | --dry-run   (yolopr prune -h: every option)\n"
            "  train MODEL --data DATA.yaml|synth[:COUNT[:SIZE[:CLASSES]]] --epochs N [--batch B]\n"
            "        [--size S] [--hyp FILE|p5|tiny] [--loss ota|simple] [--resume CKPT]\n"
            "        [--prune-steps K --target-macs G] -o OUT.safetensors [--project DIR]\n"
            "                      train / fine-tune (yolopr train -h: every option)\n"
            "  export MODEL -o OUT.onnx [--weights W] [--size N] [--fuse] [--int8 | --float]\n"
            "                      ONNX opset 13, raw head outputs (docs/onnx.md)\n"
            "  convert IN OUT [--weights W] [--nc N] [--fuse]\n"
            "                      any model (cfg, .safetensors, .pt, .onnx) to .onnx or our\n"
            "                      .safetensors checkpoint\n"
            "  quantize MODEL --data DATA [--scheme dpu|per-channel] [--method M]\n"
            "           -o OUT.safetensors|OUT.onnx\n"
            "                      INT8 post-training quantization, fake-quantized checkpoint\n"
            "                      and per-layer SQNR (yolopr quantize -h: every option)\n"
            "  synth OUT_DIR [--images N] [--size S] [--classes K] [--seed X]\n"
            "                      write the built-in synthetic dataset as a YOLO dataset\n"
            "                      (into a new or empty folder)\n"
            "  version             library version and kernel set in use\n"
            "\n"
            "MODEL: yolov7 | yolov7-tiny | yolov7x | a YOLOv7 .yaml cfg | a libyolopr .safetensors |\n"
            "       a YOLOv7 .pt checkpoint (best.pt, last.pt, yolov7.pt: torch.save's zip format) |\n"
            "       an ONNX detector (.onnx)\n"
            "\n"
            "Outputs are never written onto an input or onto anything but a regular file or a\n"
            "new name, and a command that fails writes none. Exit status: 0 done, 1 failed,\n"
            "2 refused (a bad option or output).\n"
            "\n"
            "environment: YPR_SIMD=scalar|avx2|avx512|neon forces a kernel set\n");
}

int cli_fail(const char *what, int status)
{
    const char *detail = ypr_last_error();
    fprintf(stderr, "yolopr: %s: %s\n", what, detail[0] ? detail : ypr_strerror(status));
    return 1;
}

void cli_log(void *user, int level, const char *msg)
{
    (void)user;
    fprintf(stderr, "yolopr: %s: %s\n",
            level <= YPR_LOG_ERROR ? "error" : level <= YPR_LOG_WARN ? "warning" : "info", msg);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* library warnings (skipped images, ignored tensors, clamped groups) */
    ypr_set_log_callback(cli_log, NULL, YPR_LOG_WARN);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("yolopr %s (library %s, kernels %s)\n", YPR_VERSION_STRING,
               ypr_version_string(), ypr_simd_active());
        return 0;
    }
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "detect") == 0)
        return cmd_detect(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "prune") == 0)
        return cmd_prune(argc - 1, argv + 1);
    if (strcmp(argv[1], "graph") == 0)
        return cmd_graph(argc - 1, argv + 1);
    if (strcmp(argv[1], "train") == 0)
        return cmd_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "synth") == 0)
        return cmd_synth(argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(argv[1], "convert") == 0)
        return cmd_convert(argc - 1, argv + 1);
    if (strcmp(argv[1], "quantize") == 0)
        return cmd_quant(argc - 1, argv + 1);
    fprintf(stderr, "yolopr: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
