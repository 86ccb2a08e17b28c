/* yolopr synth OUT_DIR: the built-in synthetic dataset written as a YOLO
 * dataset (images/val/NNNNNN.png, labels/val/NNNNNN.txt, data.yaml). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char synth_usage[] =
    "yolopr synth OUT_DIR [--images N] [--size S] [--classes K] [--seed X]";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cmd_synth(int argc, char **argv)
{
    const char *out = NULL;
    int images = 200, size = 416, classes = 8;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        char *end = NULL;
        if (strcmp(a, "--images") == 0 && more) images = (int)strtol(argv[++i], &end, 10);
        else if (strcmp(a, "--size") == 0 && more) size = (int)strtol(argv[++i], &end, 10);
        else if (strcmp(a, "--classes") == 0 && more) classes = (int)strtol(argv[++i], &end, 10);
        else if (strcmp(a, "--seed") == 0 && more) seed = strtoull(argv[++i], &end, 0);
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: %s\n", synth_usage);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "yolopr synth: unknown option '%s'\nusage: %s\n", a, synth_usage);
            return 2;
        } else if (!out) {
            out = a;
        } else {
            fprintf(stderr, "yolopr synth: one OUT_DIR only\nusage: %s\n", synth_usage);
            return 2;
        }
        if (end && *end) {
            fprintf(stderr, "yolopr synth: '%s' is not a number\nusage: %s\n", argv[i],
                    synth_usage);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "usage: %s\n", synth_usage);
        return 2;
    }
    ypr_dataset *ds = NULL;
    int rc = ypr_dataset_synth(images, size, classes, (uint64_t)seed, &ds);
    if (rc < 0)
        return cli_fail("synth", rc);
    double t0 = now_s();
    rc = ypr_dataset_write_yolo(ds, out);
    double dt = now_s() - t0;
    if (rc < 0) {
        ypr_dataset_free(ds);
        return cli_fail(out, rc);
    }
    long objects = 0;
    for (int i = 0; i < images; i++) {
        int n = 0;
        if (ypr_dataset_labels(ds, i, NULL, 0, &n) == 0)
            objects += n;
    }
    printf("wrote %d images (%dx%d, %d classes, seed %llu, %ld objects) to %s in %.2f s\n",
           images, size, size, classes, seed, objects, out, dt);
    printf("classes:");
    for (int c = 0; c < classes; c++)
        printf(" %s", ypr_dataset_class_name(ds, c));
    printf("\ndata: %s/data.yaml\n", out);
    ypr_dataset_free(ds);
    return 0;
}
