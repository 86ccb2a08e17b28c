/* Writing a dataset as a YOLO tree: PNG images under images/val/, label
 * files under labels/val/ and a data.yaml YOLOv7's tools read, into a new
 * or empty folder only. Nothing the caller had is ever replaced or deleted;
 * a failed write removes what it wrote (each file is written atomically). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "lib/core/json.h"

/* ------------------------------------------------------------ write YOLO */

/* The target must be new or an empty folder: the writer never replaces nor
 * deletes a file it did not write in this call. */
static int check_target(const char *out_dir)
{
    struct stat st;
    if (stat(out_dir, &st) != 0) {
        RETURN_IF(errno != ENOENT, YPR_EIO, "%s: cannot inspect: %s", out_dir, strerror(errno));
        return YPR_OK;   /* a new folder (missing parents are made too) */
    }
    RETURN_IF(!S_ISDIR(st.st_mode), YPR_EIO,
              "%s: exists and is not a folder (a dataset is written into a new or empty folder)",
              out_dir);
    DIR *d = opendir(out_dir);
    RETURN_IF(!d, YPR_EIO, "%s: cannot read the folder: %s", out_dir, strerror(errno));
    char first[256] = "";
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && n++ == 0)
            snprintf(first, sizeof first, "%s", e->d_name);
    closedir(d);
    RETURN_IF(n > 0, YPR_ESTATE,
              "%s: refusing to write a dataset into a folder that is not empty (it holds '%s'%s); "
              "give a new or empty folder", out_dir, first, n > 1 ? " and more" : "");
    return YPR_OK;
}

/* mkdir -p; every folder it creates is appended to *made (for undo). */
static int mkdir_p(const char *path, ypr_strvec *made)
{
    char *p = ypr__strdup(path);
    RETURN_IF(!p, YPR_ENOMEM, "out of memory");
    int rc = YPR_OK;
    for (char *s = p + 1; rc == YPR_OK; s++) {
        if (*s != '/' && *s != 0)
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0777) == 0) {
            if ((rc = ypr__sv_push(made, ypr__strdup(p))) < 0)
                rmdir(p);
        } else if (errno != EEXIST)
            rc = ypr__error(YPR_EIO, "%s: cannot create folder: %s", p, strerror(errno));
        else if (!ypr__is_dir(p))
            rc = ypr__error(YPR_EIO, "%s: exists and is not a folder", p);
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
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

/* After a failure: remove the files this call wrote (items [0, n) of each
 * folder), then the folders it made, deepest first; rmdir() leaves any
 * folder something else was put into meanwhile. */
static void undo(const char *dir, const char *ext, int n)
{
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%06d%s", i, ext);
        char *p = ypr__path_join(dir, name);
        if (p)
            unlink(p);
        free(p);
    }
}

