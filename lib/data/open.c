/* Opening a detection dataset: ypr_dataset_open() dispatches on what the
 * path is (a data .yaml (data_yaml.c), a Pascal VOC tree, a folder or list
 * of images, an image).
 *
 * Conventions (see docs/design.md):
 * - images/…/x.jpg → labels/…/x.txt (the last `/images/` component becomes
 *   `/labels/`, the extension `.txt`); an image without a label file, or
 *   with an empty one, has no objects.
 * - every image's size is read from its header at open (cheap, no decode)
 *   so labels are served in pixels; the header is checked against the
 *   file's size (a forged or truncated header is caught here). Damage past
 *   the header shows when the image is decoded (ypr_dataset_image).
 * - image problems (missing, not a regular file, unreadable header) and
 *   label problems (a label file that is a directory, FIFO or broken link,
 *   class ≥ nc, coordinates outside [0, 1], malformed line, duplicate box,
 *   a truncated VOC annotation) name the file and line; STRICT fails the
 *   open, SKIP drops the image with a warning (the first
 *   YPR_DS_MAX_WARNINGS one by one, then a summary) and counts it by kind.
 *   A dataset whose every image was skipped fails to open.
 * - every file is read through lib/io's regular-file reader: a FIFO or
 *   device given as any input is refused without blocking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"

static int finish_open(ypr_ds_open *c, const char *what)
{
    ypr_dataset *ds = c->ds;
    if (ds->nc < 0)
        TRY(ypr__ds_set_names(ds, c->max_cls + 1, NULL));
    if (c->no_label_file)
        ypr__log(YPR_LOG_INFO, "%s: %d image(s) without a label file (no objects)", what,
                 c->no_label_file);
    if (c->unsupported)
        ypr__log(YPR_LOG_WARN, "%s: %d image(s) in formats the decoder does not read (bmp, tif, "
                 "webp…) were not included", what, c->unsupported);
    return ypr__ds_finish(ds, what);
}

/* class names from a classes.txt (one per line) next to a folder dataset */
static int read_classes_txt(ypr_dataset *ds, const char *file)
{
    char *text;
    size_t len;
    TRY(ypr__read_text(file, YPR_DS_NAMES_MAX, &text, &len));
    ypr_strvec names = {0};
    int rc = YPR_OK;
    for (char *p = text; rc == YPR_OK && p && *p;) {
        char *s = ypr__trim(ypr__next_line(&p));
        if (*s)
            rc = ypr__sv_push(&names, ypr__strdup(s));
    }
    free(text);
    if (rc == YPR_OK && names.n > 0)
        rc = ypr__ds_set_names(ds, names.n, (const char *const *)names.v);
    ypr__sv_free(&names);
    return rc;
}

/* A folder: a Pascal VOC tree, or images (in images/ if there is one) with
 * an optional classes.txt in the folder or next to it. */
static int open_folder(ypr_ds_open *c, const char *path, const char *split)
{
    char *ann = ypr__path_join(path, "Annotations");
    char *jpg = ypr__path_join(path, "JPEGImages");
    char *sets = ypr__path_join(path, "ImageSets");
    char *img = ypr__path_join(path, "images");
    int rc = YPR_OK;
    if (!ann || !jpg || !sets || !img) {
        rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
    } else if (ypr__is_dir(ann)) {
        rc = ypr__voc_open(path, split, c->policy, c->ds);
    } else if (ypr__exists(ann) || ypr__is_dir(jpg) || ypr__is_dir(sets)) {
        /* walking JPEGImages/ as a folder of unlabelled images would give a
         * dataset with no objects, silently */
        rc = ypr__error(YPR_ENOTFOUND, "%s: a Pascal VOC tree (%s) without an Annotations/ "
                        "folder", path, ypr__exists(ann) ? "Annotations is not a folder"
                                        : ypr__is_dir(jpg) ? "it has JPEGImages/"
                                                           : "it has ImageSets/");
    } else {
        const char *src = ypr__is_dir(img) ? img : path;
        char *cl = ypr__path_join(src, "classes.txt");
        char *dir = ypr__path_dir(src);
        char *cl2 = dir ? ypr__path_join(dir, "classes.txt") : NULL;
        if (!cl || !cl2)
            rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
        else if (ypr__exists(cl))
            rc = read_classes_txt(c->ds, cl);
        else if (ypr__exists(cl2))
            rc = read_classes_txt(c->ds, cl2);
        free(cl);
        free(cl2);
        free(dir);
        if (rc == YPR_OK)
            rc = ypr__ds_add_source(c, src);
    }
    free(ann);
    free(jpg);
    free(sets);
    free(img);
    return rc;
}

int ypr_dataset_open(const char *path, const char *split, int policy, ypr_dataset **out)
{
    RETURN_IF(!out, YPR_EINVAL, "dataset_open: NULL output");
    *out = NULL;
    RETURN_IF(!path || !*path, YPR_EINVAL, "dataset_open: empty path");
    RETURN_IF(policy != YPR_DATASET_STRICT && policy != YPR_DATASET_SKIP, YPR_EINVAL,
              "dataset_open: unknown policy %d", policy);
    if (split && !*split)
        split = NULL;
    ypr_dataset *ds;
    TRY(ypr__ds_new(&ds));
    ypr_ds_open c = {.ds = ds, .policy = policy, .max_cls = -1};
    int rc;
    struct stat st;
    if (ypr__ends_with(path, ".yaml") || ypr__ends_with(path, ".yml"))
        rc = ypr__ds_open_yaml(&c, path, split ? split : "val");   /* any file type: the reader says */
    else if (stat(path, &st) != 0)
        rc = errno == ENOENT ? ypr__error(YPR_ENOTFOUND, "%s: not found", path)
                             : ypr__error(YPR_EIO, "%s: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = open_folder(&c, path, split);
    else
        rc = ypr__ds_add_source(&c, path);   /* an image list or an image */
    if (rc == YPR_OK)
        rc = finish_open(&c, path);
    if (rc < 0) {
        ypr_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return YPR_OK;
}
