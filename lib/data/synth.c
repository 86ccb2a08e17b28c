/* The built-in synthetic detection dataset. Every image is a pure function
 * of (seed, index, size, classes): it is rendered on demand, never stored.
 *
 * Class c is a shape (c mod 10: circle, square, triangle, cross, ring,
 * diamond, hexagon, star, half-disc, frame) in a colour family
 * ((c div 10 + c) mod 8), so the 80 possible classes are distinct pairs and
 * some are deliberately alike (a red circle and a red half-disc, a green
 * square and a green frame, an orange hexagon and a red circle). Objects
 * (1–8 per image) have a log-uniform size of 5–60 % of the side, aspect
 * 0.5–2, rotation within ±20°, jittered colour with shading and sometimes
 * inner stripes; they overlap and may be cut by the image border. The
 * background is low-frequency colour noise plus stripes, with unlabelled
 * clutter (lines and shapes of classes not in use), and pixel noise on top.
 *
 * Labels are exact: the box of an object's visible pixels (after occlusion
 * by later objects and clipping by the border), as integer pixel edges.
 * An object left with less than 35 % of its pixels visible or a visible box
 * under 3 px is not drawn at all, so every drawn object is labelled and
 * every label is visible. The last object is placed fully inside and on top,
 * so an image nearly always has at least one object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define NSHAPES 10
#define NFAMILIES 8
#define MAX_CLASSES 80

static const char *const shape_names[NSHAPES] = {
    "circle", "square", "triangle", "cross", "ring",
    "diamond", "hexagon", "star", "halfdisc", "frame"};
static const char *const family_names[NFAMILIES] = {
    "red", "green", "blue", "yellow", "cyan", "magenta", "orange", "purple"};
static const float family_rgb[NFAMILIES][3] = {
    {200, 40, 40},  {40, 170, 60},  {45, 75, 205},  {220, 200, 45},
    {45, 190, 200}, {190, 50, 180}, {230, 120, 30}, {115, 55, 165}};

static int class_shape(int c)
{
    return c % NSHAPES;
}

static int class_family(int c)
{
    return (c / NSHAPES + c) % NFAMILIES;
}

void ypr__synth_class_name(int c, char *buf, size_t size)
{
    if (c < NSHAPES)
        snprintf(buf, size, "%s", shape_names[class_shape(c)]);
    else
        snprintf(buf, size, "%s_%s", family_names[class_family(c)], shape_names[class_shape(c)]);
}

int ypr_dataset_synth(int count, int size, int classes, uint64_t seed, ypr_dataset **out)
{
    RETURN_IF(!out, YPR_EINVAL, "dataset_synth: NULL output");
    *out = NULL;
    RETURN_IF(count < 1 || count > 1000000, YPR_EINVAL,
              "dataset_synth: count %d outside 1..1000000", count);
    RETURN_IF(size < 32 || size > 4096, YPR_EINVAL, "dataset_synth: size %d outside 32..4096",
              size);
    RETURN_IF(classes < 1 || classes > MAX_CLASSES, YPR_EINVAL,
              "dataset_synth: classes %d outside 1..%d", classes, MAX_CLASSES);
    ypr_dataset *ds;
    TRY(ypr__ds_new(&ds));
    ds->synth = 1;
    ds->count = count;
    ds->size = size;
    ds->seed = seed;
    char names[MAX_CLASSES][32];
    const char *np[MAX_CLASSES];
    for (int c = 0; c < classes; c++) {
        ypr__synth_class_name(c, names[c], sizeof names[c]);
        np[c] = names[c];
    }
    int rc = ypr__ds_set_names(ds, classes, np);
    if (rc < 0) {
        ypr_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return YPR_OK;
}

/* ------------------------------------------------------------- rendering */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void stream(ypr_rng *r, uint64_t seed, int index, int which)
{
    ypr__rng_seed(r, mix64(mix64(seed) ^ mix64((uint64_t)index * 8 + (uint64_t)which + 1)));
}

static float uni(ypr_rng *r, float a, float b)
{
    return a + (b - a) * ypr__rng_uniform(r);
}

