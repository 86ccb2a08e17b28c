/* Detection datasets: the ypr_dataset handle, YOLO txt labels, folders of
 * images, YOLOv7 data .yaml files (a small reader of their YAML subset) and
 * writing a dataset back as a YOLO tree. Pascal VOC is in voc.c, the
 * synthetic dataset in synth.c.
 *
 * Conventions (see docs/design.md):
 * - images/…/x.jpg → labels/…/x.txt (the last `/images/` component becomes
 *   `/labels/`, the extension `.txt`); an image without a label file, or
 *   with an empty one, has no objects.
 * - every image's size is read from its header at open (cheap, no decode)
 *   so labels are served in pixels; an image whose header cannot be read
 *   stays in the dataset and fails when loaded (ypr_dataset_image,
 *   ypr_dataset_labels), it does not fail the open.
 * - label problems (class ≥ nc, coordinates outside [0, 1], malformed line,
 *   missing image, duplicate box) name the file and line; STRICT fails the
 *   open, SKIP drops the image with a warning and counts it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data.h"
#include "lib/core/json.h"

#define LABEL_MAX_BYTES ((size_t)256 << 20)
#define TEXT_MAX_BYTES ((size_t)256 << 20)
#define COORD_SLACK 1e-6
#define MAX_DIR_DEPTH 16

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* ------------------------------------------------------------ paths, files */

