/* YOLO-format sources: a folder of images (walked recursively, sorted), a
 * .txt list of images or a single image, each image added with its size
 * (read from its header) and its labels (yolo_labels.c). An image that is
 * missing, not a regular file or whose header cannot be read is an image
 * problem (STRICT fails, SKIP skips and counts it). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data.h"

#define MAX_DIR_DEPTH 16

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

/* Add one image (named in the list `from` at `line`, or found by walking a
 * folder when from is NULL). Returns <0 error, 0 added or skipped. */
static int add_image(ypr_ds_open *c, const char *path, const char *from, int line)
{
    ypr_ds_item it = {0};
    int rc = ypr__image_size(path, &it.w, &it.h);
    if (rc == YPR_ENOMEM)
        return rc;
    if (rc < 0) {
        if (rc == YPR_ENOTFOUND)
            rc = ypr__ds_problem(c->ds, c->policy, YPR_DS_IMAGE, rc, from ? from : path, line,
                                 "missing image '%s'", path);
        else if (from)
            rc = ypr__ds_problem(c->ds, c->policy, YPR_DS_IMAGE, rc, from, line,
                                 "image '%s': %s", path, ypr__error_detail(path));
        else
            rc = ypr__ds_problem(c->ds, c->policy, YPR_DS_IMAGE, rc, path, 0, "%s",
                                 ypr__error_detail(path));
        return rc < 0 ? rc : 0;
    }
    int missing = 0;
    rc = ypr__yolo_labels(c->ds, c->policy, path, it.w, it.h, &it.rows, &it.n, &missing,
                          &c->max_cls);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return 0;
    c->no_label_file += missing;
    it.path = ypr__strdup(path);
    if (!it.path) {
        free(it.rows);
        return ypr__error(YPR_ENOMEM, "dataset: out of memory");
    }
    return ypr__ds_push(c->ds, &it);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folders being walked, outermost first: a symbolic link back to one of
 * them is not followed. */
typedef struct walk {
    dev_t dev[MAX_DIR_DEPTH + 1];
    ino_t ino[MAX_DIR_DEPTH + 1];
    int *unsupported;
} walk;

/* Image files under dir (any entry with an image extension that is not a
 * folder: add_image reports what is wrong with it). */
static int list_images(const char *dir, int depth, walk *w, ypr_strvec *out)
{
    RETURN_IF(depth > MAX_DIR_DEPTH, YPR_ERANGE, "%s: folders nested deeper than %d", dir,
              MAX_DIR_DEPTH);
    struct stat st;
    RETURN_IF(stat(dir, &st) != 0, YPR_EIO, "%s: cannot list folder: %s", dir, strerror(errno));
    for (int k = 0; k < depth; k++)
        if (w->dev[k] == st.st_dev && w->ino[k] == st.st_ino) {
            ypr__log(YPR_LOG_WARN, "%s: a link back to an enclosing folder; not followed", dir);
            return YPR_OK;
        }
    w->dev[depth] = st.st_dev;
    w->ino[depth] = st.st_ino;
    DIR *d = opendir(dir);
    RETURN_IF(!d, YPR_EIO, "%s: cannot list folder: %s", dir, strerror(errno));
    ypr_strvec sub = {0};
    int rc = YPR_OK;
    struct dirent *e;
    while (rc == YPR_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (out->n >= YPR_DS_MAX_IMAGES) {
            rc = ypr__error(YPR_ERANGE, "%s: more than %d images", dir, YPR_DS_MAX_IMAGES);
            break;
        }
        char *p = ypr__path_join(dir, e->d_name);
        if (!p) {
            rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
            break;
        }
        if (ypr__is_dir(p))
            rc = ypr__sv_push(&sub, p);
        else if (has_image_ext(e->d_name))
            rc = ypr__sv_push(out, p);
        else {
            if (has_other_image_ext(e->d_name))
                (*w->unsupported)++;
            free(p);
        }
    }
    closedir(d);
    if (sub.n > 1)
        qsort(sub.v, (size_t)sub.n, sizeof *sub.v, cmp_str);
    for (int i = 0; rc == YPR_OK && i < sub.n; i++)
        rc = list_images(sub.v[i], depth + 1, w, out);
    ypr__sv_free(&sub);
    return rc;
}

/* A folder (recursively, sorted), a .txt list of images or a single image. */
int ypr__ds_add_source(ypr_ds_open *c, const char *src)
{
    int rc = YPR_OK;
    if (ypr__is_dir(src)) {
        ypr_strvec imgs = {0};
        walk w = {.unsupported = &c->unsupported};
        rc = list_images(src, 0, &w, &imgs);
        if (rc == YPR_OK && imgs.n > 1)
            qsort(imgs.v, (size_t)imgs.n, sizeof *imgs.v, cmp_str);
        for (int i = 0; rc == YPR_OK && i < imgs.n; i++)
            rc = add_image(c, imgs.v[i], NULL, 0);
        ypr__sv_free(&imgs);
        return rc;
    }
    if (ypr__ends_with(src, ".txt")) {
        char *text;
        size_t len;
        TRY(ypr__read_text(src, YPR_DS_TEXT_MAX, &text, &len));
        char *dir = ypr__path_dir(src);
        if (!dir) {
            free(text);
            return ypr__error(YPR_ENOMEM, "dataset: out of memory");
        }
        int line = 0;
        for (char *p = text; rc == YPR_OK && p && *p;) {
            line++;
            char *s = ypr__trim(ypr__next_line(&p));
            if (!s[0] || s[0] == '#')
                continue;
            char *full = ypr__path_join(dir, s);
            if (!full) {
                rc = ypr__error(YPR_ENOMEM, "dataset: out of memory");
                break;
            }
            if (!ypr__exists(full) && s[0] != '/' && ypr__exists(s)) {
                free(full);
                full = ypr__strdup(s);   /* relative to the working folder, as YOLOv7 */
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
    if (has_image_ext(src))
        return add_image(c, src, NULL, 0);
    RETURN_IF(ypr__exists(src) && !ypr__is_file(src), YPR_EIO,
              "%s: not a regular file or a folder", src);
    return ypr__error(YPR_ENOTFOUND, "%s: not a folder, an image list (.txt) or an image", src);
}