static int below(ypr_rng *r, int n)
{
    return (int)(ypr__rng_u64(r) % (uint64_t)n);
}

typedef struct shape {
    int kind;
    float cx, cy, rx, ry, cs, sn;   /* centre, radii, cos/sin of rotation */
    float col[3], gx, gy;           /* colour and shading across the shape */
    float stripes, sfreq;           /* inner stripe amplitude and frequency */
    int cls, alive;
} shape;

static int inside(int kind, float u, float v)
{
    float au = fabsf(u), av = fabsf(v), r2 = u * u + v * v;
    switch (kind) {
    case 0: return r2 <= 1.0f;                                         /* circle */
    case 1: return au <= 1.0f && av <= 1.0f;                           /* square */
    case 2: return v <= 1.0f && au <= (v + 1.0f) * 0.5f;               /* triangle */
    case 3: return (au <= 0.34f && av <= 1.0f) || (av <= 0.34f && au <= 1.0f); /* cross */
    case 4: return r2 <= 1.0f && r2 >= 0.36f;                          /* ring */
    case 5: return au + av <= 1.0f;                                    /* diamond */
    case 6: return av <= 0.866f && au + av * 0.57735f <= 1.0f;         /* hexagon */
    case 7: {                                                          /* star */
        if (r2 > 1.0f)
            return 0;
        float a = atan2f(v, u);
        float k = fabsf(cosf(2.5f * a));
        float rr = 0.42f + 0.58f * k * k * k;
        return r2 <= rr * rr;
    }
    case 8: return r2 <= 1.0f && v >= 0.0f;                            /* half-disc */
    default: {                                                         /* frame */
        float m = au > av ? au : av;
        return m <= 1.0f && m >= 0.62f;
    }
    }
}

static void extent(const shape *s, int *x0, int *y0, int *x1, int *y1)
{
    float ex = fabsf(s->rx * s->cs) + fabsf(s->ry * s->sn);
    float ey = fabsf(s->rx * s->sn) + fabsf(s->ry * s->cs);
    *x0 = (int)floorf(s->cx - ex) - 1;
    *x1 = (int)ceilf(s->cx + ex) + 1;
    *y0 = (int)floorf(s->cy - ey) - 1;
    *y1 = (int)ceilf(s->cy + ey) + 1;
}

static inline void local(const shape *s, int x, int y, float *u, float *v)
{
    float dx = (float)x + 0.5f - s->cx, dy = (float)y + 0.5f - s->cy;
    *u = (dx * s->cs + dy * s->sn) / s->rx;
    *v = (-dx * s->sn + dy * s->cs) / s->ry;
}