int ypr__is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ypr__is_file(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *ypr__path_join(const char *a, const char *b)
{
    if (!b)
        return NULL;
    if (b[0] == '/' || !a || !a[0] || strcmp(a, ".") == 0)
        return xstrdup(b);
    while (b[0] == '.' && b[1] == '/')
        b += 2;
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/')
        na--;
    char *d = malloc(na + nb + 2);
    if (!d)
        return NULL;
    memcpy(d, a, na);
    d[na] = '/';
    memcpy(d + na + 1, b, nb + 1);
    return d;
}

char *ypr__path_dir(const char *path)
{
    const char *sl = strrchr(path, '/');
    if (!sl)
        return xstrdup(".");
    if (sl == path)
        return xstrdup("/");
    size_t n = (size_t)(sl - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

int ypr__read_text(const char *path, size_t max, char **buf, size_t *len)
{
    return ypr__file_read_all(path, max, buf, len);
}

static int rd(FILE *f, uint8_t *b, size_t n)
{
    return fread(b, 1, n, f) == n;
}

int ypr__image_size(const char *path, int *w, int *h)
{
    *w = *h = 0;
    FILE *f = fopen(path, "rb");
    RETURN_IF(!f, YPR_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t b[24];
    int rc = ypr__error(YPR_EFORMAT, "%s: not a readable PNG or JPEG header", path);
    if (!rd(f, b, 2))
        goto done;
    if (b[0] == 0x89 && b[1] == 'P') {
        if (!rd(f, b + 2, 22) || memcmp(b + 12, "IHDR", 4) != 0)
            goto done;
        uint32_t ww = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
        uint32_t hh = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
        if (ww < 1 || hh < 1 || ww > INT_MAX || hh > INT_MAX)
            goto done;
        *w = (int)ww;
        *h = (int)hh;
        rc = YPR_OK;
    } else if (b[0] == 0xFF && b[1] == 0xD8) {
        for (int guard = 0; guard < 100000; guard++) {
            int c;
            do {
                c = fgetc(f);
            } while (c != EOF && c != 0xFF);
            while (c == 0xFF)
                c = fgetc(f);
            if (c == EOF || c == 0xD9 || c == 0xDA)
                break;
            if (c == 0x01 || (c >= 0xD0 && c <= 0xD7))
                continue;
            if (!rd(f, b, 2))
                break;
            long seg = (long)b[0] << 8 | b[1];
            if (seg < 2)
                break;
            if (c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC) {
                if (!rd(f, b, 5))
                    break;
                int hh = b[1] << 8 | b[2], ww = b[3] << 8 | b[4];
                if (ww < 1 || hh < 1)
                    break;
                *w = ww;
                *h = hh;
                rc = YPR_OK;
                break;
            }
            if (fseek(f, seg - 2, SEEK_CUR) != 0)
                break;
        }
    }
done:
    fclose(f);
    if (rc == YPR_OK)
        ypr__clear_error();
    return rc;
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
           strcasecmp(dot, ".png") == 0;
}

/* image formats YOLOv7 lists that the decoder does not read */
static int has_other_image_ext(const char *name)
{
    static const char *ext[] = {".bmp", ".tif", ".tiff", ".webp", ".dng", ".mpo", ".gif"};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (strcasecmp(dot, ext[i]) == 0)
            return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

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
        ypr_ds_item *ni = nc > 0 ? realloc(ds->items, (size_t)nc * sizeof *ni) : NULL;
        if (!ni) {
            free(it->path);
            free(it->rows);
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
        nn[i] = xstrdup(names && names[i] ? names[i] : "");
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

int ypr__ds_problem(ypr_dataset *ds, int policy, int code, const char *file, int line,
                    const char *fmt, ...)
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
    if (policy != YPR_DATASET_SKIP)
        return ypr__error(code, "%s: %s", where, msg);
    ds->skipped++;
    ypr__log(YPR_LOG_WARN, "%s: %s; image skipped", where, msg);
    return 1;
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

/* ------------------------------------------------------------- YOLO labels */

/* images/…/x.jpg → labels/…/x.txt */
static char *label_path_of(const char *img)
{
    size_t n = strlen(img);
    char *d = malloc(n + 16);
    if (!d)
        return NULL;
    memcpy(d, img, n + 1);
    char *hit = NULL;
    for (char *p = strstr(d, "/images/"); p; p = strstr(p + 1, "/images/"))
        hit = p + 1;
    if (!hit && strncmp(d, "images/", 7) == 0)
        hit = d;
    if (hit)
        memcpy(hit, "labels", 6);
    char *sl = strrchr(d, '/');
    char *dot = strrchr(d, '.');
    if (dot && (!sl || dot > sl + 1))
        *dot = 0;
    strcat(d, ".txt");
    return d;
}

static int parse_num(const char *tok, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(tok, &end);
    return end != tok && *end == 0 && isfinite(*v);
}

typedef struct yline { double v[5]; int line; } yline;

/* Parse the label file of one image. Returns <0 (STRICT error), 1 (skip),
 * 0 ok with rows (pixels when w > 0, normalized otherwise). *missing = 1 if
 * there is no label file. */
static int load_yolo_labels(ypr_dataset *ds, int policy, const char *img, int w, int h,
                            float **rows_out, int *n_out, int *missing, int *max_cls)
{
    *rows_out = NULL;
    *n_out = 0;
    *missing = 0;
    char *lp = label_path_of(img);
    RETURN_IF(!lp, YPR_ENOMEM, "dataset: out of memory");
    if (!ypr__is_file(lp)) {
        *missing = 1;
        free(lp);
        return YPR_OK;
    }
    char *text;
    size_t len;
    int rc = ypr__read_text(lp, LABEL_MAX_BYTES, &text, &len);
    if (rc < 0) {
        rc = ypr__ds_problem(ds, policy, rc, lp, 0, "%s", ypr_last_error());
        free(lp);
        return rc;
    }
    yline *ls = NULL;
    int n = 0, cap = 0;
    int line = 0;
    rc = YPR_OK;
    char *save = NULL;
    if (memchr(text, 0, len)) {
        rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, 1, "malformed label file (NUL byte)");
        goto out;
    }
    for (char *p = text; p && *p && rc == YPR_OK;) {
        line++;
        char *cur = ypr__next_line(&p);
        char *tok[64];
        int nt = 0, more = 0;
        for (char *t = strtok_r(cur, " \t\r\v\f", &save); t; t = strtok_r(NULL, " \t\r\v\f", &save)) {
            if (nt < 64)
                tok[nt++] = t;
            else
                more = 1;
        }
        if (nt == 0)
            continue;
        double v[64];
        int bad = -1;
        for (int k = 0; k < nt; k++)
            if (!parse_num(tok[k], &v[k])) {
                bad = k;
                break;
            }
        if (bad >= 0) {
            rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, line,
                                 "malformed line: '%.40s' is not a number", tok[bad]);
            break;
        }
        double b[5];
        if (nt == 5 && !more) {
            memcpy(b, v, sizeof b);
            for (int k = 1; k < 5; k++)
                if (v[k] < -COORD_SLACK || v[k] > 1 + COORD_SLACK) {
                    rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, line,
                                         "coordinate %g outside [0, 1]", v[k]);
                    break;
                }
            if (rc != YPR_OK)
                break;
        } else if (nt >= 7 && (nt - 1) % 2 == 0 && !more) {
            /* a polygon (segment) label: its box, as YOLOv7 does */
            double x0 = 1e30, y0 = 1e30, x1 = -1e30, y1 = -1e30;
            for (int k = 1; k < nt; k++) {
                if (v[k] < -COORD_SLACK || v[k] > 1 + COORD_SLACK) {
                    rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, line,
                                         "coordinate %g outside [0, 1]", v[k]);
                    break;
                }
                if (k % 2) {
                    x0 = fmin(x0, v[k]);
                    x1 = fmax(x1, v[k]);
                } else {
                    y0 = fmin(y0, v[k]);
                    y1 = fmax(y1, v[k]);
                }
            }
            if (rc != YPR_OK)
                break;
            b[0] = v[0];
            b[1] = (x0 + x1) / 2;
            b[2] = (y0 + y1) / 2;
            b[3] = x1 - x0;
            b[4] = y1 - y0;
        } else {
            rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, line,
                                 "malformed line: expected 5 values `class cx cy w h`, found %d",
                                 nt);
            break;
        }
        if (b[0] < 0 || b[0] != floor(b[0]) || b[0] > 1e6) {
            rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, line,
                                 "malformed line: class '%.40s' is not a class index", tok[0]);
            break;
        }
        if (ds->nc > 0 && b[0] >= ds->nc) {
            rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, line,
                                 "class id %d >= nc (%d)", (int)b[0], ds->nc);
            break;
        }
        for (int k = 0; k < n; k++)
            if (memcmp(ls[k].v, b, sizeof b) == 0) {
                rc = ypr__ds_problem(ds, policy, YPR_EFORMAT, lp, line,
                                     "duplicate box (same as line %d)", ls[k].line);
                break;
            }
        if (rc != YPR_OK)
            break;
        if (n == cap) {
            int nc = cap ? cap * 2 : 16;
            yline *nl2 = realloc(ls, (size_t)nc * sizeof *nl2);
            if (!nl2) {
                rc = ypr__error(YPR_ENOMEM, "%s: out of memory", lp);
                break;
            }
            ls = nl2;
            cap = nc;
        }
        memcpy(ls[n].v, b, sizeof b);
        ls[n].line = line;
        n++;
    }
    if (rc == YPR_OK && n > 0) {
        float *rows = malloc((size_t)n * 6 * sizeof(float));
        if (!rows) {
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", lp);
            goto out;
        }
        double sx = w > 0 ? w : 1, sy = h > 0 ? h : 1;
        for (int k = 0; k < n; k++) {
            const double *b = ls[k].v;
            rows[k * 6 + 0] = (float)b[0];
            rows[k * 6 + 1] = (float)((b[1] - b[3] / 2) * sx);
            rows[k * 6 + 2] = (float)((b[2] - b[4] / 2) * sy);
            rows[k * 6 + 3] = (float)((b[1] + b[3] / 2) * sx);
            rows[k * 6 + 4] = (float)((b[2] + b[4] / 2) * sy);
            rows[k * 6 + 5] = 0;
            if ((int)b[0] > *max_cls)
                *max_cls = (int)b[0];
        }
        *rows_out = rows;
        *n_out = n;
    }
