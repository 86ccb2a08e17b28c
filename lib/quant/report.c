/* The per-layer report of a quantization: text, JSON and a PNG bar chart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "lib/model/model.h"
#include "quant.h"

static const char *const scheme_names[] = {"dpu", "per-channel"};
static const char *const method_names[] = {"minmax", "percentile", "entropy", "mse"};

static const char *row_name(const ypr_quantizer *q, const ypr_qrow *r)
{
    return q->work->net.nodes[r->conv >= 0 ? r->conv : r->node].name;
}

static void json_num(ypr_strbuf *sb, const char *key, double v)
{
    ypr__sb_printf(sb, ",\"%s\":", key);
    if (isfinite(v))
        ypr__sb_json_double(sb, v);
    else
        ypr__sb_puts(sb, "null");
}

static void report_json(const ypr_quantizer *q, ypr_strbuf *sb)
{
    ypr__sb_printf(sb, "{\"scheme\":\"%s\",\"method\":\"%s\",\"calib_images\":%d,"
                   "\"input_size\":%d,\"bias_correction\":%d,\"percentile\":",
                   scheme_names[q->scheme], method_names[q->method], q->calib_done, q->size,
                   q->bias_corr);
    ypr__sb_json_double(sb, q->pct);
    ypr__sb_puts(sb, ",\"layers\":[");
    for (int i = 0; i < q->nrows; i++) {
        const ypr_qrow *r = &q->rows[i];
        const ypr_node *nd = &q->work->net.nodes[r->node];
        ypr__sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
        ypr__sb_json_str(sb, row_name(q, r));
        ypr__sb_puts(sb, ",\"value\":");
        ypr__sb_json_str(sb, nd->name);
        ypr__sb_puts(sb, ",\"kind\":");
        ypr__sb_json_str(sb, ypr__node_kind_name(q->work->net.nodes[r->conv >= 0 ? r->conv
                                                                               : r->node].kind));
        json_num(sb, "absmax", r->absmax);
        json_num(sb, "threshold", r->threshold);
        json_num(sb, "act_scale", r->kept ? 0 : r->act_scale);
        json_num(sb, "weight_scale", r->kept ? 0 : r->w_scale);
        json_num(sb, "sqnr_weight_db", r->conv >= 0 ? r->sqnr_w : NAN);
        json_num(sb, "sqnr_act_db", r->sqnr_a);
        json_num(sb, "sqnr_local_db", r->sqnr_local);
        json_num(sb, "sqnr_e2e_db", r->sqnr_e2e);
        ypr__sb_printf(sb, ",\"float\":%s}", r->kept ? "true" : "false");
    }
    ypr__sb_puts(sb, "]}\n");
}

static void report_text(const ypr_quantizer *q, ypr_strbuf *sb)
{
    ypr__sb_printf(sb, "scheme %s, method %s, %d calibration images at %dx%d%s\n",
                   scheme_names[q->scheme], method_names[q->method], q->calib_done, q->size,
                   q->size, q->bias_corr ? ", bias correction" : "");
    ypr__sb_printf(sb, "%-34s %-7s %10s %10s %10s %8s %8s %8s %8s\n", "layer", "kind", "absmax",
                   "threshold", "act step", "W dB", "act dB", "local dB", "e2e dB");
    int kept = 0;
    for (int i = 0; i < q->nrows; i++) {
        const ypr_qrow *r = &q->rows[i];
        const ypr_node *nd = &q->work->net.nodes[r->conv >= 0 ? r->conv : r->node];
        char w[16] = "-", e[16] = "-";
        if (r->conv >= 0)
            snprintf(w, sizeof w, "%.1f", r->sqnr_w);
        if (isfinite(r->sqnr_e2e))
            snprintf(e, sizeof e, "%.1f", r->sqnr_e2e);
        ypr__sb_printf(sb, "%-34s %-7s %10.4g %10.4g %10.4g %8s %8.1f %8.1f %8s%s\n",
                       row_name(q, r), ypr__node_kind_name(nd->kind), r->absmax, r->threshold,
                       r->kept ? 0.0 : r->act_scale, w, r->sqnr_a, r->sqnr_local, e,
                       r->kept ? "  float" : "");
        kept += r->kept;
    }
    /* the five that hurt most */
    int idx[5], n = 0;
    for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int i = 0; i < q->nrows; i++) {
            int used = q->rows[i].kept;
            for (int j = 0; j < n; j++)
                used |= idx[j] == i;
            if (!used && (best < 0 || q->rows[i].sqnr_local < q->rows[best].sqnr_local))
                best = i;
        }
        if (best >= 0)
            idx[n++] = best;
    }
    ypr__sb_printf(sb, "%d of %d layers kept in float; lowest local SQNR:", kept, q->nrows);
    for (int j = 0; j < n; j++)
        ypr__sb_printf(sb, " %s (%.1f dB)%s", row_name(q, &q->rows[idx[j]]),
                       q->rows[idx[j]].sqnr_local, j + 1 < n ? "," : "");
    ypr__sb_puts(sb, "\n");
}

