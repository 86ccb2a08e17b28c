/* Plane-wise layers split over the pool: max-pool, nearest ×2 upsample, the
 * standalone epilogue and concat copies. */
#include <string.h>

#include "kernels.h"

typedef struct plane_job {
    const ypr_ktable *kt;
    const float *x;
    float *y;
    int64_t h, w, oh, ow, c;
    int k, s, p;
    const ypr_epilogue *ep;
} plane_job;

static void pool_task(void *ctx, int64_t t, int worker)
{
    const plane_job *j = ctx;
    const float *x = j->x + t * j->h * j->w;
    float *y = j->y + t * j->oh * j->ow;
    const ypr_ktable *kt = j->kt;
    if (j->k == 2 && j->s == 2 && j->p == 0 && kt->maxpool_2x2s2) {
        kt->maxpool_2x2s2(x, j->w, y, j->oh, j->ow);
        return;
    }
    if (j->s == 1 && kt->maxpool_s1 && kt->maxpool_s1(x, j->h, j->w, y, j->oh, j->ow, j->k, j->p))
        return;
    ypr__maxpool_plane_ref(x, j->h, j->w, y, j->oh, j->ow, j->k, j->s, j->p);
}

int ypr__maxpool2d(const ypr_ktable *kt, ypr_pool *pool, int64_t planes, int64_t h,
                   int64_t w, int k, int s, int p, const float *x, float *y)
{
    RETURN_IF(!kt || !x || !y, YPR_EINVAL, "maxpool2d: NULL pointer");
    RETURN_IF(planes <= 0 || h <= 0 || w <= 0 || k <= 0 || s <= 0 || p < 0, YPR_EINVAL,
              "maxpool2d: sizes must be positive (planes=%lld %lldx%lld k=%d s=%d p=%d)",
              (long long)planes, (long long)h, (long long)w, k, s, p);
    RETURN_IF(2 * p > k, YPR_EINVAL, "maxpool2d: padding %d exceeds half the kernel %d", p, k);
    RETURN_IF(h + 2 * p < k || w + 2 * p < k, YPR_EINVAL,
              "maxpool2d: kernel %d larger than padded input", k);
    int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    plane_job j = {kt, x, y, h, w, oh, ow, 0, k, s, p, NULL};
    ypr__pool_run(pool, planes, pool_task, &j);
    return YPR_OK;
}

static void up_task(void *ctx, int64_t t, int worker)
{
    const plane_job *j = ctx;
    j->kt->upsample2x_plane(j->x + t * j->h * j->w, j->h, j->w, j->y + t * 4 * j->h * j->w);
}

int ypr__upsample2x(const ypr_ktable *kt, ypr_pool *pool, int64_t planes, int64_t h,
                    int64_t w, const float *x, float *y)
{
    RETURN_IF(!kt || !x || !y, YPR_EINVAL, "upsample: NULL pointer");
    RETURN_IF(planes <= 0 || h <= 0 || w <= 0, YPR_EINVAL, "upsample: sizes must be positive");
    plane_job j = {kt, x, y, h, w, 2 * h, 2 * w, 0, 0, 0, 0, NULL};
    ypr__pool_run(pool, planes, up_task, &j);
    return YPR_OK;
}

static void act_task(void *ctx, int64_t t, int worker)
{
    const plane_job *j = ctx;
    int64_t ch = t % j->c;
    j->kt->scale_bias_act(j->y + t * j->h, j->h, j->ep->scale ? j->ep->scale[ch] : 1.0f,
                          j->ep->bias ? j->ep->bias[ch] : 0.0f, j->ep->act, j->ep->alpha);
}

int ypr__scale_bias_act(const ypr_ktable *kt, ypr_pool *pool, int64_t n, int64_t c,
                        int64_t hw, float *y, const ypr_epilogue *ep)
{
    RETURN_IF(!kt || !y || !ep, YPR_EINVAL, "activation: NULL pointer");
    RETURN_IF(n <= 0 || c <= 0 || hw <= 0, YPR_EINVAL, "activation: sizes must be positive");
    RETURN_IF(ep->act < 0 || ep->act >= YPR_ACT_COUNT_, YPR_EINVAL,
              "activation: unknown kind %d", ep->act);
    plane_job j = {kt, NULL, y, hw, 0, 0, 0, c, 0, 0, 0, ep};
    ypr__pool_run(pool, n * c, act_task, &j);
    return YPR_OK;
}

int ypr__concat_copy(int64_t n, int64_t cx, int64_t cy, int64_t off, int64_t hw,
                     const float *x, float *y)
{
    RETURN_IF(!x || !y, YPR_EINVAL, "concat: NULL pointer");
    RETURN_IF(n <= 0 || cx <= 0 || hw <= 0 || off < 0 || off + cx > cy, YPR_EINVAL,
              "concat: channels [%lld, %lld) outside the %lld of the output",
              (long long)off, (long long)(off + cx), (long long)cy);
    /* One contiguous block per image: libc's memcpy is already vectorized. */
    for (int64_t b = 0; b < n; b++)
        memcpy(y + (b * cy + off) * hw, x + b * cx * hw, (size_t)(cx * hw) * sizeof(float));
    return YPR_OK;
}