out:
    free(ls);
    free(text);
    free(lp);
    return rc;
}

typedef struct open_ctx {
    ypr_dataset *ds;
    int policy;
    int no_label_file;
    int corrupt;
    int unsupported;
    int max_cls;
} open_ctx;

/* Add one image (existence already checked by the caller or reported here
 * against `from`:`line`). Returns <0 error, 0 added or skipped. */
static int add_image(open_ctx *c, const char *path, const char *from, int line)
{
    if (!ypr__is_file(path)) {
        int rc = ypr__ds_problem(c->ds, c->policy, YPR_ENOTFOUND, from ? from : path, line,
                                 "missing image '%s'", path);
        return rc < 0 ? rc : 0;
    }
    ypr_ds_item it = {0};
    if (ypr__image_size(path, &it.w, &it.h) < 0) {
        it.w = it.h = 0;
        c->corrupt++;
        ypr__log(YPR_LOG_WARN, "%s: unreadable image header; it fails when loaded", path);
    }
    int missing = 0;
    int rc = load_yolo_labels(c->ds, c->policy, path, it.w, it.h, &it.rows, &it.n, &missing,
                              &c->max_cls);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0;
    c->no_label_file += missing;
    it.path = xstrdup(path);
    if (!it.path) {
        free(it.rows);
        return ypr__error(YPR_ENOMEM, "dataset: out of memory");
    }
    return ypr__ds_push(c->ds, &it);
}

int ypr__sv_push(ypr_strvec *s, char *str)
{
    if (!str)
        return ypr__error(YPR_ENOMEM, "dataset: out of memory");
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, (size_t)nc * sizeof *nv);
        if (!nv) {
            free(str);
            return ypr__error(YPR_ENOMEM, "dataset: out of memory");
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = str;
    return YPR_OK;
}

