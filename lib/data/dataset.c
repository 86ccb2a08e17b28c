/* The ypr_dataset handle: items (image path, labels in pixels, size),
 * class names, the STRICT/SKIP problem policy, and the public getters. How
 * a dataset is opened is in open.c; see the conventions there. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* ------------------------------------------------------------- the handle */

int ypr__ds_new(ypr_dataset **out)
{
    *out = calloc(1, sizeof **out);
    RETURN_IF(!*out, YPR_ENOMEM, "dataset: out of memory");
    (*out)->nc = -1;
    return YPR_OK;
}

int ypr__ds_push(ypr_dataset *ds, ypr_ds_item *it)
{
    if (ds->count == ds->cap) {
        int nc = ds->cap ? ds->cap * 2 : 64;
        ypr_ds_item *ni = ds->count < YPR_DS_MAX_IMAGES
                              ? realloc(ds->items, (size_t)nc * sizeof *ni) : NULL;
        if (!ni) {
            free(it->path);
            free(it->rows);
            if (ds->count >= YPR_DS_MAX_IMAGES)
                return ypr__error(YPR_ERANGE, "dataset: more than %d images",
                                  YPR_DS_MAX_IMAGES);
            return ypr__error(YPR_ENOMEM, "dataset: out of memory");
        }
        ds->items = ni;
        ds->cap = nc;
    }
    ds->items[ds->count++] = *it;
    return YPR_OK;
}

static void free_names(char **names, int n)
{
    if (!names)
        return;
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int ypr__ds_set_names(ypr_dataset *ds, int nc, const char *const *names)
{
    char **nn = calloc((size_t)(nc > 0 ? nc : 1), sizeof *nn);
    RETURN_IF(!nn, YPR_ENOMEM, "dataset: out of memory");
    for (int i = 0; i < nc; i++) {
        nn[i] = ypr__strdup(names && names[i] ? names[i] : "");
        if (!nn[i]) {
            free_names(nn, nc);
            return ypr__error(YPR_ENOMEM, "dataset: out of memory");
        }
    }
    free_names(ds->names, ds->nc);
    ds->names = nn;
    ds->nc = nc;
    return YPR_OK;
}

int ypr__ds_problem(ypr_dataset *ds, int policy, int kind, int code, const char *file,
                    int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[1100];
    if (line > 0)
        snprintf(where, sizeof where, "%s:%d", file, line);
    else
        snprintf(where, sizeof where, "%s", file);
    char full[sizeof where + sizeof msg + 2];
    snprintf(full, sizeof full, "%s: %s", where, msg);
    if (policy != YPR_DATASET_SKIP)
        return ypr__error(code, "%s", full);
    if (!ds->skipped) {
        /* cut if long: it only ends the message of a failed open */
        size_t n = strlen(full);
        n = n < sizeof ds->first_problem ? n : sizeof ds->first_problem - 1;
        memcpy(ds->first_problem, full, n);
        ds->first_problem[n] = 0;
        ds->first_code = code;
    }
    ds->skipped++;
    if (kind == YPR_DS_IMAGE)
        ds->skipped_image++;
    else
        ds->skipped_labels++;
    if (ds->skipped <= YPR_DS_MAX_WARNINGS)
        ypr__log(YPR_LOG_WARN, "%s; image skipped (%s problem)", full,
                 kind == YPR_DS_IMAGE ? "image" : "label");
    if (ds->skipped == YPR_DS_MAX_WARNINGS)
        ypr__log(YPR_LOG_WARN, "further skipped images are only counted (summary at the end)");
    return 1;
}

int ypr__ds_finish(ypr_dataset *ds, const char *what)
{
    if (ds->skipped > YPR_DS_MAX_WARNINGS)
        ypr__log(YPR_LOG_WARN, "%s: %d image(s) skipped, the first %d shown above: %d with "
                 "image problems (missing, not a regular file, unreadable header), %d with "
                 "label problems", what, ds->skipped, YPR_DS_MAX_WARNINGS, ds->skipped_image,
                 ds->skipped_labels);
    else if (ds->skipped)
        ypr__log(YPR_LOG_WARN, "%s: %d image(s) skipped: %d with image problems (missing, "
                 "not a regular file, unreadable header), %d with label problems", what,
                 ds->skipped, ds->skipped_image, ds->skipped_labels);
    RETURN_IF(ds->count == 0 && ds->skipped == 0, YPR_ENOTFOUND, "%s: no images found", what);
    RETURN_IF(ds->count == 0, ds->first_code < 0 ? ds->first_code : YPR_EFORMAT,
              "%s: every image was skipped (%d with image problems, %d with label problems); "
              "the first: %s", what, ds->skipped_image, ds->skipped_labels, ds->first_problem);
    return YPR_OK;
}

void ypr_dataset_free(ypr_dataset *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < ds->count && ds->items; i++) {
        free(ds->items[i].path);
        free(ds->items[i].rows);
    }
    free(ds->items);
    free_names(ds->names, ds->nc);
    free(ds);
}

