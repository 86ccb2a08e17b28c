/* Image and label transforms of YOLOv7's training pipeline: resize, the
 * random_perspective warp and its box filter, augment_hsv, flips, mosaic
 * placement and the Beta draw of mixup. Each one is a pure function of its
 * inputs (and of the RNG it is handed), so the loader stays deterministic.
 * Semantics follow YOLOv7's utils/datasets.py; where OpenCV's fixed-point
 * interpolation would be impractical we use float bilinear (docs/augment.md). */
#include <math.h>
#include <string.h>

#include "data.h"

static uint8_t clamp_u8(float v)
{
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)(v + 0.5f);
}

void ypr__aug_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    float sx = (float)sw / (float)dw, sy = (float)sh / (float)dh;
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * sy - 0.5f;
        if (fy < 0)
            fy = 0;
        int y0 = (int)fy;
        if (y0 > sh - 1)
            y0 = sh - 1;
        int y1 = y0 < sh - 1 ? y0 + 1 : y0;
        float wy = fy - (float)y0;
        const uint8_t *r0 = src + (int64_t)y0 * sw * 3, *r1 = src + (int64_t)y1 * sw * 3;
        uint8_t *o = dst + (int64_t)y * dw * 3;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * sx - 0.5f;
            if (fx < 0)
                fx = 0;
            int x0 = (int)fx;
            if (x0 > sw - 1)
                x0 = sw - 1;
            int x1 = x0 < sw - 1 ? x0 + 1 : x0;
            float wx = fx - (float)x0;
            for (int c = 0; c < 3; c++) {
                float a = r0[x0 * 3 + c] + wx * ((float)r0[x1 * 3 + c] - r0[x0 * 3 + c]);
                float b = r1[x0 * 3 + c] + wx * ((float)r1[x1 * 3 + c] - r1[x0 * 3 + c]);
                o[x * 3 + c] = clamp_u8(a + wy * (b - a));
            }
        }
    }
}

/* ------------------------------------------------------ random_perspective */