void ypr__sv_free(ypr_strvec *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_images(const char *dir, int depth, ypr_strvec *out, int *unsupported)
{
    RETURN_IF(depth > MAX_DIR_DEPTH, YPR_ERANGE, "%s: folders nested deeper than %d", dir,
              MAX_DIR_DEPTH);
    DIR *d = opendir(dir);
    RETURN_IF(!d, YPR_EIO, "%s: cannot list folder: %s", dir, strerror(errno));
    ypr_strvec sub = {0};
    int rc = YPR_OK;
    struct dirent *e;
    while (rc == YPR_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = ypr__path_join(dir, e->d_name);
        if (!p) {
            rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
            break;
        }
        if (ypr__is_dir(p))
            rc = ypr__sv_push(&sub, p);
        else if (has_image_ext(e->d_name) && ypr__is_file(p))
            rc = ypr__sv_push(out, p);
        else {
            if (has_other_image_ext(e->d_name))
                (*unsupported)++;
            free(p);
        }
    }
    closedir(d);
    if (sub.n > 1)
        qsort(sub.v, (size_t)sub.n, sizeof *sub.v, cmp_str);
    for (int i = 0; rc == YPR_OK && i < sub.n; i++)
        rc = list_images(sub.v[i], depth + 1, out, unsupported);
    ypr__sv_free(&sub);
    return rc;
}

/* A folder (recursively, sorted), a .txt list of images or a single image. */
static int add_source(open_ctx *c, const char *src)
{
    int rc = YPR_OK;
    if (ypr__is_dir(src)) {
        ypr_strvec imgs = {0};
        rc = list_images(src, 0, &imgs, &c->unsupported);
        if (rc == YPR_OK && imgs.n > 1)
            qsort(imgs.v, (size_t)imgs.n, sizeof *imgs.v, cmp_str);
        for (int i = 0; rc == YPR_OK && i < imgs.n; i++)
            rc = add_image(c, imgs.v[i], NULL, 0);
        ypr__sv_free(&imgs);
        return rc;
    }
    if (ends_with(src, ".txt")) {
        char *text;
        size_t len;
        TRY(ypr__read_text(src, TEXT_MAX_BYTES, &text, &len));
        char *dir = ypr__path_dir(src);
        if (!dir) {
            free(text);
            return ypr__error(YPR_ENOMEM, "dataset: out of memory");
        }
        int line = 0;
        for (char *p = text; rc == YPR_OK && p && *p;) {
            line++;
            char *s = ypr__next_line(&p);
            while (isspace((unsigned char)*s))
                s++;
            size_t n = strlen(s);
            while (n && isspace((unsigned char)s[n - 1]))
                s[--n] = 0;
            if (!n || s[0] == '#')
                continue;
            char *full = ypr__path_join(dir, s);
            if (!full) {
                rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
                break;
            }
            if (!ypr__is_file(full) && s[0] != '/' && ypr__is_file(s)) {
                free(full);
                full = xstrdup(s);   /* relative to the working folder, as YOLOv7 */
                if (!full) {
                    rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
                    break;
                }
            }
            rc = add_image(c, full, src, line);
            free(full);
        }
        free(dir);
        free(text);
        return rc;
    }
    if (has_image_ext(src) && ypr__is_file(src))
        return add_image(c, src, NULL, 0);
    return ypr__error(YPR_ENOTFOUND, "%s: not a folder, an image list (.txt) or an image", src);
}

/* -------------------------------------------------- data .yaml (a subset) */

enum { DY_NULL = 0, DY_SCALAR = 1, DY_LIST = 2, DY_MAP = 3 };

typedef struct dyv {
    int type, line;
    char *s;
    char **items;       /* list items; for DY_MAP items[k] is the value of integer key k */
    int n, cap;
} dyv;

typedef struct dyaml {
    char **keys;
    dyv *vals;
    int n, cap;
} dyaml;

static void dy_free(dyaml *y)
{
    for (int i = 0; i < y->n; i++) {
        free(y->keys[i]);
        free(y->vals[i].s);
        for (int k = 0; k < y->vals[i].n; k++)
            free(y->vals[i].items[k]);
        free(y->vals[i].items);
    }
    free(y->keys);
    free(y->vals);
    memset(y, 0, sizeof *y);
}

static const dyv *dy_get(const dyaml *y, const char *key)
{
    for (int i = 0; i < y->n; i++)
        if (strcmp(y->keys[i], key) == 0)
            return &y->vals[i];
    return NULL;
}

char *ypr__next_line(char **p)
{
    char *line = *p, *nl = strchr(line, '\n');
    if (nl)
        *nl = 0;
    *p = nl ? nl + 1 : NULL;
    return line;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Strip quotes (in place); NULL-valued scalars ("", ~, null) → *isnull. */
static char *unquote(char *s, int *isnull)
{
    s = trim(s);
    *isnull = 0;
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        char q = s[0];
        char *o = s;
        for (size_t i = 1; i + 1 < n; i++) {
            if (q == '\'' && s[i] == '\'' && s[i + 1] == '\'' && i + 2 < n)
                i++;
            else if (q == '"' && s[i] == '\\' && i + 2 < n)
                i++;
            *o++ = s[i];
        }
        *o = 0;
        return s;
    }
    if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        *isnull = 1;
    return s;
}

static int dy_item(dyv *v, const char *file, int line, char *key, char *val)
{
    int isnull;
    char *s = unquote(val, &isnull);
    int idx = -1;
    if (key) {
        int kn;
        char *k = unquote(key, &kn);
        char *end;
        long l = strtol(k, &end, 10);
        RETURN_IF(end == k || *end || l < 0 || l > 100000, YPR_EFORMAT,
                  "%s:%d: class name key '%.40s' is not an index", file, line, k);
        idx = (int)l;
    }
    int need = key ? idx + 1 : v->n + 1;
    if (need > v->cap) {
        int nc = v->cap ? v->cap : 16;
        while (nc < need)
            nc *= 2;
        char **ni = realloc(v->items, (size_t)nc * sizeof *ni);
        RETURN_IF(!ni, YPR_ENOMEM, "%s: out of memory", file);
        for (int i = v->cap; i < nc; i++)
            ni[i] = NULL;
        v->items = ni;
        v->cap = nc;
    }
    int at = key ? idx : v->n;
    RETURN_IF(key && v->items[at], YPR_EFORMAT, "%s:%d: class index %d given twice", file, line,
              idx);
    v->items[at] = xstrdup(isnull ? "" : s);
    RETURN_IF(!v->items[at], YPR_ENOMEM, "%s: out of memory", file);
    if (at + 1 > v->n)
        v->n = at + 1;
    return YPR_OK;
}

/* position of the first ':' that separates a key (followed by space/EOL), outside quotes */
static char *key_colon(char *s)
{
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if ((*p == '\'' || *p == '"') && p == s) {
            q = *p;
        } else if (*p == ':' && (p[1] == 0 || isspace((unsigned char)p[1]))) {
            return p;
        }
    }
    return NULL;
}