int ypr_quantizer_report(const ypr_quantizer *q, char **text, int json)
{
    RETURN_IF(!q || !text, YPR_EINVAL, "quantizer: NULL argument");
    *text = NULL;
    RETURN_IF(!q->rows || !q->work, YPR_ESTATE, "quantizer: nothing quantized yet");
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    if (json)
        report_json(q, &sb);
    else
        report_text(q, &sb);
    if (sb.failed) {
        ypr__sb_free(&sb);
        return ypr__error(YPR_ENOMEM, "quantizer: out of memory");
    }
    *text = sb.data;
    return YPR_OK;
}

int ypr_quantizer_plot(const ypr_quantizer *q, const char *path)
{
    RETURN_IF(!q || !path, YPR_EINVAL, "quantizer: NULL argument");
    RETURN_IF(!q->rows || !q->work || q->nrows == 0, YPR_ESTATE,
              "quantizer: nothing quantized yet");
    double top = 10;
    for (int i = 0; i < q->nrows; i++) {
        const ypr_qrow *r = &q->rows[i];
        top = fmax(top, fmin(r->sqnr_local, 100));
        if (isfinite(r->sqnr_e2e))
            top = fmax(top, fmin(r->sqnr_e2e, 100));
    }
    top = ceil(top / 10) * 10;
    const int bar = 10, left = 50, ytop = 40, height = 300, bottom = 110;
    int w = left + q->nrows * bar + 30, h = ytop + height + bottom;
    w = w < 420 ? 420 : w;
    ypr_image img;
    TRY(ypr__image_alloc(&img, w, h));
    static const uint8_t white[3] = {255, 255, 255}, black[3] = {0, 0, 0},
                         light[3] = {235, 235, 235}, blue[3] = {40, 90, 200},
                         orange[3] = {230, 120, 30}, grey[3] = {170, 170, 170};
    ypr__fill_rect(&img, 0, 0, w - 1, h - 1, white);
    char text[200];
    snprintf(text, sizeof text, "SQNR per layer (dB), %s / %s: local (blue), end-to-end "
             "(orange), float (grey)", scheme_names[q->scheme], method_names[q->method]);
    ypr__draw_text(&img, 8, 10, text, 1, black, NULL);
    for (int t = 0; t <= 5; t++) {
        int y = ytop + height - t * height / 5;
        ypr__fill_rect(&img, left, y, w - 20, y, light);
        snprintf(text, sizeof text, "%.0f", top * t / 5);
        ypr__draw_text(&img, 4, y - 4, text, 1, black, NULL);
    }
    for (int i = 0; i < q->nrows; i++) {
        const ypr_qrow *r = &q->rows[i];
        int x = left + i * bar;
        double a = fmax(0, fmin(r->sqnr_local, top)), e = isfinite(r->sqnr_e2e)
                                                              ? fmax(0, fmin(r->sqnr_e2e, top))
                                                              : 0;
        int ha = (int)(height * a / top), he = (int)(height * e / top);
        const uint8_t *ca = r->kept ? grey : blue;
        if (ha > 0)
            ypr__fill_rect(&img, x, ytop + height - ha, x + bar / 2 - 1, ytop + height, ca);
        if (he > 0)
            ypr__fill_rect(&img, x + bar / 2, ytop + height - he, x + bar - 2, ytop + height,
                           orange);
        if (i % 5 == 0) {   /* the cfg layer index, vertically */
            const ypr_node *nd = &q->work->net.nodes[r->conv >= 0 ? r->conv : r->node];
            snprintf(text, sizeof text, "%d", nd->layer);
            for (int c = 0; text[c]; c++) {
                char one[2] = {text[c], 0};
                ypr__draw_text(&img, x, ytop + height + 6 + c * 9, one, 1, black, NULL);
            }
        }
    }
    ypr__draw_text(&img, left, h - 14, "cfg layer (every 5th value)", 1, black, NULL);
    int rc = ypr__png_write(path, &img);
    ypr__image_free(&img);
    return rc;
}
