/* Per-epoch results: YOLOv7's fitness, results.csv (rewritten whole each
 * epoch, atomically) and results.png (YOLOv7's plot_results panels: the
 * three train losses, P, R on top; the three val losses, mAP@0.5 and
 * mAP@0.5:0.95 below), drawn with lib/io's rectangles and 5x7 text. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "train.h"
#include "lib/io/io.h"

double ypr__fitness(const ypr_epoch_result *r)
{
    return 0.1 * r->map50 + 0.9 * r->map;
}

static int check_args(const char *path, const ypr_epoch_result *rows, int n)
{
    RETURN_IF(!path, YPR_EINVAL, "results: NULL path");
    RETURN_IF(n < 0 || (n > 0 && !rows), YPR_EINVAL, "results: %d rows at %p", n, (const void *)rows);
    return YPR_OK;
}

int ypr__results_csv(const char *path, const ypr_epoch_result *rows, int n)
{
    TRY(check_args(path, rows, n));
    ypr_atomic_file af;
    TRY(ypr__afile_open(&af, path));
    FILE *f = af.fp;
    fputs(YPR__RESULTS_CSV_HEADER "\n", f);
    for (int i = 0; i < n; i++) {
        const ypr_epoch_result *r = &rows[i];
        const double v[] = { r->box, r->obj, r->cls, r->total, r->p, r->r, r->map50, r->map,
                             r->val_box, r->val_obj, r->val_cls, r->lr[0], r->lr[1], r->lr[2] };
        fprintf(f, "%d", r->epoch);
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            if (isnan(v[k]))
                fputs(",nan", f);
            else
                fprintf(f, ",%.9g", v[k]);
        }
        fprintf(f, ",%.3f,%.3f\n", r->seconds, r->images_per_second);
    }
    return ypr__afile_commit(&af);
}

/* ------------------------------------------------------------------ plot */

static const uint8_t BLACK[3] = { 0, 0, 0 };
static const uint8_t GRID[3] = { 225, 225, 225 };
static const uint8_t LINE[3] = { 31, 119, 180 };   /* matplotlib's first colour */

enum { PANEL_W = YPR__RESULTS_PNG_W / 5, PANEL_H = YPR__RESULTS_PNG_H / 2 };

typedef struct panel { const char *title; size_t off; } panel;

#define P(t, f) { t, offsetof(ypr_epoch_result, f) }
static const panel PANELS[10] = {
    P("Box", box), P("Objectness", obj), P("Classification", cls), P("Precision", p),
    P("Recall", r), P("val Box", val_box), P("val Objectness", val_obj),
    P("val Classification", val_cls), P("mAP@0.5", map50), P("mAP@0.5:0.95", map),
};

static double value(const ypr_epoch_result *r, size_t off)
{
    return *(const double *)((const char *)r + off);
}

/* A 2-pixel line (squares stamped along a Bresenham walk). */
static void line(ypr_image *img, int x0, int y0, int x1, int y1, const uint8_t c[3])
{
    int dx = x1 > x0 ? x1 - x0 : x0 - x1, sx = x0 < x1 ? 1 : -1;
    int dy = y1 > y0 ? y0 - y1 : y1 - y0, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        ypr__fill_rect(img, x0, y0, x0 + 1, y0 + 1, c);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

static void draw_panel(ypr_image *img, int px, int py, const panel *pn,
                       const ypr_epoch_result *rows, int n)
{
    /* plot box inside the panel, leaving room for the title and labels */
    const int X0 = px + 56, X1 = px + PANEL_W - 12, Y0 = py + 30, Y1 = py + PANEL_H - 34;
    ypr__draw_text(img, px + (PANEL_W - 6 * (int)strlen(pn->title)) / 2, py + 10, pn->title, 1,
                   BLACK, NULL);
    double lo = INFINITY, hi = -INFINITY;
    int emax = 0;
    for (int i = 0; i < n; i++) {
        double v = value(&rows[i], pn->off);
        if (isfinite(v)) {
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        emax = rows[i].epoch > emax ? rows[i].epoch : emax;
    }
    if (!(lo <= hi)) {   /* nothing measured */
        lo = 0;
        hi = 1;
    } else if (hi - lo <= 1e-12 * fmax(fabs(hi), fabs(lo))) {   /* flat */
        double pad = fabs(hi) > 0 ? 0.05 * fabs(hi) : 0.5;
        lo -= pad;
        hi += pad;
    } else {
        double pad = 0.05 * (hi - lo);
        lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;   /* losses and metrics stay ≥ 0 */
        hi += pad;
    }
    if (emax < 1)
        emax = 1;
    for (int k = 0; k <= 4; k++) {
        int gy = Y1 - (Y1 - Y0) * k / 4;
        ypr__fill_rect(img, X0, gy, X1, gy, GRID);
        char t[16];
        snprintf(t, sizeof t, "%.3g", lo + (hi - lo) * k / 4);
        ypr__draw_text(img, X0 - 4 - 6 * (int)strlen(t), gy - 3, t, 1, BLACK, NULL);
    }
    ypr__draw_rect(img, X0, Y0, X1, Y1, BLACK, 1);
    char t[16];
    ypr__draw_text(img, X0 - 3, Y1 + 6, "0", 1, BLACK, NULL);
    snprintf(t, sizeof t, "%d", emax);
    ypr__draw_text(img, X1 - 6 * (int)strlen(t) + 3, Y1 + 6, t, 1, BLACK, NULL);
    ypr__draw_text(img, (X0 + X1) / 2 - 15, Y1 + 18, "epoch", 1, BLACK, NULL);

    int have = 0, lx = 0, ly = 0;
    for (int i = 0; i < n; i++) {
        double v = value(&rows[i], pn->off);
        if (!isfinite(v)) {
            have = 0;
            continue;
        }
        int e = rows[i].epoch < 0 ? 0 : rows[i].epoch;
        int x = X0 + (int)lround((X1 - X0) * (double)e / emax);
        int y = Y1 - (int)lround((Y1 - Y0) * (v - lo) / (hi - lo));
        if (have)
            line(img, lx, ly, x, y, LINE);
        ypr__fill_rect(img, x - 2, y - 2, x + 2, y + 2, LINE);   /* YOLOv7's '.' markers */
        have = 1;
        lx = x;
        ly = y;
    }
}

int ypr__results_png(const char *path, const ypr_epoch_result *rows, int n)
{
    TRY(check_args(path, rows, n));
    ypr_image img = { 0, 0, NULL };
    TRY(ypr__image_alloc(&img, YPR__RESULTS_PNG_W, YPR__RESULTS_PNG_H));
    memset(img.rgb, 255, (size_t)img.w * img.h * 3);
    for (int k = 0; k < 10; k++)
        draw_panel(&img, (k % 5) * PANEL_W, (k / 5) * PANEL_H, &PANELS[k], rows, n);
    int rc = ypr__png_write(path, &img);
    ypr__image_free(&img);
    return rc;
}