int ypr_dataset_count(const ypr_dataset *ds)
{
    return ds ? ds->count : 0;
}

int ypr_dataset_num_classes(const ypr_dataset *ds)
{
    return ds && ds->nc > 0 ? ds->nc : 0;
}

const char *ypr_dataset_class_name(const ypr_dataset *ds, int i)
{
    if (!ds || i < 0 || i >= ds->nc || !ds->names) {
        ypr__error(ds ? YPR_ERANGE : YPR_EINVAL, "dataset: class %d outside 0..%d", i,
                   ds ? ds->nc - 1 : -1);
        return NULL;
    }
    return ds->names[i];
}

int ypr_dataset_num_skipped(const ypr_dataset *ds)
{
    return ds ? ds->skipped : 0;
}

int ypr_dataset_num_skipped_for(const ypr_dataset *ds, int reason)
{
    RETURN_IF(!ds, YPR_EINVAL, "dataset_num_skipped_for: NULL dataset");
    switch (reason) {
    case YPR_DATASET_SKIPPED_IMAGE:
        return ds->skipped_image;
    case YPR_DATASET_SKIPPED_LABELS:
        return ds->skipped_labels;
    default:
        return ypr__error(YPR_EINVAL, "dataset_num_skipped_for: unknown reason %d", reason);
    }
}

const char *ypr_dataset_image_path(const ypr_dataset *ds, int i)
{
    if (!ds || i < 0 || i >= ds->count) {
        ypr__error(ds ? YPR_ERANGE : YPR_EINVAL, "dataset: image %d outside 0..%d", i,
                   ds ? ds->count - 1 : -1);
        return NULL;
    }
    if (ds->synth || !ds->items)
        return "";
    return ds->items[i].path;
}

int ypr_dataset_image(const ypr_dataset *ds, int i, uint8_t **rgb, int *width, int *height)
{
    RETURN_IF(!ds || !rgb || !width || !height, YPR_EINVAL, "dataset_image: NULL argument");
    *rgb = NULL;
    *width = *height = 0;
    RETURN_IF(i < 0 || i >= ds->count, YPR_ERANGE, "dataset_image: index %d outside [0, %d)", i,
              ds->count);
    ypr_image img;
    if (ds->synth) {
        TRY(ypr__synth_render(ds, i, &img, NULL, NULL));
    } else {
        const ypr_ds_item *it = &ds->items[i];
        TRY(ypr__image_load(it->path, &img));
        if (img.w != it->w || img.h != it->h) {
            ypr__image_free(&img);
            return ypr__error(YPR_EFORMAT, "%s: decoded size %dx%d differs from its header (%dx%d)",
                              it->path, img.w, img.h, it->w, it->h);
        }
    }
    *rgb = img.rgb;
    *width = img.w;
    *height = img.h;
    return YPR_OK;
}

int ypr_dataset_labels(const ypr_dataset *ds, int i, float *rows, int capacity, int *count)
{
    RETURN_IF(!ds || !count || capacity < 0 || (capacity > 0 && !rows), YPR_EINVAL,
              "dataset_labels: bad argument");
    *count = 0;
    RETURN_IF(i < 0 || i >= ds->count, YPR_ERANGE, "dataset_labels: index %d outside [0, %d)",
              i, ds->count);
    if (ds->synth) {
        float tmp[YPR_SYNTH_MAX_OBJ * 6];
        int n = 0;
        TRY(ypr__synth_render(ds, i, NULL, tmp, &n));
        if (n > 0 && capacity > 0)
            memcpy(rows, tmp, (size_t)(n < capacity ? n : capacity) * 6 * sizeof(float));
        *count = n;
        return YPR_OK;
    }
    const ypr_ds_item *it = &ds->items[i];
    RETURN_IF(it->w < 1 || it->h < 1, YPR_EFORMAT,
              "%s: image size unknown (unreadable header), labels cannot be given in pixels",
              it->path);
    int n = it->n < capacity ? it->n : capacity;
    if (n > 0)
        memcpy(rows, it->rows, (size_t)n * 6 * sizeof(float));
    *count = it->n;
    return YPR_OK;
}