/* Parse a flow list/map text "[a, 'b', c]" or "{0: a, 1: b}". */
static int dy_flow(dyv *v, char *text, const char *file, int line)
{
    char open = text[0], close = open == '[' ? ']' : '}';
    v->type = open == '[' ? DY_LIST : DY_MAP;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    RETURN_IF(n < 2 || text[n - 1] != close, YPR_EFORMAT, "%s:%d: unterminated '%c'", file,
              line, open);
    text[n - 1] = 0;
    char *p = text + 1;
    while (*p) {
        char *start = p, q = 0;
        int depth = 0;
        for (; *p; p++) {
            if (q) {
                if (*p == q)
                    q = 0;
            } else if (*p == '\'' || *p == '"') {
                q = *p;
            } else if (*p == '[' || *p == '{') {
                depth++;
            } else if (*p == ']' || *p == '}') {
                depth--;
            } else if (*p == ',' && depth == 0) {
                break;
            }
        }
        int last = *p == 0;
        *p = 0;
        char *item = trim(start);
        if (*item) {
            if (v->type == DY_MAP) {
                char *c = key_colon(item);
                if (!c)
                    c = strchr(item, ':');
                RETURN_IF(!c, YPR_EFORMAT, "%s:%d: expected `index: name` in '{…}'", file, line);
                *c = 0;
                TRY(dy_item(v, file, line, item, c + 1));
            } else {
                TRY(dy_item(v, file, line, NULL, item));
            }
        }
        if (last)
            break;
        p++;
    }
    return YPR_OK;
}

/* strip a YAML comment: '#' at the start or after whitespace, outside quotes */
static void strip_comment(char *s)
{
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            if (p == s || isspace((unsigned char)p[-1]) || p[-1] == '[' || p[-1] == ',' ||
                p[-1] == '{' || p[-1] == ':')
                q = *p;
        } else if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
            *p = 0;
            return;
        }
    }
}

static int dy_parse(char *text, const char *file, dyaml *y)
{
    memset(y, 0, sizeof *y);
    int line = 0;
    dyv *cur = NULL;        /* the last top-level value (block entries attach to it) */
    int block_scalar = 0;   /* skipping a `|` or `>` block */
    char *flow = NULL;      /* accumulating a multi-line flow collection */
    size_t flow_len = 0;
    int flow_line = 0, flow_depth = 0;
    int rc = YPR_OK;
    for (char *p = text; p && rc == YPR_OK;) {
        line++;
        char *raw = ypr__next_line(&p);
        size_t rl = strlen(raw);
        if (rl && raw[rl - 1] == '\r')
            raw[--rl] = 0;
        if (line == 1 && (unsigned char)raw[0] == 0xEF && (unsigned char)raw[1] == 0xBB &&
            (unsigned char)raw[2] == 0xBF)
            raw += 3;
        strip_comment(raw);
        int indent = 0;
        while (raw[indent] == ' ' || raw[indent] == '\t')
            indent++;
        char *s = trim(raw);
        if (flow) {
            size_t n = strlen(s);
            char *nf = realloc(flow, flow_len + n + 2);
            if (!nf) {
                rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                break;
            }
            flow = nf;
            flow[flow_len++] = ' ';
            memcpy(flow + flow_len, s, n + 1);
            flow_len += n;
            char q = 0;
            for (char *c = s; *c; c++) {
                if (q) {
                    if (*c == q)
                        q = 0;
                } else if (*c == '\'' || *c == '"') {
                    q = *c;
                } else if (*c == '[' || *c == '{') {
                    flow_depth++;
                } else if (*c == ']' || *c == '}') {
                    flow_depth--;
                }
            }
            if (flow_depth <= 0) {
                rc = dy_flow(cur, flow, file, flow_line);
                free(flow);
                flow = NULL;
            }
            continue;
        }
        if (!*s)
            continue;
        if (indent > 0) {
            if (block_scalar || !cur)
                continue;
            if (cur->type == DY_NULL || cur->type == DY_LIST || cur->type == DY_MAP) {
                if (s[0] == '-' && (s[1] == 0 || isspace((unsigned char)s[1]))) {
                    if (cur->type == DY_MAP) {
                        rc = ypr__error(YPR_EFORMAT, "%s:%d: list item inside a mapping", file,
                                        line);
                        break;
                    }
                    cur->type = DY_LIST;
                    rc = dy_item(cur, file, line, NULL, s + 1);
                    continue;
                }
                char *c = key_colon(s);
                if (c && cur->type != DY_LIST) {
                    *c = 0;
                    cur->type = DY_MAP;
                    rc = dy_item(cur, file, line, s, c + 1);
                    continue;
                }
            }
            continue;   /* nested content of keys we do not read */
        }
        block_scalar = 0;
        if (s[0] == '-' || s[0] == '[' || s[0] == '{') {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: expected `key: value` at the top level", file,
                            line);
            break;
        }
        char *c = key_colon(s);
        if (!c) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: expected `key: value`", file, line);
            break;
        }
        *c = 0;
        int kn;
        char *key = unquote(s, &kn);
        char *val = trim(c + 1);
        if (y->n == y->cap) {
            int nc = y->cap ? y->cap * 2 : 16;
            char **nk = realloc(y->keys, (size_t)nc * sizeof *nk);
            if (!nk) {
                rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                break;
            }
            y->keys = nk;
            dyv *nv = realloc(y->vals, (size_t)nc * sizeof *nv);
            if (!nv) {
                rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                break;
            }
            y->vals = nv;
            y->cap = nc;
        }
        for (int i = 0; i < y->n; i++)
            if (strcmp(y->keys[i], key) == 0) {
                rc = ypr__error(YPR_EFORMAT, "%s:%d: key '%s' given twice (first on line %d)",
                                file, line, key, y->vals[i].line);
                break;
            }
        if (rc < 0)
            break;
        y->keys[y->n] = xstrdup(key);
        if (!y->keys[y->n]) {
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
            break;
        }
        cur = &y->vals[y->n++];
        memset(cur, 0, sizeof *cur);
        cur->line = line;
        if (val[0] == '|' || val[0] == '>') {
            block_scalar = 1;
            cur->type = DY_SCALAR;
            cur->s = xstrdup("");
        } else if (val[0] == '[' || val[0] == '{') {
            flow_depth = 0;
            char q = 0;
            for (char *ch = val; *ch; ch++) {
                if (q) {
                    if (*ch == q)
                        q = 0;
                } else if (*ch == '\'' || *ch == '"') {
                    q = *ch;
                } else if (*ch == '[' || *ch == '{') {
                    flow_depth++;
                } else if (*ch == ']' || *ch == '}') {
                    flow_depth--;
                }
            }
            if (flow_depth <= 0) {
                rc = dy_flow(cur, val, file, line);
            } else {
                flow_len = strlen(val);
                flow = malloc(flow_len + 1);
                if (!flow) {
                    rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                    break;
                }
                memcpy(flow, val, flow_len + 1);
                flow_line = line;
            }
        } else {
            int isnull;
            char *v = unquote(val, &isnull);
            if (!isnull) {
                cur->type = DY_SCALAR;
                cur->s = xstrdup(v);
                if (!cur->s)
                    rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
            }
        }
    }
    if (rc == YPR_OK && flow)
        rc = ypr__error(YPR_EFORMAT, "%s:%d: unterminated '%c'", file, flow_line, flow[0]);
    free(flow);
    if (rc < 0)
        dy_free(y);
    return rc;
}

