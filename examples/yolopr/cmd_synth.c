/* yolopr synth OUT_DIR: the built-in synthetic dataset written as a YOLO
 * dataset (images/val/NNNNNN.png, or .jpg with --jpeg Q, labels/val/NNNNNN.txt,
 * data.yaml), into a
 * new or empty folder only; a failed write leaves nothing behind. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static const char synth_usage[] =
    "yolopr synth OUT_DIR [--images N] [--size S] [--classes K] [--seed X] [--jpeg QUALITY]";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* OUT_DIR must be a new or an empty folder: synth never deletes nor
 * overwrites anything. Returns 0 and, in *made, the first folder of the path
 * that does not exist yet (NULL if OUT_DIR exists), or CLI_USAGE (printed). */
static int check_out(const char *out, char **made)
{
    struct stat st;
    *made = NULL;
    if (stat(out, &st) == 0) {
        DIR *d = S_ISDIR(st.st_mode) ? opendir(out) : NULL;
        struct dirent *e;
        int empty = d != NULL;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                empty = 0;
        if (d)
            closedir(d);
        if (!empty) {
            fprintf(stderr, "yolopr synth: refusing to write into %s: %s (synth writes only "
                    "into a new or empty folder)\n", out,
                    !S_ISDIR(st.st_mode) ? "it is not a folder" : "the folder is not empty");
            return CLI_USAGE;
        }
        return 0;
    }
    size_t n = strlen(out);
    char *p = malloc(n + 1);
    if (!p)
        return CLI_USAGE;
    memcpy(p, out, n + 1);
    for (size_t i = 1; i <= n; i++)   /* each prefix ending at a '/' or the end */
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (stat(p, &st) != 0) {
                *made = p;
                return 0;
            }
            p[i] = c;
        }
    free(p);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT;
}

/* After a failed write: remove what synth created (the folder was new or empty). */
static void undo(const char *out, const char *made)
{
    if (made) {
        nftw(made, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return;
    }
    DIR *d = opendir(out);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", out, e->d_name);
            nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
    if (d)
        closedir(d);
}

int cmd_synth(int argc, char **argv)
{
    const char *out = NULL;
    int images = 200, size = 416, classes = 8, jpeg = 0;
    uint64_t seed = 0;
    const cli_opt opts[] = {
        CLI_O_INT("--images", &images, 1, 1000000),
        CLI_O_INT("--size", &size, 32, 4096),
        CLI_O_INT("--classes", &classes, 1, 80),
        CLI_O_U64("--seed", &seed),
        CLI_O_INT("--jpeg", &jpeg, 1, 100),
        CLI_O_END,
    };
    int rc = cli_parse("synth", synth_usage, opts, argc, argv, &out, 1, NULL, "OUT_DIR");
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    char *made;
    if ((rc = check_out(out, &made)))
        return rc;
    ypr_dataset *ds = NULL;
    if ((rc = ypr_dataset_synth(images, size, classes, seed, &ds)) < 0) {
        free(made);
        return cli_fail("synth", rc);
    }
    double t0 = now_s();
    rc = ypr_dataset_write_yolo_jpeg(ds, out, jpeg);
    double dt = now_s() - t0;
    if (rc < 0) {
        cli_fail(out, rc);
        undo(out, made);
        free(made);
        ypr_dataset_free(ds);
        return 1;
    }
    free(made);
    long objects = 0;
    for (int i = 0; i < images; i++) {
        int n = 0;
        if (ypr_dataset_labels(ds, i, NULL, 0, &n) == 0)
            objects += n;
    }
    printf("wrote %d images (%dx%d, %d classes, seed %llu, %ld objects) to %s in %.2f s\n",
           images, size, size, classes, (unsigned long long)seed, objects, out, dt);
    printf("classes:");
    for (int c = 0; c < classes; c++)
        printf(" %s", ypr_dataset_class_name(ds, c));
    printf("\ndata: %s/data.yaml\n", out);
    ypr_dataset_free(ds);
    return 0;
}