static void undo_folders(const ypr_strvec *made)
{
    for (int i = made->n - 1; i >= 0; i--)
        rmdir(made->v[i]);
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

/* Where one write goes and what it has written so far. */
typedef struct writer {
    const ypr_dataset *ds;
    char *img_dir, *lab_dir, *yaml;
    char *abs, *abs_img;       /* absolute paths for data.yaml */
    ypr_strvec made;           /* folders this call created */
    int jpeg_quality;          /* 0: PNG images; 1..100: JPEG at this quality */
    int npng, ntxt;            /* items written to each folder */
    float *rows;               /* label buffer, cap rows */
    int cap, dropped;
    ypr_strbuf sb;
} writer;

/* The image as JPEG (libjpeg-turbo, 4:2:0 as its default), written atomically. */
static int write_jpeg(const char *path, const ypr_image *img, int quality)
{
    uint8_t *buf;
    size_t len;
    TRY(ypr__jpeg_encode(img, quality, &buf, &len));
    int rc = write_text(path, (const char *)buf, len);
    free(buf);
    return rc;
}

/* Image i as NNNNNN.png (or .jpg) and its labels as NNNNNN.txt (normalized
 * cx cy w h). */
static int write_item(writer *w, int i)
{
    char name[64], *p;
    ypr_image img = {0};
    TRY(ypr_dataset_image(w->ds, i, &img.rgb, &img.w, &img.h));
    snprintf(name, sizeof name, "%06d.%s", i, w->jpeg_quality ? "jpg" : "png");
    p = ypr__path_join(w->img_dir, name);
    int rc = !p ? ypr__error(YPR_ENOMEM, "out of memory")
            : w->jpeg_quality ? write_jpeg(p, &img, w->jpeg_quality) : ypr__png_write(p, &img);
    free(p);
    w->npng += rc == YPR_OK;
    int n = 0;
    if (rc == YPR_OK)
        rc = ypr_dataset_labels(w->ds, i, w->rows, w->cap, &n);
    if (rc == YPR_OK && n > w->cap) {
        free(w->rows);
        w->cap = n;
        w->rows = malloc((size_t)w->cap * 6 * sizeof(float));
        rc = w->rows ? ypr_dataset_labels(w->ds, i, w->rows, w->cap, &n)
                     : ypr__error(YPR_ENOMEM, "out of memory");
    }
    if (rc == YPR_OK) {
        w->sb.len = 0;
        double W = img.w, H = img.h;
        for (int k = 0; k < n; k++) {
            const float *r = w->rows + (size_t)k * 6;
            if (r[5] != 0) {   /* YOLO has no difficult flag: left out, as VOC→YOLO does */
                w->dropped++;
                continue;
            }
            double x1 = r[1], y1 = r[2], x2 = r[3], y2 = r[4];
            ypr__sb_printf(&w->sb, "%d %.9g %.9g %.9g %.9g\n", (int)r[0], (x1 + x2) / 2 / W,
                           (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H);
        }
        snprintf(name, sizeof name, "%06d.txt", i);
        p = ypr__path_join(w->lab_dir, name);
        if (w->sb.failed || !p)
            rc = ypr__error(YPR_ENOMEM, "out of memory");
        else
            rc = write_text(p, w->sb.data ? w->sb.data : "", w->sb.len);
        free(p);
        w->ntxt += rc == YPR_OK;
    }
    ypr__image_free(&img);
    return rc;
}

/* data.yaml, with absolute train/val so YOLOv7's tools can use it as is. */
static int write_data_yaml(writer *w)
{
    const ypr_dataset *ds = w->ds;
    ypr_strbuf *sb = &w->sb;
    sb->len = 0;
    ypr__sb_printf(sb,
                   "# YOLO dataset written by libyolopr %s: %d images.\n"
                   "# train/val are absolute so YOLOv7's train.py/test.py can use this file.\n"
                   "path: ",
                   ypr_version_string(), ds->count);
    yaml_quote(sb, w->abs);
    ypr__sb_puts(sb, "\ntrain: ");
    yaml_quote(sb, w->abs_img);
    ypr__sb_puts(sb, "\nval: ");
    yaml_quote(sb, w->abs_img);
    ypr__sb_printf(sb, "\n\nnc: %d\nnames: [", ds->nc > 0 ? ds->nc : 0);
    for (int k = 0; k < ds->nc; k++) {
        if (k)
            ypr__sb_puts(sb, ", ");
        yaml_quote(sb, ds->names && ds->names[k] && ds->names[k][0] ? ds->names[k] : "unnamed");
    }
    ypr__sb_puts(sb, "]\n");
    RETURN_IF(sb->failed, YPR_ENOMEM, "out of memory");
    return write_text(w->yaml, sb->data, sb->len);
}

static int write_all(writer *w, const char *out_dir)
{
    TRY(check_target(out_dir));
    TRY(mkdir_p(w->img_dir, &w->made));
    TRY(mkdir_p(w->lab_dir, &w->made));
    w->abs = realpath(out_dir, NULL);
    RETURN_IF(!w->abs, YPR_EIO, "%s: cannot resolve: %s", out_dir, strerror(errno));
    w->abs_img = ypr__path_join(w->abs, "images/val");
    RETURN_IF(!w->abs_img, YPR_ENOMEM, "out of memory");
    for (int i = 0; i < w->ds->count; i++)
        TRY(write_item(w, i));
    TRY(write_data_yaml(w));   /* last: a dataset without data.yaml was never complete */
    if (w->dropped)
        ypr__log(YPR_LOG_INFO, "%s: %d difficult box(es) left out (YOLO labels have no flag)",
                 out_dir, w->dropped);
    return YPR_OK;
}

int ypr_dataset_write_yolo(const ypr_dataset *ds, const char *out_dir)
{
    return ypr_dataset_write_yolo_jpeg(ds, out_dir, 0);
}

int ypr_dataset_write_yolo_jpeg(const ypr_dataset *ds, const char *out_dir, int quality)
{
    RETURN_IF(!ds || !out_dir || !*out_dir, YPR_EINVAL, "dataset_write_yolo: bad argument");
    RETURN_IF(ds->count > 1000000, YPR_ERANGE, "dataset_write_yolo: more than 10^6 images");
    RETURN_IF(quality < 0 || quality > 100, YPR_ERANGE,
              "dataset_write_yolo: JPEG quality %d outside 1..100 (0: PNG)", quality);
    writer w;
    memset(&w, 0, sizeof w);
    w.ds = ds;
    w.jpeg_quality = quality;
    ypr__sb_init(&w.sb);
    w.img_dir = ypr__path_join(out_dir, "images/val");
    w.lab_dir = ypr__path_join(out_dir, "labels/val");
    w.yaml = ypr__path_join(out_dir, "data.yaml");
    int rc = w.img_dir && w.lab_dir && w.yaml ? write_all(&w, out_dir)
                                              : ypr__error(YPR_ENOMEM, "out of memory");
    if (rc < 0) {
        undo(w.img_dir, quality ? ".jpg" : ".png", w.npng);
        undo(w.lab_dir, ".txt", w.ntxt);
        undo_folders(&w.made);
    }
    ypr__sv_free(&w.made);
    ypr__sb_free(&w.sb);
    free(w.rows);
    free(w.abs);
    free(w.abs_img);
    free(w.img_dir);
    free(w.lab_dir);
    free(w.yaml);
    return rc;
}