/* Resolve a path from the yaml: root/p, then p from the working folder,
 * then root/(p without a leading ../) (Roboflow exports write
 * `../valid/images` next to the data.yaml). malloc'd or NULL (not found). */
static char *resolve(const char *root, const char *p)
{
    char *a = ypr__path_join(root, p);
    if (!a || p[0] == '/' || ypr__is_dir(a) || ypr__is_file(a))
        return a;
    if (ypr__is_dir(p) || ypr__is_file(p)) {
        free(a);
        return xstrdup(p);
    }
    if (strncmp(p, "../", 3) == 0) {
        char *b = ypr__path_join(root, p + 3);
        if (b && (ypr__is_dir(b) || ypr__is_file(b))) {
            free(a);
            return b;
        }
        free(b);
    }
    return a;
}

static int finish_open(open_ctx *c, const char *what)
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
    if (ds->skipped)
        ypr__log(YPR_LOG_WARN, "%s: %d image(s) skipped because of label problems", what,
                 ds->skipped);
    if (c->corrupt)
        ypr__log(YPR_LOG_WARN, "%s: %d image(s) with unreadable headers (they fail when loaded)",
                 what, c->corrupt);
    RETURN_IF(ds->count == 0 && ds->skipped == 0, YPR_ENOTFOUND, "%s: no images found", what);
    return YPR_OK;
}

static int open_yaml(open_ctx *c, const char *path, const char *split)
{
    char *text;
    size_t len;
    TRY(ypr__read_text(path, TEXT_MAX_BYTES, &text, &len));
    dyaml y;
    int rc = dy_parse(text, path, &y);
    free(text);
    TRY(rc);
    char *dir = ypr__path_dir(path), *root = NULL;
    if (!dir) {
        dy_free(&y);
        return ypr__error(YPR_ENOMEM, "dataset: out of memory");
    }
    const dyv *pv = dy_get(&y, "path");
    if (pv && pv->type == DY_SCALAR && pv->s[0]) {
        root = ypr__path_join(dir, pv->s);
        if (root && !ypr__is_dir(root)) {
            free(root);
            root = ypr__is_dir(pv->s) ? xstrdup(pv->s) : xstrdup(dir);
        }
    } else {
        root = xstrdup(dir);
    }
    free(dir);
    if (!root) {
        dy_free(&y);
        return ypr__error(YPR_ENOMEM, "dataset: out of memory");
    }
    const dyv *ncv = dy_get(&y, "nc"), *nv = dy_get(&y, "names"), *sv = dy_get(&y, split);
    int nc = -1;
    if (ncv && ncv->type != DY_NULL) {
        char *end = NULL;
        long l = ncv->type == DY_SCALAR ? strtol(ncv->s, &end, 10) : -1;
        if (!end || end == ncv->s || *end || l < 1 || l > 100000) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: nc must be a positive integer", path, ncv->line);
            goto out;
        }
        nc = (int)l;
    }
    if (nv && nv->type != DY_NULL) {
        if (nv->type != DY_LIST && nv->type != DY_MAP) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: names must be a list", path, nv->line);
            goto out;
        }
        for (int i = 0; i < nv->n; i++)
            if (!nv->items[i]) {
                rc = ypr__error(YPR_EFORMAT, "%s:%d: names has no entry for class %d", path,
                                nv->line, i);
                goto out;
            }
        if (nc >= 0 && nv->n != nc) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: names has %d entries but nc is %d", path,
                            nv->line, nv->n, nc);
            goto out;
        }
        if (nv->n < 1) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: names is empty", path, nv->line);
            goto out;
        }
        nc = nv->n;
    }
    if (nc < 0) {
        rc = ypr__error(YPR_ENOTFOUND, "%s: missing key 'nc' (and 'names')", path);
        goto out;
    }
    if (!sv) {
        rc = ypr__error(YPR_ENOTFOUND, "%s: missing key '%s' (the split)", path, split);
        goto out;
    }
    if (sv->type == DY_NULL || (sv->type == DY_LIST && sv->n == 0)) {
        rc = ypr__error(YPR_ENOTFOUND, "%s:%d: split '%s' is empty", path, sv->line, split);
        goto out;
    }
    if (sv->type == DY_MAP) {
        rc = ypr__error(YPR_EFORMAT, "%s:%d: split '%s' must be a path or a list of paths", path,
                        sv->line, split);
        goto out;
    }
    rc = ypr__ds_set_names(c->ds, nc, nv && nv->type != DY_NULL ? (const char *const *)nv->items
                                                                 : NULL);
    int ns = sv->type == DY_LIST ? sv->n : 1;
    for (int i = 0; rc == YPR_OK && i < ns; i++) {
        const char *e = sv->type == DY_LIST ? sv->items[i] : sv->s;
        if (!e[0]) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: empty path in split '%s'", path, sv->line, split);
            break;
        }
        char *full = resolve(root, e);
        if (!full) {
            rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
            break;
        }
        if (!ypr__is_dir(full) && !ypr__is_file(full))
            rc = ypr__error(YPR_ENOTFOUND, "%s:%d: split '%s': '%s' not found (looked for %s)",
                            path, sv->line, split, e, full);
        else
            rc = add_source(c, full);
        free(full);
    }
