/* The PR-curve and confusion-matrix pictures, drawn with lib/io's
 * rectangles and 5x7 text and written as PNG. Sizes are fixed by the
 * formulas in eval.h so callers (and tests) know them in advance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "lib/io/io.h"

#define NPX 1000

static const uint8_t WHITE[3] = { 255, 255, 255 };
static const uint8_t BLACK[3] = { 0, 0, 0 };
static const uint8_t GRID[3] = { 225, 225, 225 };
static const uint8_t GREY[3] = { 150, 150, 150 };
static const uint8_t MEAN[3] = { 0, 90, 200 };

static int classes_with_labels(const ypr_eval_result *res)
{
    int n = 0;
    for (int c = 0; c < res->nc; c++)
        n += res->per_class[c].labels > 0;
    return n;
}

/* A line of `th` pixels (squares stamped along a Bresenham walk). */
static void draw_line(ypr_image *img, int x0, int y0, int x1, int y1, const uint8_t c[3], int th)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy, lo = (th - 1) / 2, hi = th / 2;
    for (;;) {
        ypr__fill_rect(img, x0 - lo, y0 - lo, x0 + hi, y0 + hi, c);
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

/* Text drawn downwards, one character per 8-pixel row (no rotated font). */
static void draw_text_vertical(ypr_image *img, int x, int y, const char *s, int maxch,
                               const uint8_t c[3])
{
    char ch[2] = { 0, 0 };
    for (int i = 0; s[i] && i < maxch; i++) {
        ch[0] = s[i];
        ypr__draw_text(img, x, y + 8 * i, ch, 1, c, NULL);
    }
}

static void label(char *buf, size_t cap, const char *const *names, int c, int maxch)
{
    if (names && names[c])
        snprintf(buf, cap, "%.*s", maxch, names[c]);
    else
        snprintf(buf, cap, "%d", c);
}

int ypr__eval_plot_pr(const ypr_eval_result *res, const char *const *names, const char *path)
{
    RETURN_IF(!res || !path, YPR_EINVAL, "eval: NULL result or path");
    RETURN_IF(res->nc < 1 || !res->per_class || !res->pr_curves, YPR_EINVAL,
              "eval: the result holds no PR curves");
    ypr_image img = { 0, 0, NULL };
    TRY(ypr__image_alloc(&img, YPR__EVAL_PR_W, YPR__EVAL_PR_H));
    memset(img.rgb, 255, (size_t)img.w * img.h * 3);

    /* the plot box: x 70..530, y 50..510 (460 px per unit) */
    const int X0 = 70, Y0 = 50, S = 460;
    for (int k = 0; k <= 5; k++) {
        int gx = X0 + S * k / 5, gy = Y0 + S - S * k / 5;
        ypr__fill_rect(&img, gx, Y0, gx, Y0 + S, GRID);
        ypr__fill_rect(&img, X0, gy, X0 + S, gy, GRID);
        char t[8];
        snprintf(t, sizeof t, "%.1f", k / 5.0);
        ypr__draw_text(&img, gx - 9, Y0 + S + 8, t, 1, BLACK, NULL);
        ypr__draw_text(&img, X0 - 26, gy - 4, t, 1, BLACK, NULL);
    }
    ypr__draw_rect(&img, X0, Y0, X0 + S, Y0 + S, BLACK, 1);
    ypr__draw_text(&img, X0 + S / 2 - 18, Y0 + S + 26, "Recall", 1, BLACK, NULL);
    draw_text_vertical(&img, 8, Y0 + S / 2 - 40, "Precision", 9, BLACK);
    ypr__draw_text(&img, X0, 18, "Precision-Recall curve (IoU 0.5)", 2, BLACK, NULL);

    int nlab = classes_with_labels(res);
    int each = nlab > 0 && nlab <= 20;        /* YOLOv7: per-class legend below 21 classes */
    double *mean = calloc(NPX, sizeof *mean);
    if (!mean) {
        ypr__image_free(&img);
        return ypr__error(YPR_ENOMEM, "eval: cannot allocate the mean curve");
    }
    int ly = Y0 + 4;
    const int LX = X0 + S + 24;
    for (int c = 0; c < res->nc; c++) {
        if (res->per_class[c].labels == 0)
            continue;
        const float *cv = res->pr_curves + (size_t)c * NPX;
        uint8_t col[3];
        if (each)
            ypr__class_color(c, col);
        else
            memcpy(col, GREY, 3);
        int px = 0, py = 0;
        for (int i = 0; i < NPX; i++) {
            double v = cv[i];
            mean[i] += v;
            int x = X0 + (int)lround(S * (i / (double)(NPX - 1)));
            int y = Y0 + S - (int)lround(S * (v < 0 ? 0 : v > 1 ? 1 : v));
            if (i > 0)
                draw_line(&img, px, py, x, y, col, 1);
            px = x;
            py = y;
        }
        if (each) {
            char name[24], t[64];
            label(name, sizeof name, names, c, 18);
            snprintf(t, sizeof t, "%s %.3f", name, res->per_class[c].ap50);
            ypr__fill_rect(&img, LX, ly + 1, LX + 15, ly + 5, col);
            ypr__draw_text(&img, LX + 20, ly, t, 1, BLACK, NULL);
            ly += 14;
        }
    }
    if (nlab > 0) {
        int px = 0, py = 0;
        for (int i = 0; i < NPX; i++) {
            double v = mean[i] / nlab;
            int x = X0 + (int)lround(S * (i / (double)(NPX - 1)));
            int y = Y0 + S - (int)lround(S * (v < 0 ? 0 : v > 1 ? 1 : v));
            if (i > 0)
                draw_line(&img, px, py, x, y, MEAN, 3);
            px = x;
            py = y;
        }
    }
    free(mean);
    char t[64];
    snprintf(t, sizeof t, "all classes %.3f mAP@0.5", res->all.ap50);
    ypr__fill_rect(&img, LX, ly + 1, LX + 15, ly + 5, MEAN);
    ypr__draw_text(&img, LX + 20, ly, t, 1, BLACK, NULL);

    int rc = ypr__png_write(path, &img);
    ypr__image_free(&img);
    return rc;
}

int ypr__eval_confusion_cell(int nc)
{
    int cell = nc >= 0 ? 720 / (nc + 1) : 1;
    return cell < 1 ? 1 : cell > 48 ? 48 : cell;
}

int ypr__eval_plot_confusion(const ypr_eval_result *res, const char *const *names,
                             const char *path)
{
    RETURN_IF(!res || !path, YPR_EINVAL, "eval: NULL result or path");
    RETURN_IF(res->nc < 1 || !res->confusion, YPR_EINVAL, "eval: the result holds no confusion matrix");
    const int k = res->nc + 1, cell = ypr__eval_confusion_cell(res->nc);
    const int L = YPR__EVAL_CM_LEFT, T = YPR__EVAL_CM_TOP;
    ypr_image img = { 0, 0, NULL };
    TRY(ypr__image_alloc(&img, L + cell * k + YPR__EVAL_CM_RIGHT, T + cell * k + YPR__EVAL_CM_BOTTOM));
    memset(img.rgb, 255, (size_t)img.w * img.h * 3);

    ypr__draw_text(&img, L, 16, "Confusion matrix (normalized by true class)", 1, BLACK, NULL);
    const int64_t *m = res->confusion;
    for (int c = 0; c < k; c++) {
        double colsum = 0;
        for (int r = 0; r < k; r++)
            colsum += (double)m[(size_t)r * k + c];
        for (int r = 0; r < k; r++) {
            double v = (double)m[(size_t)r * k + c] / (colsum + 1e-6);
            if (v < 0)
                v = 0;
            if (v > 1)
                v = 1;
            /* white to dark blue */
            uint8_t col[3] = { (uint8_t)lround(247 - v * (247 - 8)),
                               (uint8_t)lround(251 - v * (251 - 48)),
                               (uint8_t)lround(255 - v * (255 - 107)) };
            int x = L + c * cell, y = T + r * cell;
            ypr__fill_rect(&img, x, y, x + cell - 1, y + cell - 1, col);
            if (cell >= 28 && v >= 0.005) {
                char t[8];
                snprintf(t, sizeof t, "%.2f", v);
                ypr__draw_text(&img, x + (cell - 24) / 2, y + (cell - 7) / 2, t, 1,
                               v > 0.5 ? WHITE : BLACK, NULL);
            }
        }
    }
    if (cell >= 4)
        for (int i = 0; i <= k; i++) {
            ypr__fill_rect(&img, L + i * cell, T, L + i * cell, T + k * cell, GRID);
            ypr__fill_rect(&img, L, T + i * cell, L + k * cell, T + i * cell, GRID);
        }
    ypr__draw_rect(&img, L, T, L + k * cell, T + k * cell, BLACK, 1);
    if (cell >= 10) {
        for (int i = 0; i < k; i++) {
            char rowl[24], coll[24];
            if (i < res->nc) {
                label(rowl, sizeof rowl, names, i, 20);
                label(coll, sizeof coll, names, i, 14);
            } else {
                snprintf(rowl, sizeof rowl, "background FN");
                snprintf(coll, sizeof coll, "background FP");
            }
            int w = 6 * (int)strlen(rowl);
            ypr__draw_text(&img, L - 6 - w, T + i * cell + (cell - 7) / 2, rowl, 1, BLACK, NULL);
            draw_text_vertical(&img, L + i * cell + (cell - 5) / 2, T + k * cell + 6, coll, 14, BLACK);
        }
    }
    ypr__draw_text(&img, L + k * cell / 2 - 12, T + k * cell + 6 + 8 * 14 + 6, "True", 1, BLACK, NULL);
    ypr__draw_text(&img, 4, T - 14, "Predicted", 1, BLACK, NULL);

    int rc = ypr__png_write(path, &img);
    ypr__image_free(&img);
    return rc;
}