static void colour_of(ypr_rng *r, int family, float out[3])
{
    float bright = uni(r, 0.75f, 1.15f);
    for (int c = 0; c < 3; c++) {
        float v = family_rgb[family][c] * bright + uni(r, -30, 30);
        out[c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
}

static void make_shape(ypr_rng *r, int size, int kind, int family, float min_frac,
                       float max_frac, int fully_inside, shape *s)
{
    float frac = expf(uni(r, logf(min_frac), logf(max_frac)));
    float len = fmaxf(frac * (float)size, fully_inside ? 8.0f : 5.0f);
    float aspect = expf(uni(r, -0.6931472f, 0.6931472f));
    if (aspect >= 1) {
        s->rx = len / 2;
        s->ry = len / 2 / aspect;
    } else {
        s->ry = len / 2;
        s->rx = len / 2 * aspect;
    }
    float rmin = fully_inside ? 3.0f : 2.0f;
    s->rx = fmaxf(s->rx, rmin);
    s->ry = fmaxf(s->ry, rmin);
    float ang = uni(r, -0.35f, 0.35f);
    s->cs = cosf(ang);
    s->sn = sinf(ang);
    s->kind = kind;
    float ex = fabsf(s->rx * s->cs) + fabsf(s->ry * s->sn);
    float ey = fabsf(s->rx * s->sn) + fabsf(s->ry * s->cs);
    float fs = (float)size;
    if (fully_inside) {
        s->cx = ex + 1 < fs - ex - 1 ? uni(r, ex + 1, fs - ex - 1) : fs / 2;
        s->cy = ey + 1 < fs - ey - 1 ? uni(r, ey + 1, fs - ey - 1) : fs / 2;
    } else if (ypr__rng_uniform(r) < 0.25f) {   /* straddling an edge */
        int edge = below(r, 4);
        float along = uni(r, 0, fs), off = uni(r, -0.6f, 0.6f);
        s->cx = edge == 0 ? off * ex : edge == 1 ? fs - off * ex : along;
        s->cy = edge == 2 ? off * ey : edge == 3 ? fs - off * ey : along;
    } else {
        s->cx = uni(r, 0, fs);
        s->cy = uni(r, 0, fs);
    }
    colour_of(r, family, s->col);
    s->gx = uni(r, -40, 40);
    s->gy = uni(r, -40, 40);
    s->stripes = ypr__rng_uniform(r) < 0.3f ? uni(r, 10, 30) : 0;
    s->sfreq = uni(r, 4, 12);
    s->alive = 1;
}

/* Objects of image i from its own stream (independent of the pixels). */
static int make_objects(const ypr_dataset *ds, int i, shape *o)
{
    ypr_rng r;
    stream(&r, ds->seed, i, 0);
    int n = 1 + below(&r, YPR_SYNTH_MAX_OBJ);
    for (int k = 0; k < n; k++) {
        int cls = below(&r, ds->nc);
        make_shape(&r, ds->size, class_shape(cls), class_family(cls), 0.05f, 0.6f, k == n - 1,
                   &o[k]);
        o[k].cls = cls;
    }
    return n;
}

/* Draw the id map (k+1 where object k is on top), counting each object's
 * full (unclipped) area; then its visible count and box. */
static void visibility(const shape *o, int n, int size, uint8_t *ids, int64_t *total,
                       int64_t *vis, int box[][4])
{
    memset(ids, 0, (size_t)size * (size_t)size);
    for (int k = 0; k < n; k++) {
        total[k] = 0;
        if (!o[k].alive)
            continue;
        int x0, y0, x1, y1;
        extent(&o[k], &x0, &y0, &x1, &y1);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                float u, v;
                local(&o[k], x, y, &u, &v);
                if (!inside(o[k].kind, u, v))
                    continue;
                total[k]++;
                if (x >= 0 && y >= 0 && x < size && y < size)
                    ids[(size_t)y * (size_t)size + (size_t)x] = (uint8_t)(k + 1);
            }
    }
    for (int k = 0; k < n; k++) {
        vis[k] = 0;
        box[k][0] = box[k][1] = size;
        box[k][2] = box[k][3] = -1;
    }
    for (int k = 0; k < n; k++) {
        if (!o[k].alive)
            continue;
        int x0, y0, x1, y1;
        extent(&o[k], &x0, &y0, &x1, &y1);
        x0 = x0 < 0 ? 0 : x0;
        y0 = y0 < 0 ? 0 : y0;
        x1 = x1 >= size ? size - 1 : x1;
        y1 = y1 >= size ? size - 1 : y1;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (ids[(size_t)y * (size_t)size + (size_t)x] == k + 1) {
                    vis[k]++;
                    if (x < box[k][0]) box[k][0] = x;
                    if (y < box[k][1]) box[k][1] = y;
                    if (x > box[k][2]) box[k][2] = x;
                    if (y > box[k][3]) box[k][3] = y;
                }
    }
}

static uint8_t clamp8(float v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
}

static void draw_background(ypr_image *img, ypr_rng *r, int classes)
{
    int size = img->w;
    float base[3];
    for (int c = 0; c < 3; c++)
        base[c] = uni(r, 30, 225);
    int g = 2 + below(r, 5);
    float grid[8][8][3];
    for (int a = 0; a <= g; a++)
        for (int b = 0; b <= g; b++)
            for (int c = 0; c < 3; c++)
                grid[a][b][c] = base[c] + uni(r, -70, 70);
    float amp = uni(r, 0, 35), freq = uni(r, 1, 14), th = uni(r, 0, 3.14159265f);
    float phase = uni(r, 0, 6.2831853f), wc[3];
    for (int c = 0; c < 3; c++)
        wc[c] = uni(r, -1, 1);
    float ct = cosf(th) * 6.2831853f * freq / (float)size;
    float st = sinf(th) * 6.2831853f * freq / (float)size;
    /* sin(ax + by + phase) = sin(ax)cos(by + phase) + cos(ax)sin(by + phase) */
    float *sx = malloc((size_t)size * 2 * sizeof(float));
    if (!sx)
        amp = 0;
    for (int x = 0; sx && x < size; x++) {
        sx[2 * x] = sinf((float)x * ct);
        sx[2 * x + 1] = cosf((float)x * ct);
    }
    for (int y = 0; y < size; y++) {
        float sy = sinf((float)y * st + phase), cy = cosf((float)y * st + phase);
        float gy = (float)y / (float)size * (float)g;
        int iy = (int)gy;
        if (iy >= g)
            iy = g - 1;
        float fy = gy - (float)iy;
        for (int x = 0; x < size; x++) {
            float gxf = (float)x / (float)size * (float)g;
            int ix = (int)gxf;
            if (ix >= g)
                ix = g - 1;
            float fx = gxf - (float)ix;
            float s = sx ? amp * (sx[2 * x] * cy + sx[2 * x + 1] * sy) : 0;
            uint8_t *p = img->rgb + ((size_t)y * (size_t)size + (size_t)x) * 3;
            for (int c = 0; c < 3; c++) {
                float v = (1 - fy) * ((1 - fx) * grid[iy][ix][c] + fx * grid[iy][ix + 1][c]) +
                          fy * ((1 - fx) * grid[iy + 1][ix][c] + fx * grid[iy + 1][ix + 1][c]);
                p[c] = clamp8(v + s * wc[c]);
            }
        }
    }
    free(sx);
    /* clutter: lines and shapes of classes not in use (never labelled) */
    int nd = below(r, 7);
    for (int d = 0; d < nd; d++) {
        float col[3];
        if (ypr__rng_uniform(r) < 0.4f) {
            for (int c = 0; c < 3; c++)
                col[c] = uni(r, 0, 255);
            float x0 = uni(r, 0, (float)size), y0 = uni(r, 0, (float)size);
            float x1 = uni(r, 0, (float)size), y1 = uni(r, 0, (float)size);
            float t = uni(r, 1, fmaxf(2, (float)size / 60));
            float dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy + 1e-6f;
            int bx0 = (int)fmaxf(0, fminf(x0, x1) - t - 1), bx1 = (int)fminf((float)size - 1, fmaxf(x0, x1) + t + 1);
            int by0 = (int)fmaxf(0, fminf(y0, y1) - t - 1), by1 = (int)fminf((float)size - 1, fmaxf(y0, y1) + t + 1);
            for (int y = by0; y <= by1; y++)
                for (int x = bx0; x <= bx1; x++) {
                    float px = (float)x + 0.5f - x0, py = (float)y + 0.5f - y0;
                    float h = fminf(1, fmaxf(0, (px * dx + py * dy) / l2));
                    float ex = px - h * dx, ey = py - h * dy;
                    if (ex * ex + ey * ey <= t * t) {
                        uint8_t *p = img->rgb + ((size_t)y * (size_t)size + (size_t)x) * 3;
                        for (int c = 0; c < 3; c++)
                            p[c] = clamp8(col[c]);
                    }
                }
            continue;
        }
        shape s;
        int kind, family = -1;
        if (classes < MAX_CLASSES) {
            int c = classes + below(r, MAX_CLASSES - classes);
            kind = class_shape(c);
            family = class_family(c);
        } else {
            kind = below(r, NSHAPES);
        }
        make_shape(r, size, kind, family < 0 ? 0 : family, 0.03f, 0.25f, 0, &s);
        if (family < 0) {   /* every pair is a class: a grey one */
            float grey = uni(r, 40, 220);
            for (int c = 0; c < 3; c++)
                s.col[c] = grey + uni(r, -8, 8);
        }
        int x0, y0, x1, y1;
        extent(&s, &x0, &y0, &x1, &y1);
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < size; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < size; x++) {
                float u, v;
                local(&s, x, y, &u, &v);
                if (!inside(s.kind, u, v))
                    continue;
                uint8_t *p = img->rgb + ((size_t)y * (size_t)size + (size_t)x) * 3;
                for (int c = 0; c < 3; c++)
                    p[c] = clamp8(s.col[c] + s.gx * u + s.gy * v);
            }
    }
}

