/* Knowledge distillation from a teacher's head maps (forward only), on the
 * raw maps [B, na·no, H, W] of both nets at the same input:
 *   objectness: BCE(σ(s_obj), σ(t_obj))
 *   classes:    σ(t_obj) · mean_k BCE(σ(s_k), σ(t_k))
 *   box:        σ(t_obj) · Σ_{x,y,w,h} (σ(s) − σ(t))²
 * each averaged over a level's anchors and cells, summed over levels, times
 * the batch (as YOLOv7's loss) and the DISTILL weight. Teacher objectness
 * weighs the box and class terms, so background cells teach only "nothing
 * here" (objectness-scaled distillation). The gradient adds to the head
 * gradients the YOLOv7 loss wrote. */
#include <math.h>
#include <string.h>

#include "trainer_impl.h"

static const ypr_node *head_of(const ypr_model *m)
{
    const ypr_net *net = &m->net;
    for (int i = net->nnodes - 1; i >= 0; i--)
        if (net->nodes[i].kind == YPR_NODE_DETECT)
            return &net->nodes[i];
    return NULL;
}

int ypr__distill_check(const ypr_model *s, const ypr_model *t)
{
    const ypr_node *a = head_of(s), *b = head_of(t);
    RETURN_IF(!a || !b, YPR_EINVAL, "trainer: student or teacher has no detect head");
    RETURN_IF(a->nc != b->nc || a->na != b->na || a->nl != b->nl, YPR_EINVAL,
              "trainer: teacher head (nc %d, na %d, nl %d) differs from the student's "
              "(nc %d, na %d, nl %d)", b->nc, b->na, b->nl, a->nc, a->na, a->nl);
    const ypr_param *pa = &s->net.params[a->p[0]], *pb = &t->net.params[b->p[0]];
    RETURN_IF(pa->numel != pb->numel, YPR_EINVAL, "trainer: teacher anchors differ");
    for (int64_t i = 0; i < pa->numel; i++)
        RETURN_IF(fabsf(pa->data[i] - pb->data[i]) > 1e-5f * fabsf(pa->data[i]) + 1e-6f,
                  YPR_EINVAL, "trainer: teacher anchor %lld is %g, the student's %g",
                  (long long)i, pb->data[i], pa->data[i]);
    for (int l = 0; l < a->nl; l++)
        RETURN_IF(a->strides[l] != b->strides[l], YPR_EINVAL,
                  "trainer: teacher stride %g at level %d, the student's %g", b->strides[l], l,
                  a->strides[l]);
    return YPR_OK;
}

static float sig(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* BCE(σ(s), p) without overflow: max(s,0) − s·p + log(1 + e^−|s|). */
static double bce(float s, float p)
{
    return (double)fmaxf(s, 0.0f) - (double)s * p + log1p(exp(-fabs((double)s)));
}

int ypr__distill(ypr_trainer *t, const float *images, int n, const float *const *head,
                 float *const *grad, const int64_t *hl, const int64_t *wl, double *loss)
{
    ypr_model *tm = t->teacher;
    int size = t->prepared_size;
    TRY(ypr__model_plan(tm, n, size, size));
    TRY(ypr__plan_run(tm->plan, images));
    const ypr_node *d = head_of(t->model);
    int na = d->na, nc = d->nc, no = nc + 5;
    double total = 0, w = t->distill * n;
    for (int l = 0; l < d->nl; l++) {
        ypr_shape ts;
        const float *th = ypr__plan_output(tm->plan, l, &ts);
        RETURN_IF(!th || ts.h != hl[l] || ts.w != wl[l], YPR_ESHAPE,
                  "trainer: teacher level %d is %lldx%lld, the student's %lldx%lld", l,
                  (long long)ts.h, (long long)ts.w, (long long)hl[l], (long long)wl[l]);
        int64_t hw = hl[l] * wl[l];
        double cells = (double)n * na * hw, k = w / cells, sum = 0;
        for (int64_t b = 0; b < n; b++)
            for (int a = 0; a < na; a++) {
                int64_t base = ((b * na + a) * no) * hw;
                const float *s = head[l] + base, *u = th + base;
                float *g = grad[l] + base;
                for (int64_t q = 0; q < hw; q++) {
                    float po = sig(u[4 * hw + q]), so = sig(s[4 * hw + q]);
                    sum += bce(s[4 * hw + q], po);
                    g[4 * hw + q] += (float)(k * (so - po));
                    for (int c = 0; c < 4; c++) {
                        float sc = sig(s[c * hw + q]), tc = sig(u[c * hw + q]), e = sc - tc;
                        sum += (double)po * e * e;
                        g[c * hw + q] += (float)(k * po * 2.0f * e * sc * (1.0f - sc));
                    }
                    for (int c = 5; c < no; c++) {
                        float sc = sig(s[c * hw + q]), tc = sig(u[c * hw + q]);
                        sum += (double)po * bce(s[c * hw + q], tc) / nc;
                        g[c * hw + q] += (float)(k * po * (sc - tc) / nc);
                    }
                }
            }
        total += sum * k;
    }
    *loss = total;
    return YPR_OK;
}
