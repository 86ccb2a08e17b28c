/* Writing a dataset as a YOLO tree: PNG images under images/val/, label
 * files under labels/val/ and a data.yaml YOLOv7's tools read. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"
#include "lib/core/json.h"

/* ------------------------------------------------------------ write YOLO */

static int mkdir_p(const char *path)
{
    char *p = ypr__strdup(path);
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

