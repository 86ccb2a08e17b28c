/* Letterboxing: aspect-preserving bilinear resize into a padded canvas. */
#include <math.h>
#include <stdlib.h>

#include "data.h"

int ypr__letterbox(const uint8_t *src, int sw, int sh, int dw, int dh, uint8_t pad,
                   float *dst, ypr_letterbox *lb)
{
    RETURN_IF(sw < 1 || sh < 1, YPR_EINVAL, "letterbox: image size %dx%d", sw, sh);
    return ypr__letterbox_ratio(src, sw, sh, dw, dh, fminf((float)dw / (float)sw,
                                (float)dh / (float)sh), pad, dst, lb);
}

int ypr__letterbox_ratio(const uint8_t *src, int sw, int sh, int dw, int dh, float r,
                         uint8_t pad, float *dst, ypr_letterbox *lb)
{
    RETURN_IF(!src || !dst || !lb, YPR_EINVAL, "letterbox: NULL argument");
    RETURN_IF(sw < 1 || sh < 1 || dw < 1 || dh < 1 || sw > 65536 || sh > 65536 || dw > 16384 ||
              dh > 16384, YPR_EINVAL, "letterbox: sizes %dx%d -> %dx%d out of range", sw, sh, dw, dh);
    RETURN_IF(!(r > 0) || r > 1e4f, YPR_EINVAL, "letterbox: ratio %g", r);
    int nw = (int)lroundf((float)sw * r), nh = (int)lroundf((float)sh * r);
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    if (nw > dw) nw = dw;
    if (nh > dh) nh = dh;
    float px = (float)(dw - nw) / 2.0f, py = (float)(dh - nh) / 2.0f;
    int left = (int)lroundf(px - 0.1f), top = (int)lroundf(py - 0.1f);
    if (left < 0) left = 0;
    if (top < 0) top = 0;
    lb->ratio = r;
    lb->pad_x = (float)left;
    lb->pad_y = (float)top;
    lb->new_w = nw;
    lb->new_h = nh;
    const float padv = (float)pad / 255.0f;
    int64_t plane = (int64_t)dw * dh;
    float sx = (float)sw / (float)nw, sy = (float)sh / (float)nh;
    int *x0 = malloc((size_t)nw * sizeof(int));
    float *fx = malloc((size_t)nw * sizeof(float));
    if (!x0 || !fx) {
        free(x0);
        free(fx);
        return ypr__error(YPR_ENOMEM, "letterbox: out of memory");
    }
    for (int x = 0; x < nw; x++) {
        float s = ((float)x + 0.5f) * sx - 0.5f;
        if (s < 0) s = 0;
        int i = (int)s;
        if (i > sw - 1) i = sw - 1;
        x0[x] = i;
        fx[x] = (i < sw - 1) ? s - (float)i : 0.0f;
    }
    for (int y = 0; y < dh; y++) {
        int iy = y - top;
        for (int c = 0; c < 3; c++) {
            float *row = dst + c * plane + (int64_t)y * dw;
            if (iy < 0 || iy >= nh) {
                for (int x = 0; x < dw; x++)
                    row[x] = padv;
                continue;
            }
            float s = ((float)iy + 0.5f) * sy - 0.5f;
            if (s < 0) s = 0;
            int y0 = (int)s;
            if (y0 > sh - 1) y0 = sh - 1;
            int y1 = y0 < sh - 1 ? y0 + 1 : y0;
            float wy = s - (float)y0;
            const uint8_t *r0 = src + (int64_t)y0 * sw * 3, *r1 = src + (int64_t)y1 * sw * 3;
            for (int x = 0; x < dw; x++) {
                int ix = x - left;
                if (ix < 0 || ix >= nw) {
                    row[x] = padv;
                    continue;
                }
                int a = x0[ix], b = a < sw - 1 ? a + 1 : a;
                float wx = fx[ix];
                float top_v = r0[a * 3 + c] + wx * ((float)r0[b * 3 + c] - r0[a * 3 + c]);
                float bot_v = r1[a * 3 + c] + wx * ((float)r1[b * 3 + c] - r1[a * 3 + c]);
                row[x] = (top_v + wy * (bot_v - top_v)) * (1.0f / 255.0f);
            }
        }
    }
    free(x0);
    free(fx);
    return YPR_OK;
}