int ypr__synth_render(const ypr_dataset *ds, int i, ypr_image *img, float *rows, int *n)
{
    RETURN_IF(!ds || !ds->synth || i < 0 || i >= ds->count, YPR_EINVAL, "synth: bad image");
    int size = ds->size;
    shape o[YPR_SYNTH_MAX_OBJ];
    int no = make_objects(ds, i, o);
    uint8_t *ids = malloc((size_t)size * (size_t)size);
    RETURN_IF(!ids, YPR_ENOMEM, "synth: out of memory");
    int64_t total[YPR_SYNTH_MAX_OBJ], vis[YPR_SYNTH_MAX_OBJ];
    int box[YPR_SYNTH_MAX_OBJ][4];
    visibility(o, no, size, ids, total, vis, box);
    int dropped = 0;
    for (int k = 0; k < no; k++) {
        int bw = box[k][2] - box[k][0] + 1, bh = box[k][3] - box[k][1] + 1;
        if (vis[k] < 9 || (double)vis[k] < 0.35 * (double)total[k] || bw < 3 || bh < 3) {
            o[k].alive = 0;
            dropped = 1;
        }
    }
    if (dropped)   /* removing objects only uncovers others: one more pass is final */
        visibility(o, no, size, ids, total, vis, box);
    if (rows && n) {
        int m = 0;
        for (int k = 0; k < no; k++) {
            if (!o[k].alive)
                continue;
            float *r = rows + m * 6;
            r[0] = (float)o[k].cls;
            r[1] = (float)box[k][0];
            r[2] = (float)box[k][1];
            r[3] = (float)(box[k][2] + 1);
            r[4] = (float)(box[k][3] + 1);
            r[5] = 0;
            m++;
        }
        *n = m;
    }
    if (!img) {
        free(ids);
        return YPR_OK;
    }
    int rc = ypr__image_alloc(img, size, size);
    if (rc < 0) {
        free(ids);
        return rc;
    }
    ypr_rng r;
    stream(&r, ds->seed, i, 1);
    draw_background(img, &r, ds->nc);
    for (int k = 0; k < no; k++) {
        if (!o[k].alive)
            continue;
        int x0 = box[k][0], y0 = box[k][1], x1 = box[k][2], y1 = box[k][3];
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                size_t at = (size_t)y * (size_t)size + (size_t)x;
                if (ids[at] != k + 1)
                    continue;
                float u, v;
                local(&o[k], x, y, &u, &v);
                float st = o[k].stripes != 0 ? o[k].stripes * sinf(u * o[k].sfreq) : 0;
                uint8_t *p = img->rgb + at * 3;
                for (int c = 0; c < 3; c++)
                    p[c] = clamp8(o[k].col[c] + o[k].gx * u + o[k].gy * v + st);
            }
    }
    free(ids);
    /* sensor-like noise: a sum of four uniform bytes is close to normal */
    stream(&r, ds->seed, i, 2);
    float sigma = uni(&r, 3, 12) / 147.8f;
    size_t np = (size_t)size * (size_t)size * 3;
    for (size_t p = 0; p < np; p += 2) {
        uint64_t b = ypr__rng_u64(&r);
        for (size_t h = 0; h < 2 && p + h < np; h++, b >>= 32) {
            int s = (int)(b & 255) + (int)(b >> 8 & 255) - (int)(b >> 16 & 255) - (int)(b >> 24 & 255);
            img->rgb[p + h] = clamp8((float)img->rgb[p + h] + sigma * (float)s);
        }
    }
    return YPR_OK;
}