double ypr__aug_uniform(ypr_rng *r, double lo, double hi)
{
    double u = (double)(ypr__rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

static void matmul3(const double a[9], const double b[9], double out[9])
{
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(out, t, sizeof t);
}

void ypr__aug_perspective_matrix(ypr_rng *r, const ypr_aug_cfg *c, int in_w, int in_h,
                                 int out_w, int out_h, double m[9], double *s)
{
    const double deg = 3.14159265358979323846 / 180.0;
    double C[9] = {1, 0, -in_w / 2.0, 0, 1, -in_h / 2.0, 0, 0, 1};
    double P[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    P[6] = ypr__aug_uniform(r, -c->perspective, c->perspective);
    P[7] = ypr__aug_uniform(r, -c->perspective, c->perspective);
    double a = ypr__aug_uniform(r, -c->degrees, c->degrees) * deg;
    double sc = ypr__aug_uniform(r, 1.0 - c->scale, 1.1 + c->scale);
    /* OpenCV's getRotationMatrix2D about (0, 0): counter-clockwise for
     * positive angles in an image whose y axis points down. */
    double ca = cos(a) * sc, sa = sin(a) * sc;
    double R[9] = {ca, sa, 0, -sa, ca, 0, 0, 0, 1};
    double S[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    S[1] = tan(ypr__aug_uniform(r, -c->shear, c->shear) * deg);
    S[3] = tan(ypr__aug_uniform(r, -c->shear, c->shear) * deg);
    double T[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    T[2] = ypr__aug_uniform(r, 0.5 - c->translate, 0.5 + c->translate) * out_w;
    T[5] = ypr__aug_uniform(r, 0.5 - c->translate, 0.5 + c->translate) * out_h;
    /* M = T·S·R·P·C, applied right to left */
    matmul3(T, S, m);
    matmul3(m, R, m);
    matmul3(m, P, m);
    matmul3(m, C, m);
    *s = sc;
}

static int invert3(const double m[9], double inv[9])
{
    double c00 = m[4] * m[8] - m[5] * m[7], c01 = m[5] * m[6] - m[3] * m[8],
           c02 = m[3] * m[7] - m[4] * m[6];
    double det = m[0] * c00 + m[1] * c01 + m[2] * c02;
    if (!(fabs(det) > 1e-12) || !isfinite(det))
        return -1;
    double id = 1.0 / det;
    inv[0] = c00 * id;
    inv[1] = (m[2] * m[7] - m[1] * m[8]) * id;
    inv[2] = (m[1] * m[5] - m[2] * m[4]) * id;
    inv[3] = c01 * id;
    inv[4] = (m[0] * m[8] - m[2] * m[6]) * id;
    inv[5] = (m[2] * m[3] - m[0] * m[5]) * id;
    inv[6] = c02 * id;
    inv[7] = (m[1] * m[6] - m[0] * m[7]) * id;
    inv[8] = (m[0] * m[4] - m[1] * m[3]) * id;
    return 0;
}

/* Bilinear sample at (fx, fy) (pixel centres at integers, as warpAffine),
 * neighbours outside the image count as YPR_AUG_FILL. */
static void sample(const uint8_t *src, int sw, int sh, double fx, double fy, uint8_t out[3])
{
    if (!(fx > -1.0 && fy > -1.0 && fx < (double)sw && fy < (double)sh)) {
        out[0] = out[1] = out[2] = YPR_AUG_FILL;
        return;
    }
    int x0 = (int)floor(fx), y0 = (int)floor(fy);
    float wx = (float)(fx - x0), wy = (float)(fy - y0);
    int in_x0 = x0 >= 0, in_x1 = x0 + 1 < sw, in_y0 = y0 >= 0, in_y1 = y0 + 1 < sh;
    const uint8_t *r0 = src + (int64_t)y0 * sw * 3, *r1 = r0 + (int64_t)sw * 3;
    for (int c = 0; c < 3; c++) {
        float p00 = in_y0 && in_x0 ? r0[x0 * 3 + c] : YPR_AUG_FILL;
        float p01 = in_y0 && in_x1 ? r0[(x0 + 1) * 3 + c] : YPR_AUG_FILL;
        float p10 = in_y1 && in_x0 ? r1[x0 * 3 + c] : YPR_AUG_FILL;
        float p11 = in_y1 && in_x1 ? r1[(x0 + 1) * 3 + c] : YPR_AUG_FILL;
        float a = p00 + wx * (p01 - p00), b = p10 + wx * (p11 - p10);
        out[c] = clamp_u8(a + wy * (b - a));
    }
}

int ypr__aug_warp(const uint8_t *src, int sw, int sh, const double m[9], int perspective,
                  uint8_t *dst, int dw, int dh)
{
    double inv[9];
    RETURN_IF(invert3(m, inv) < 0, YPR_EINVAL, "augment: singular perspective matrix");
    for (int y = 0; y < dh; y++) {
        uint8_t *o = dst + (int64_t)y * dw * 3;
        double bx = inv[1] * y + inv[2], by = inv[4] * y + inv[5];
        for (int x = 0; x < dw; x++) {
            double fx = inv[0] * x + bx;
            double fy = inv[3] * x + by;
            if (!perspective && fx >= 0 && fy >= 0 && fx < sw - 1 && fy < sh - 1) {
                /* inside: all 4 neighbours exist */
                int x0 = (int)fx, y0 = (int)fy;
                float wx = (float)(fx - x0), wy = (float)(fy - y0);
                const uint8_t *p0 = src + ((int64_t)y0 * sw + x0) * 3, *p1 = p0 + (int64_t)sw * 3;
                for (int c = 0; c < 3; c++) {
                    float a = p0[c] + wx * ((float)p0[c + 3] - p0[c]);
                    float b = p1[c] + wx * ((float)p1[c + 3] - p1[c]);
                    o[x * 3 + c] = clamp_u8(a + wy * (b - a));
                }
                continue;
            }
            if (perspective) {
                double w = inv[6] * x + inv[7] * y + inv[8];
                w = fabs(w) > 1e-12 ? 1.0 / w : 0.0;
                fx *= w;
                fy *= w;
            }
            sample(src, sw, sh, fx, fy, o + x * 3);
        }
    }
    return YPR_OK;
}

int ypr__aug_box_candidate(const float b1[4], const float b2[4], float wh_thr, float ar_thr,
                           float area_thr)
{
    const double eps = 1e-16;
    double w1 = (double)b1[2] - b1[0], h1 = (double)b1[3] - b1[1];
    double w2 = (double)b2[2] - b2[0], h2 = (double)b2[3] - b2[1];
    double ar = fmax(w2 / (h2 + eps), h2 / (w2 + eps));
    return w2 > wh_thr && h2 > wh_thr && w2 * h2 / (w1 * h1 + eps) > area_thr && ar < ar_thr;
}

static float clampf(double v, double hi)
{
    return (float)(v < 0 ? 0 : v > hi ? hi : v);
}

int ypr__aug_warp_boxes(float *rows, int n, const double m[9], int perspective, double s,
                        int w, int h)
{
    int kept = 0;
    for (int i = 0; i < n; i++) {
        float *r = rows + (int64_t)i * YPR_AUG_ROW;
        const double cx[4] = {r[1], r[3], r[1], r[3]}, cy[4] = {r[2], r[4], r[4], r[2]};
        double lx = INFINITY, ly = INFINITY, hx = -INFINITY, hy = -INFINITY;
        for (int k = 0; k < 4; k++) {
            double x = m[0] * cx[k] + m[1] * cy[k] + m[2];
            double y = m[3] * cx[k] + m[4] * cy[k] + m[5];
            if (perspective) {
                double z = m[6] * cx[k] + m[7] * cy[k] + m[8];
                x /= z;
                y /= z;
            }
            lx = fmin(lx, x);
            ly = fmin(ly, y);
            hx = fmax(hx, x);
            hy = fmax(hy, y);
        }
        float after[4] = {clampf(lx, w), clampf(ly, h), clampf(hx, w), clampf(hy, h)};
        float before[4] = {(float)(r[1] * s), (float)(r[2] * s), (float)(r[3] * s),
                           (float)(r[4] * s)};
        if (!ypr__aug_box_candidate(before, after, 2.0f, 20.0f, 0.1f))
            continue;
        float *o = rows + (int64_t)kept * YPR_AUG_ROW;
        o[0] = r[0];
        memcpy(o + 1, after, sizeof after);
        kept++;
    }
    return kept;
}

/* ------------------------------------------------------------- augment_hsv */

/* OpenCV's 8-bit RGB→HSV: 12-bit fixed-point divisions by table. */
typedef struct hsv_tabs { int sdiv[256], hdiv[256]; } hsv_tabs;

static void hsv_tabs_init(hsv_tabs *t)
{
    t->sdiv[0] = t->hdiv[0] = 0;
    for (int i = 1; i < 256; i++) {
        t->sdiv[i] = (int)lrint((255 << 12) / (double)i);
        t->hdiv[i] = (int)lrint((180 << 12) / (6.0 * i));
    }
}

static void rgb_to_hsv(const hsv_tabs *t, const uint8_t p[3], int *h, int *s, int *v)
{
    int r = p[0], g = p[1], b = p[2];
    int mx = r > g ? r : g, mn = r < g ? r : g;
    mx = mx > b ? mx : b;
    mn = mn < b ? mn : b;
    int diff = mx - mn;
    *v = mx;
    *s = (diff * t->sdiv[mx] + (1 << 11)) >> 12;
    int hh;
    if (mx == r)
        hh = g - b;
    else if (mx == g)
        hh = b - r + 2 * diff;
    else
        hh = r - g + 4 * diff;
    int x = diff ? hh * t->hdiv[diff] + (1 << 11) : 0;
    int hv = (int)(x >= 0 ? x >> 12 : -((-x + 4095) >> 12));   /* floor, as >> in OpenCV */
    *h = hv < 0 ? hv + 180 : hv;
}

/* OpenCV's 8-bit HSV→RGB (H in [0, 180)), computed in float. */
static void hsv_to_rgb(int h, int s, int v, uint8_t p[3])
{
    float hf = (float)h * (6.0f / 180.0f), sf = (float)s * (1.0f / 255.0f),
          vf = (float)v * (1.0f / 255.0f);
    float rgb[3];
    if (sf == 0.0f) {
        rgb[0] = rgb[1] = rgb[2] = vf;
    } else {
        while (hf >= 6.0f)
            hf -= 6.0f;
        int sector = (int)floorf(hf);
        float f = hf - (float)sector;
        if (sector < 0 || sector > 5) {
            sector = 0;
            f = 0.0f;
        }
        float tab[4] = {vf, vf * (1.0f - sf), vf * (1.0f - sf * f), vf * (1.0f - sf * (1.0f - f))};
        /* (r, g, b) indices into tab per sector */
        static const int sel[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3},
                                      {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};
        for (int c = 0; c < 3; c++)
            rgb[c] = tab[sel[sector][c]];
    }
    for (int c = 0; c < 3; c++)
        p[c] = clamp_u8(rgb[c] * 255.0f);
}

void ypr__aug_hsv(uint8_t *rgb, int64_t npix, double gh, double gs, double gv)
{
    if (gh == 1.0 && gs == 1.0 && gv == 1.0)
        return;
    uint8_t lut_h[256], lut_s[256], lut_v[256];
    for (int x = 0; x < 256; x++) {
        lut_h[x] = (uint8_t)(int)fmod(x * gh, 180.0);
        double sv = x * gs, vv = x * gv;
        lut_s[x] = (uint8_t)(int)(sv < 0 ? 0 : sv > 255 ? 255 : sv);
        lut_v[x] = (uint8_t)(int)(vv < 0 ? 0 : vv > 255 ? 255 : vv);
    }
    hsv_tabs t;
    hsv_tabs_init(&t);
    for (int64_t i = 0; i < npix; i++) {
        int h, s, v;
        rgb_to_hsv(&t, rgb + i * 3, &h, &s, &v);
        hsv_to_rgb(lut_h[h], lut_s[s], lut_v[v], rgb + i * 3);
    }
}

/* ------------------------------------------------------------------ flips */

void ypr__aug_fliplr(uint8_t *rgb, int w, int h, float *rows, int n)
{
    for (int y = 0; y < h; y++) {
        uint8_t *row = rgb + (int64_t)y * w * 3;
        for (int a = 0, b = w - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                uint8_t t = row[a * 3 + c];
                row[a * 3 + c] = row[b * 3 + c];
                row[b * 3 + c] = t;
            }
    }
    for (int i = 0; i < n; i++) {
        float *r = rows + (int64_t)i * YPR_AUG_ROW, x1 = r[1];
        r[1] = (float)w - r[3];
        r[3] = (float)w - x1;
    }
}

void ypr__aug_flipud(uint8_t *rgb, int w, int h, float *rows, int n)
{
    size_t stride = (size_t)w * 3;
    for (int a = 0, b = h - 1; a < b; a++, b--) {
        uint8_t *ra = rgb + a * stride, *rb = rgb + b * stride;
        for (size_t k = 0; k < stride; k++) {
            uint8_t t = ra[k];
            ra[k] = rb[k];
            rb[k] = t;
        }
    }
    for (int i = 0; i < n; i++) {
        float *r = rows + (int64_t)i * YPR_AUG_ROW, y1 = r[2];
        r[2] = (float)h - r[4];
        r[4] = (float)h - y1;
    }
}

/* ----------------------------------------------------------------- mosaic */

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

void ypr__aug_mosaic_place(uint8_t *canvas, int s, int xc, int yc, int k, const uint8_t *img,
                           int w, int h, float *rows, int n)
{
    int s2 = 2 * s;
    int x1a, y1a, x2a, y2a, x1b, y1b;   /* canvas box; top-left corner in the image */
    switch (k) {
    case 0:   /* top left: the image's bottom-right corner at the centre */
        x1a = imax(xc - w, 0), y1a = imax(yc - h, 0), x2a = xc, y2a = yc;
        x1b = w - (x2a - x1a), y1b = h - (y2a - y1a);
        break;
    case 1:   /* top right */
        x1a = xc, y1a = imax(yc - h, 0), x2a = imin(xc + w, s2), y2a = yc;
        x1b = 0, y1b = h - (y2a - y1a);
        break;
    case 2:   /* bottom left */
        x1a = imax(xc - w, 0), y1a = yc, x2a = xc, y2a = imin(s2, yc + h);
        x1b = w - (x2a - x1a), y1b = 0;
        break;
    default:  /* bottom right */
        x1a = xc, y1a = yc, x2a = imin(xc + w, s2), y2a = imin(s2, yc + h);
        x1b = 0, y1b = 0;
        break;
    }
    int cw = x2a - x1a, ch = y2a - y1a;
    for (int y = 0; y < ch; y++)
        memcpy(canvas + ((int64_t)(y1a + y) * s2 + x1a) * 3,
               img + ((int64_t)(y1b + y) * w + x1b) * 3, (size_t)cw * 3);
    float padw = (float)(x1a - x1b), padh = (float)(y1a - y1b), lim = (float)s2;
    for (int i = 0; i < n; i++) {
        float *r = rows + (int64_t)i * YPR_AUG_ROW;
        for (int j = 1; j < 5; j++) {
            float v = r[j] + ((j & 1) ? padw : padh);
            r[j] = v < 0 ? 0 : v > lim ? lim : v;
        }
    }
}

/* ------------------------------------------------------------------ mixup */

static double gamma_draw(ypr_rng *r, double a)
{
    /* Marsaglia and Tsang (2000), a >= 1; bounded (rejections are rare) */
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (int it = 0; it < 1000; it++) {
        double x = ypr__rng_normal(r), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = ypr__aug_uniform(r, 0.0, 1.0);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
    return d;
}

double ypr__aug_beta(ypr_rng *r, double a, double b)
{
    double x = gamma_draw(r, a), y = gamma_draw(r, b);
    return x / (x + y);
}
