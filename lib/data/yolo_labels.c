/* YOLO txt labels: images/…/x.jpg → labels/…/x.txt, one object per line
 * `class cx cy w h` (normalized), or a polygon `class x1 y1 x2 y2 …` taken
 * as its box, as YOLOv7 does. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define COORD_SLACK 1e-6

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

/* Read the label file: 0 with its text, 0 with *text NULL when there is
 * none (no directory entry at all), <0 / 1 for a problem (a directory,
 * FIFO, symbolic-link loop or dangling link, unreadable, too large). */
static int read_label_file(ypr_dataset *ds, int policy, const char *lp, char **text,
                           size_t *len)
{
    *text = NULL;
    int rc = ypr__read_text(lp, YPR_DS_LABEL_MAX, text, len);
    if (rc == YPR_OK || (rc == YPR_ENOTFOUND && !ypr__exists(lp)))
        return YPR_OK;
    if (rc == YPR_ENOMEM)
        return rc;
    if (rc == YPR_ENOTFOUND)
        return ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EIO, lp, 0,
                               "label file is a dangling symbolic link");
    return ypr__ds_problem(ds, policy, YPR_DS_LABELS, rc, lp, 0, "%s", ypr__error_detail(lp));
}

int ypr__yolo_labels(ypr_dataset *ds, int policy, const char *img, int w, int h,
                     float **rows_out, int *n_out, int *missing, int *max_cls)
{
    *rows_out = NULL;
    *n_out = 0;
    *missing = 0;
    char *lp = label_path_of(img);
    RETURN_IF(!lp, YPR_ENOMEM, "dataset: out of memory");
    char *text;
    size_t len = 0;
    int rc = read_label_file(ds, policy, lp, &text, &len);
    if (rc != YPR_OK || !text) {
        *missing = rc == YPR_OK;
        free(lp);
        return rc;
    }
    yline *ls = NULL;
    int n = 0, cap = 0;
    int line = 0;
    rc = YPR_OK;
    char *save = NULL;
    if (memchr(text, 0, len)) {
        rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, 1,
                             "malformed label file (NUL byte)");
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
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, line,
                                 "malformed line: '%.40s' is not a number", tok[bad]);
            break;
        }
        double b[5];
        if (nt == 5 && !more) {
            memcpy(b, v, sizeof b);
            for (int k = 1; k < 5; k++)
                if (v[k] < -COORD_SLACK || v[k] > 1 + COORD_SLACK) {
                    rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, line,
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
                    rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, line,
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
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, line,
                                 "malformed line: expected 5 values `class cx cy w h`, found %d",
                                 nt);
            break;
        }
        if (b[0] < 0 || b[0] != floor(b[0]) || b[0] > 1e6) {
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, line,
                                 "malformed line: class '%.40s' is not a class index", tok[0]);
            break;
        }
        if (ds->nc > 0 && b[0] >= ds->nc) {
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, line,
                                 "class id %d >= nc (%d)", (int)b[0], ds->nc);
            break;
        }
        for (int k = 0; k < n; k++)
            if (memcmp(ls[k].v, b, sizeof b) == 0) {
                rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, lp, line,
                                     "duplicate box (same as line %d)", ls[k].line);
                break;
            }
        if (rc != YPR_OK)
            break;
        if (n == YPR_DS_MAX_OBJECTS) {
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_ERANGE, lp, line,
                                 "more than %d objects in one image", YPR_DS_MAX_OBJECTS);
            break;
        }
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
