/* TEMPORARY naive backward convs until lib/kernels/conv_bwd.c lands. */
#include <string.h>
#include "lib/kernels/kernels.h"
#include "train.h"

int64_t ypr__conv_bwd_scratch_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers)
{
    (void)kt; (void)s; (void)workers;
    return 1;
}

int ypr__conv2d_bwd_data(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                         const float *dy, const float *w, float *dx, int accumulate,
                         float *scratch)
{
    (void)kt; (void)pool; (void)scratch;
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    int64_t cg = s->c / s->groups, og = s->oc / s->groups;
    if (!accumulate)
        memset(dx, 0, (size_t)(s->n * s->c * s->h * s->w) * sizeof(float));
    for (int64_t b = 0; b < s->n; b++)
        for (int64_t o = 0; o < s->oc; o++) {
            int64_t g = o / og;
            for (int64_t ci = 0; ci < cg; ci++)
                for (int64_t ky = 0; ky < s->kh; ky++)
                    for (int64_t kx = 0; kx < s->kw; kx++) {
                        float wv = w[((o * cg + ci) * s->kh + ky) * s->kw + kx];
                        float *xp = dx + (b * s->c + g * cg + ci) * s->h * s->w;
                        const float *yp = dy + (b * s->oc + o) * oh * ow;
                        for (int64_t oy = 0; oy < oh; oy++) {
                            int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                            if (iy < 0 || iy >= s->h)
                                continue;
                            for (int64_t ox = 0; ox < ow; ox++) {
                                int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                                if (ix >= 0 && ix < s->w)
                                    xp[iy * s->w + ix] += wv * yp[oy * ow + ox];
                            }
                        }
                    }
        }
    return YPR_OK;
}

int ypr__conv2d_bwd_weight(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                           const float *x, const float *dy, float *dw, float *db,
                           float *scratch)
{
    (void)kt; (void)pool; (void)scratch;
    int64_t oh, ow;
    TRY(ypr__conv_check(s, &oh, &ow));
    int64_t cg = s->c / s->groups, og = s->oc / s->groups;
    for (int64_t o = 0; o < s->oc; o++) {
        int64_t g = o / og;
        for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t ky = 0; ky < s->kh; ky++)
                for (int64_t kx = 0; kx < s->kw; kx++) {
                    double acc = 0;
                    for (int64_t b = 0; b < s->n; b++) {
                        const float *xp = x + (b * s->c + g * cg + ci) * s->h * s->w;
                        const float *yp = dy + (b * s->oc + o) * oh * ow;
                        for (int64_t oy = 0; oy < oh; oy++) {
                            int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                            if (iy < 0 || iy >= s->h)
                                continue;
                            for (int64_t ox = 0; ox < ow; ox++) {
                                int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                                if (ix >= 0 && ix < s->w)
                                    acc += (double)xp[iy * s->w + ix] * yp[oy * ow + ox];
                            }
                        }
                    }
                    dw[((o * cg + ci) * s->kh + ky) * s->kw + kx] += (float)acc;
                }
        if (db) {
            double acc = 0;
            for (int64_t b = 0; b < s->n; b++)
                for (int64_t q = 0; q < oh * ow; q++)
                    acc += dy[(b * s->oc + o) * oh * ow + q];
            db[o] += (float)acc;
        }
    }
    return YPR_OK;
}
