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
    int64_t planes, per;   /* planes in all, planes per task */
} plane_job;

/* Planes per task: about 32 K values per task, but at least two tasks per
 * worker where there are planes enough. One task per plane of 13² or 26²
 * made the workers fight over the task counter's cache line for a few
 * hundred tiny tasks: the max-pools of yolov7-tiny @416 ran slower on two
 * threads than on one. */
static int64_t planes_per_task(const ypr_pool *pool, int64_t planes, int64_t values)
{
    int64_t per = values >= 32768 ? 1 : (32768 + values - 1) / values;
    int64_t spread = (planes + 2 * ypr__pool_size(pool) - 1) / (2 * ypr__pool_size(pool));
    return per < spread ? per : spread > 0 ? spread : 1;
}

static void run_planes(ypr_pool *pool, plane_job *j, int64_t values, ypr_task_fn fn)
{
    j->per = planes_per_task(pool, j->planes, values);
    ypr__pool_run(pool, (j->planes + j->per - 1) / j->per, fn, j);
}

static void pool_task(void *ctx, int64_t task, int worker)
{
    (void)worker;
    const plane_job *j = ctx;
    const ypr_ktable *kt = j->kt;
    const int64_t t1 = (task + 1) * j->per < j->planes ? (task + 1) * j->per : j->planes;
    for (int64_t t = task * j->per; t < t1; t++) {
        const float *x = j->x + t * j->h * j->w;
        float *y = j->y + t * j->oh * j->ow;
        if (j->k == 2 && j->s == 2 && j->p == 0 && kt->maxpool_2x2s2)
            kt->maxpool_2x2s2(x, j->w, y, j->oh, j->ow);
        else if (!(j->s == 1 && kt->maxpool_s1 &&
                   kt->maxpool_s1(x, j->h, j->w, y, j->oh, j->ow, j->k, j->p)))
            ypr__maxpool_plane_ref(x, j->h, j->w, y, j->oh, j->ow, j->k, j->s, j->p);
    }
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
    plane_job j = {kt, x, y, h, w, oh, ow, 0, k, s, p, NULL, planes, 1};
    run_planes(pool, &j, h * w, pool_task);
    return YPR_OK;
}

static void up_task(void *ctx, int64_t task, int worker)
{
    (void)worker;
    const plane_job *j = ctx;
    const int64_t t1 = (task + 1) * j->per < j->planes ? (task + 1) * j->per : j->planes;
    for (int64_t t = task * j->per; t < t1; t++)
        j->kt->upsample2x_plane(j->x + t * j->h * j->w, j->h, j->w, j->y + t * 4 * j->h * j->w);
}

int ypr__upsample2x(const ypr_ktable *kt, ypr_pool *pool, int64_t planes, int64_t h,
                    int64_t w, const float *x, float *y)
{
    RETURN_IF(!kt || !x || !y, YPR_EINVAL, "upsample: NULL pointer");
    RETURN_IF(planes <= 0 || h <= 0 || w <= 0, YPR_EINVAL, "upsample: sizes must be positive");
    plane_job j = {kt, x, y, h, w, 2 * h, 2 * w, 0, 0, 0, 0, NULL, planes, 1};
    run_planes(pool, &j, 4 * h * w, up_task);
    return YPR_OK;
}

static void act_task(void *ctx, int64_t task, int worker)
{
    (void)worker;
    const plane_job *j = ctx;
    const int64_t t1 = (task + 1) * j->per < j->planes ? (task + 1) * j->per : j->planes;
    for (int64_t t = task * j->per; t < t1; t++) {
        int64_t ch = t % j->c;
        j->kt->scale_bias_act(j->y + t * j->h, j->h, j->ep->scale ? j->ep->scale[ch] : 1.0f,
                              j->ep->bias ? j->ep->bias[ch] : 0.0f, j->ep->act, j->ep->alpha);
    }
}

int ypr__scale_bias_act(const ypr_ktable *kt, ypr_pool *pool, int64_t n, int64_t c,
                        int64_t hw, float *y, const ypr_epilogue *ep)
{
    RETURN_IF(!kt || !y || !ep, YPR_EINVAL, "activation: NULL pointer");
    RETURN_IF(n <= 0 || c <= 0 || hw <= 0, YPR_EINVAL, "activation: sizes must be positive");
    RETURN_IF(ep->act < 0 || ep->act >= YPR_ACT_COUNT_, YPR_EINVAL,
              "activation: unknown kind %d", ep->act);
    plane_job j = {kt, NULL, y, hw, 0, 0, 0, c, 0, 0, 0, ep, n * c, 1};
    run_planes(pool, &j, hw, act_task);
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