out:
    free(root);
    dy_free(&y);
    return rc;
}

/* class names from a classes.txt (one per line) next to a folder dataset */
static int read_classes_txt(ypr_dataset *ds, const char *file)
{
    char *text;
    size_t len;
    TRY(ypr__read_text(file, TEXT_MAX_BYTES, &text, &len));
    ypr_strvec names = {0};
    int rc = YPR_OK;
    for (char *p = text; rc == YPR_OK && p && *p;) {
        char *s = trim(ypr__next_line(&p));
        if (*s)
            rc = ypr__sv_push(&names, xstrdup(s));
    }
    free(text);
    if (rc == YPR_OK && names.n > 0)
        rc = ypr__ds_set_names(ds, names.n, (const char *const *)names.v);
    ypr__sv_free(&names);
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
    open_ctx c = {ds, policy, 0, 0, 0, -1};
    int rc;
    struct stat st;
    if (stat(path, &st) != 0) {
        rc = ypr__error(YPR_ENOTFOUND, "%s: not found", path);
    } else if (S_ISREG(st.st_mode) && (ends_with(path, ".yaml") || ends_with(path, ".yml"))) {
        rc = open_yaml(&c, path, split ? split : "val");
    } else if (S_ISDIR(st.st_mode)) {
        char *ann = ypr__path_join(path, "Annotations");
        char *img = ypr__path_join(path, "images");
        if (!ann || !img)
            rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
        else if (ypr__is_dir(ann))
            rc = ypr__voc_open(path, split, policy, ds);
        else {
            const char *src = ypr__is_dir(img) ? img : path;
            char *cl = ypr__path_join(src, "classes.txt");
            char *dir = ypr__path_dir(src);
            char *cl2 = dir ? ypr__path_join(dir, "classes.txt") : NULL;
            if (!cl || !cl2)
                rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
            else if (ypr__is_file(cl))
                rc = read_classes_txt(ds, cl);
            else if (ypr__is_file(cl2))
                rc = read_classes_txt(ds, cl2);
            else
                rc = YPR_OK;
            free(cl);
            free(cl2);
            free(dir);
            if (rc == YPR_OK)
                rc = add_source(&c, src);
        }
        free(ann);
        free(img);
    } else if (S_ISREG(st.st_mode)) {
        rc = add_source(&c, path);
    } else {
        rc = ypr__error(YPR_EUNSUPPORTED, "%s: not a file or folder", path);
    }
    if (rc == YPR_OK)
        rc = finish_open(&c, path);
    if (rc < 0) {
        ypr_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return YPR_OK;
}

/* ------------------------------------------------------------ write YOLO */

static int mkdir_p(const char *path)
{
    char *p = xstrdup(path);
    RETURN_IF(!p, YPR_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                int rc = ypr__error(YPR_EIO, "%s: cannot create folder: %s", p, strerror(e));
                free(p);
                return rc;
            }
            if (!ypr__is_dir(p)) {
                int rc = ypr__error(YPR_EIO, "%s: exists and is not a folder", p);
                free(p);
                return rc;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return YPR_OK;
}

static int write_text(const char *path, const char *text, size_t n)
{
    ypr_atomic_file af;
    TRY(ypr__afile_open(&af, path));
    if (n && fwrite(text, 1, n, (FILE *)af.fp) != n) {
        ypr__afile_abort(&af);
        return ypr__error(YPR_EIO, "%s: write failed", path);
    }
    return ypr__afile_commit(&af);
}

/* our own NNNNNN.png / NNNNNN.txt names with an index ≥ count: stale files
 * of an earlier, larger write; removed so the folder holds this dataset */
static void remove_stale(const char *dir, const char *ext, int count)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    int foreign = 0;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] == '.')
            continue;
        int digits = 0;
        while (digits < 7 && isdigit((unsigned char)n[digits]))
            digits++;
        if (digits == 6 && strcmp(n + 6, ext) == 0) {
            if (atoi(n) >= count) {
                char *p = ypr__path_join(dir, n);
                if (p)
                    remove(p);
                free(p);
            }
        } else {
            foreign++;
        }
    }
    closedir(d);
    if (foreign)
        ypr__log(YPR_LOG_WARN, "%s: %d file(s) not written by this dataset are in the folder",
                 dir, foreign);
}

static void yaml_quote(ypr_strbuf *sb, const char *s)
{
    ypr__sb_puts(sb, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            ypr__sb_puts(sb, "''");
        else if (*p == '\n' || *p == '\r')
            ypr__sb_puts(sb, " ");
        else
            ypr__sb_append(sb, p, 1);
    }
    ypr__sb_puts(sb, "'");
}

int ypr_dataset_write_yolo(const ypr_dataset *ds, const char *out_dir)
{
    RETURN_IF(!ds || !out_dir || !*out_dir, YPR_EINVAL, "dataset_write_yolo: bad argument");
    RETURN_IF(ds->count > 1000000, YPR_ERANGE, "dataset_write_yolo: more than 10^6 images");
    char *img_dir = ypr__path_join(out_dir, "images/val");
    char *lab_dir = ypr__path_join(out_dir, "labels/val");
    char *yaml = ypr__path_join(out_dir, "data.yaml");
    char *abs = NULL, *abs_img = NULL;
    float *rows = NULL;
    int rc = YPR_OK, cap = 0, dropped = 0;
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    if (!img_dir || !lab_dir || !yaml) {
        rc = ypr__error(YPR_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = mkdir_p(img_dir)) < 0 || (rc = mkdir_p(lab_dir)) < 0)
        goto out;
    abs = realpath(out_dir, NULL);
    if (!abs) {
        rc = ypr__error(YPR_EIO, "%s: cannot resolve: %s", out_dir, strerror(errno));
        goto out;
    }
    abs_img = ypr__path_join(abs, "images/val");
    if (!abs_img) {
        rc = ypr__error(YPR_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < ds->count && rc == YPR_OK; i++) {
        char name[64], *p;
        ypr_image img = {0};
        rc = ypr_dataset_image(ds, i, &img.rgb, &img.w, &img.h);
        if (rc < 0)
            break;
        snprintf(name, sizeof name, "%06d.png", i);
        p = ypr__path_join(img_dir, name);
        rc = p ? ypr__png_write(p, &img) : ypr__error(YPR_ENOMEM, "out of memory");
        free(p);
        int n = 0;
        if (rc == YPR_OK)
            rc = ypr_dataset_labels(ds, i, rows, cap, &n);
        if (rc == YPR_OK && n > cap) {
            free(rows);
            cap = n;
            rows = malloc((size_t)cap * 6 * sizeof(float));
            rc = rows ? ypr_dataset_labels(ds, i, rows, cap, &n)
                      : ypr__error(YPR_ENOMEM, "out of memory");
        }
        if (rc == YPR_OK) {
            sb.len = 0;
            double W = img.w, H = img.h;
            for (int k = 0; k < n; k++) {
                const float *r = rows + (size_t)k * 6;
                if (r[5] != 0) {   /* YOLO has no difficult flag: left out, as VOC→YOLO does */
                    dropped++;
                    continue;
                }
                double x1 = r[1], y1 = r[2], x2 = r[3], y2 = r[4];
                ypr__sb_printf(&sb, "%d %.9g %.9g %.9g %.9g\n", (int)r[0], (x1 + x2) / 2 / W,
                               (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H);
            }
            snprintf(name, sizeof name, "%06d.txt", i);
            p = ypr__path_join(lab_dir, name);
            if (sb.failed || !p)
                rc = ypr__error(YPR_ENOMEM, "out of memory");
            else
                rc = write_text(p, sb.data ? sb.data : "", sb.len);
            free(p);
        }
        ypr__image_free(&img);
    }
    if (rc < 0)
        goto out;
    remove_stale(img_dir, ".png", ds->count);
    remove_stale(lab_dir, ".txt", ds->count);
    if (dropped)
        ypr__log(YPR_LOG_INFO, "%s: %d difficult box(es) left out (YOLO labels have no flag)",
                 out_dir, dropped);
    sb.len = 0;
    ypr__sb_printf(&sb,
                   "# YOLO dataset written by libyolopr %s: %d images.\n"
                   "# train/val are absolute so YOLOv7's train.py/test.py can use this file.\n"
                   "path: ",
                   ypr_version_string(), ds->count);
    yaml_quote(&sb, abs);
    ypr__sb_puts(&sb, "\ntrain: ");
    yaml_quote(&sb, abs_img);
    ypr__sb_puts(&sb, "\nval: ");
    yaml_quote(&sb, abs_img);
    ypr__sb_printf(&sb, "\n\nnc: %d\nnames: [", ds->nc > 0 ? ds->nc : 0);
    for (int k = 0; k < ds->nc; k++) {
        if (k)
            ypr__sb_puts(&sb, ", ");
        yaml_quote(&sb, ds->names && ds->names[k] && ds->names[k][0] ? ds->names[k] : "unnamed");
    }
    ypr__sb_puts(&sb, "]\n");
    if (sb.failed) {
        rc = ypr__error(YPR_ENOMEM, "out of memory");
        goto out;
    }
    rc = write_text(yaml, sb.data, sb.len);
out:
    ypr__sb_free(&sb);
    free(rows);
    free(abs);
    free(abs_img);
    free(img_dir);
    free(lab_dir);
    free(yaml);
    return rc;
}
