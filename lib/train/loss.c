/* YOLOv7's training losses on the raw head maps, with their gradients:
 * ComputeLoss (every target on its centre cell and the two nearest
 * neighbours, for each anchor whose width/height ratio is under anchor_t)
 * and ComputeLossOTA (those candidates filtered per image by SimOTA: dynamic
 * k from the top-10 IoUs, cost = class BCE + 3·(−log IoU), each candidate
 * to its cheapest target). Box loss mean(1 − CIoU), objectness BCE against
 * the detached, clamped CIoU (gr = 1), class BCE with label smoothing, all
 * with pos_weight and optional focal modulation.
 *
 * Assignment decisions (cells, ratios, OTA costs) are computed in float
 * with PyTorch's operation order, so they fall where PyTorch's do; loss
 * values and gradients are computed in double. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

#define MAX_BALANCE 5

/* One assignment: level, image, anchor, cell, target row. */
typedef struct pos { int32_t l, b, a, gj, gi; int64_t t; } pos;

struct ypr_loss {
    pos *cand, *match;
    int64_t cand_cap, match_cap;
    float *tobj;                 /* one level's objectness targets [B, na, H, W] */
    int64_t tobj_cap;
    /* OTA, one image at a time */
    int64_t *cols, *gts;         /* candidate indices, target rows */
    int64_t cols_cap, gts_cap;
    float *pbox, *logit;         /* per column: xyxy in pixels, nc class logits of √(σ(c)·σ(o)) */
    int64_t pbox_cap, logit_cap;
    float *iou, *cost;           /* [ngt, ncol] */
    unsigned char *sel;          /* [ngt, ncol] matching matrix */
    int64_t iou_cap, cost_cap, sel_cap;
    int32_t *count, *owner;      /* per column */
    int64_t count_cap, owner_cap;
    int *ks;                     /* per target: dynamic k */
    int64_t ks_cap;
};

/* Grow *p to hold need elements of size elem (contents kept). */
static int grow(void *pp, int64_t *cap, int64_t need, size_t elem)
{
    void **p = pp;
    if (need <= *cap)
        return YPR_OK;
    int64_t n = *cap ? *cap : 64;
    while (n < need)
        n = n > INT64_MAX / 2 ? need : 2 * n;
    int64_t bytes;
    RETURN_IF(ypr__mul_size(n, (int64_t)elem, &bytes) < 0 || (uint64_t)bytes > SIZE_MAX,
              YPR_ENOMEM, "loss: workspace of %lld elements too large", (long long)n);
    void *q = realloc(*p, (size_t)bytes);
    RETURN_IF(!q, YPR_ENOMEM, "loss: out of memory (%lld bytes of workspace)", (long long)bytes);
    *p = q;
    *cap = n;
    return YPR_OK;
}

int ypr__loss_create(ypr_loss **out)
{
    RETURN_IF(!out, YPR_EINVAL, "loss: NULL output");
    *out = calloc(1, sizeof **out);
    RETURN_IF(!*out, YPR_ENOMEM, "loss: out of memory");
    return YPR_OK;
}

void ypr__loss_free(ypr_loss *l)
{
    if (!l)
        return;
    free(l->cand);
    free(l->match);
    free(l->tobj);
    free(l->cols);
    free(l->gts);
    free(l->pbox);
    free(l->logit);
    free(l->iou);
    free(l->cost);
    free(l->sel);
    free(l->count);
    free(l->owner);
    free(l->ks);
    free(l);
}

int ypr__loss_opts_init(ypr_loss_opts *o, const ypr_hyp *h, const ypr_net *net, int imgsz)
{
    RETURN_IF(!o || !h || !net, YPR_EINVAL, "loss options: NULL argument");
    RETURN_IF(imgsz < 1, YPR_EINVAL, "loss options: image size %d", imgsz);
    const ypr_node *d = net->nnodes > 0 ? &net->nodes[net->nnodes - 1] : NULL;
    RETURN_IF(!d || d->kind != YPR_NODE_DETECT, YPR_EINVAL, "loss options: the net has no detect node");
    RETURN_IF(d->nl < 1 || d->nl > MAX_BALANCE, YPR_EINVAL,
              "loss options: %s has %d levels (YOLOv7's balance covers 1..5)", d->name, d->nl);
    RETURN_IF(d->na < 1 || d->na > 16, YPR_EINVAL, "loss options: %s has %d anchors per level (1..16)",
              d->name, d->na);
    RETURN_IF(d->nc < 1, YPR_EINVAL, "loss options: %s has %d classes", d->name, d->nc);
    RETURN_IF(d->p[0] < 0 || net->params[d->p[0]].numel != (int64_t)d->nl * d->na * 2 ||
              !net->params[d->p[0]].data,
              YPR_EINVAL, "loss options: %s: anchors are not [%d, %d, 2]", d->name, d->nl, d->na);
    ypr_loss_opts r;
    memset(&r, 0, sizeof r);
    r.nc = d->nc;
    r.nl = d->nl;
    r.na = d->na;
    memcpy(r.anchors, net->params[d->p[0]].data, (size_t)d->nl * d->na * 2 * sizeof(float));
    memcpy(r.strides, d->strides, (size_t)d->nl * sizeof(float));
    double nl = d->nl, s = imgsz / 640.0;
    /* train.py: hyp['box'] *= 3. / nl; hyp['cls'] *= nc / 80. * 3. / nl;
     * hyp['obj'] *= (imgsz / 640) ** 2 * 3. / nl (doubles, used as float) */
    r.box = (float)(h->box * (3.0 / nl));
    r.cls = (float)(h->cls * (d->nc / 80.0 * 3.0 / nl));
    r.obj = (float)(h->obj * (s * s * 3.0 / nl));
    r.cls_pw = (float)h->cls_pw;
    r.obj_pw = (float)h->obj_pw;
    r.anchor_t = (float)h->anchor_t;
    r.label_smoothing = (float)h->label_smoothing;
    r.fl_gamma = (float)h->fl_gamma;
    r.ota = h->loss_ota == 1.0;
    const float v[] = {r.box, r.cls, r.obj, r.cls_pw, r.obj_pw, r.anchor_t, r.label_smoothing, r.fl_gamma};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        RETURN_IF(!isfinite(v[i]) || v[i] < 0, YPR_EINVAL,
                  "loss options: box %g, cls %g, obj %g, cls_pw %g, obj_pw %g, anchor_t %g, "
                  "label_smoothing %g, fl_gamma %g: each must be finite and ≥ 0",
                  h->box, h->cls, h->obj, h->cls_pw, h->obj_pw, h->anchor_t, h->label_smoothing,
                  h->fl_gamma);
    *o = r;
    return YPR_OK;
}

/* ------------------------------------------------------------ criteria */

/* BCE-with-logits of x against t with pos_weight pw, PyTorch's formula;
 * *d receives its derivative in x. */
static double bce(double x, double t, double pw, double *d)
{
    double mx = x < 0 ? -x : 0;   /* max(−x, 0) */
    double lw = (pw - 1) * t + 1;
    double sp = log(exp(-mx) + exp(-x - mx)) + mx;   /* log(1 + e^−x) */
    double sneg = x >= 0 ? exp(-x) / (1 + exp(-x)) : 1 / (1 + exp(x));   /* σ(−x) */
    *d = (1 - t) - lw * sneg;
    return (1 - t) * x + lw * sp;
}

/* The criterion YOLOv7 builds: BCE, or FocalLoss(BCE) with alpha 0.25 when
 * gamma > 0; value and derivative of one element (mean taken by callers). */
static double crit(double x, double t, double pw, double gamma, double *d)
{
    double db, l = bce(x, t, pw, &db);
    if (!(gamma > 0)) {
        *d = db;
        return l;
    }
    double p = 1 / (1 + exp(-x));
    double pt = t * p + (1 - t) * (1 - p);
    double af = t * 0.25 + (1 - t) * 0.75;
    double q = 1 - pt, m = pow(q, gamma);
    double dm = q > 0 ? gamma * pow(q, gamma - 1) * -((2 * t - 1) * p * (1 - p)) : 0;
    *d = af * (db * m + l * dm);
    return l * af * m;
}

/* PyTorch's float BCE-with-logits (no weight), for OTA costs. */
static float bce_f(float x, float t)
{
    float mx = -x > 0 ? -x : 0.0f;
    return (1 - t) * x + mx + logf(expf(-mx) + expf(-x - mx));
}

static float sig_f(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static double sig(double x)
{
    return 1 / (1 + exp(-x));
}

/* ------------------------------------------------------------ CIoU */

/* CIoU of the predicted box p and target box t (both cx, cy, w, h) as
 * YOLOv7's bbox_iou(x1y1x2y2=False, CIoU=True), alpha held constant;
 * gp receives d CIoU / d p. */
static double ciou(const double *p, const double *t, double *gp)
{
    const double eps = 1e-7, k = 4 / (M_PI * M_PI);
    double px1 = p[0] - p[2] / 2, px2 = p[0] + p[2] / 2, py1 = p[1] - p[3] / 2, py2 = p[1] + p[3] / 2;
    double tx1 = t[0] - t[2] / 2, tx2 = t[0] + t[2] / 2, ty1 = t[1] - t[3] / 2, ty2 = t[1] + t[3] / 2;
    double iw = fmin(px2, tx2) - fmax(px1, tx1), ih = fmin(py2, ty2) - fmax(py1, ty1);
    double iwc = iw > 0 ? iw : 0, ihc = ih > 0 ? ih : 0, inter = iwc * ihc;
    double w1 = px2 - px1, h1 = py2 - py1 + eps, w2 = tx2 - tx1, h2 = ty2 - ty1 + eps;
    double uni = w1 * h1 + w2 * h2 - inter + eps, iou = inter / uni;
    double cw = fmax(px2, tx2) - fmin(px1, tx1), ch = fmax(py2, ty2) - fmin(py1, ty1);
    double c2 = cw * cw + ch * ch + eps;
    double dx = tx1 + tx2 - px1 - px2, dy = ty1 + ty2 - py1 - py2;
    double rho2 = (dx * dx + dy * dy) / 4;
    double da = atan(w2 / h2) - atan(w1 / h1), v = k * da * da;
    double alpha = v / (v - iou + (1 + eps));
    double out = iou - (rho2 / c2 + v * alpha);

    /* backward, with g = d out / d out = 1 */
    double d_px1 = 0, d_px2 = 0, d_py1 = 0, d_py2 = 0;
    double d_inter = 1 / uni, d_uni = -inter / (uni * uni);
    double d_w1 = d_uni * h1, d_h1 = d_uni * w1;
    d_inter -= d_uni;
    double d_iw = iw >= 0 ? d_inter * ihc : 0, d_ih = ih >= 0 ? d_inter * iwc : 0;
    /* min/max split the gradient evenly on ties, as PyTorch's do */
    d_px2 += px2 < tx2 ? d_iw : px2 == tx2 ? d_iw / 2 : 0;
    d_px1 -= px1 > tx1 ? d_iw : px1 == tx1 ? d_iw / 2 : 0;
    d_py2 += py2 < ty2 ? d_ih : py2 == ty2 ? d_ih / 2 : 0;
    d_py1 -= py1 > ty1 ? d_ih : py1 == ty1 ? d_ih / 2 : 0;
    double d_c2 = rho2 / (c2 * c2), d_rho2 = -1 / c2;
    double d_cw = d_c2 * 2 * cw, d_ch = d_c2 * 2 * ch;
    d_px2 += px2 > tx2 ? d_cw : px2 == tx2 ? d_cw / 2 : 0;
    d_px1 -= px1 < tx1 ? d_cw : px1 == tx1 ? d_cw / 2 : 0;
    d_py2 += py2 > ty2 ? d_ch : py2 == ty2 ? d_ch / 2 : 0;
    d_py1 -= py1 < ty1 ? d_ch : py1 == ty1 ? d_ch / 2 : 0;
    double d_dx = d_rho2 * dx / 2, d_dy = d_rho2 * dy / 2;
    d_px1 -= d_dx;
    d_px2 -= d_dx;
    d_py1 -= d_dy;
    d_py2 -= d_dy;
    /* v = k·(atan(w2/h2) − atan(w1/h1))², d out / d v = −alpha */
    double r1 = w1 / h1, d_r1 = -alpha * k * 2 * da * -1 / (1 + r1 * r1);
    d_w1 += d_r1 / h1;
    d_h1 += -d_r1 * w1 / (h1 * h1);
    d_px2 += d_w1;
    d_px1 -= d_w1;
    d_py2 += d_h1;
    d_py1 -= d_h1;
    gp[0] = d_px1 + d_px2;
    gp[1] = d_py1 + d_py2;
    gp[2] = (d_px2 - d_px1) / 2;
    gp[3] = (d_py2 - d_py1) / 2;
    return out;
}

/* ------------------------------------------------------------ assignment */

typedef struct run {
    const ypr_loss_opts *o;
    int64_t B, no;
    const float *const *head;
    const int64_t *hl, *wl;
    const float *tg;
    int64_t nt;
} run;

/* Index of channel k of anchor a at (b, gj, gi) in level l's map. */
static int64_t at(const run *r, int l, int64_t b, int64_t a, int64_t k, int64_t gj, int64_t gi)
{
    int64_t H = r->hl[l], W = r->wl[l];
    return (((b * r->o->na + a) * r->no + k) * H + gj) * W + gi;
}

/* YOLOv7's find_3_positive / build_targets: candidates per level in the
 * order offset (centre, −x, −y, +x, +y neighbour), anchor, target. */
static int three_positive(ypr_loss *L, const run *r, int64_t *n)
{
    const ypr_loss_opts *o = r->o;
    int64_t cnt = 0;
    for (int l = 0; l < o->nl; l++) {
        float W = (float)r->wl[l], H = (float)r->hl[l];
        for (int off = 0; off < 5; off++)
            for (int a = 0; a < o->na; a++) {
                float aw = o->anchors[(l * o->na + a) * 2], ah = o->anchors[(l * o->na + a) * 2 + 1];
                for (int64_t t = 0; t < r->nt; t++) {
                    const float *row = r->tg + t * 6;
                    float gx = row[2] * W, gy = row[3] * H, gw = row[4] * W, gh = row[5] * H;
                    float rw = gw / aw, rh = gh / ah;
                    float mw = fmaxf(rw, 1.0f / rw), mh = fmaxf(rh, 1.0f / rh);
                    if (!(fmaxf(mw, mh) < o->anchor_t))
                        continue;
                    float xi = W - gx, yi = H - gy, ox = 0, oy = 0;
                    int keep = 1;
                    switch (off) {
                    case 1: keep = gx - floorf(gx) < 0.5f && gx > 1.0f; ox = 0.5f; break;
                    case 2: keep = gy - floorf(gy) < 0.5f && gy > 1.0f; oy = 0.5f; break;
                    case 3: keep = xi - floorf(xi) < 0.5f && xi > 1.0f; ox = -0.5f; break;
                    case 4: keep = yi - floorf(yi) < 0.5f && yi > 1.0f; oy = -0.5f; break;
                    default: break;
                    }
                    if (!keep)
                        continue;
                    int64_t gi = (int64_t)(gx - ox), gj = (int64_t)(gy - oy);   /* .long(): toward 0 */
                    gi = gi < 0 ? 0 : gi > r->wl[l] - 1 ? r->wl[l] - 1 : gi;
                    gj = gj < 0 ? 0 : gj > r->hl[l] - 1 ? r->hl[l] - 1 : gj;
                    TRY(grow(&L->cand, &L->cand_cap, cnt + 1, sizeof(pos)));
                    L->cand[cnt++] = (pos){l, (int32_t)row[0], a, (int32_t)gj, (int32_t)gi, t};
                }
            }
    }
    *n = cnt;
    return YPR_OK;
}

/* Among the columns not yet taken, the one of least cost (NaN last, ties to
 * the earlier column). */
static int64_t least(const float *cost, const unsigned char *taken, int64_t n)
{
    int64_t best = -1;
    for (int64_t c = 0; c < n; c++) {
        if (taken[c])
            continue;
        if (best < 0 || cost[c] < cost[best] || (isnan(cost[best]) && !isnan(cost[c])))
            best = c;
    }
    return best;
}

/* The predicted box (pixels, xyxy) and the class logits OTA compares,
 * computed in float as YOLOv7 does. */
static void ota_column(ypr_loss *L, const run *r, const pos *p, int64_t c)
{
    const ypr_loss_opts *o = r->o;
    const float *h = r->head[p->l];
    float s = o->strides[p->l];
    float aw = o->anchors[(p->l * o->na + p->a) * 2], ah = o->anchors[(p->l * o->na + p->a) * 2 + 1];
    float x0 = h[at(r, p->l, p->b, p->a, 0, p->gj, p->gi)], x1 = h[at(r, p->l, p->b, p->a, 1, p->gj, p->gi)];
    float x2 = h[at(r, p->l, p->b, p->a, 2, p->gj, p->gi)], x3 = h[at(r, p->l, p->b, p->a, 3, p->gj, p->gi)];
    float px = (sig_f(x0) * 2.0f - 0.5f + (float)p->gi) * s;
    float py = (sig_f(x1) * 2.0f - 0.5f + (float)p->gj) * s;
    float tw = sig_f(x2) * 2.0f, th = sig_f(x3) * 2.0f;
    float pw = tw * tw * aw * s, ph = th * th * ah * s;
    float *b = L->pbox + c * 4;
    b[0] = px - pw / 2;
    b[1] = py - ph / 2;
    b[2] = px + pw / 2;
    b[3] = py + ph / 2;
    float so = sig_f(h[at(r, p->l, p->b, p->a, 4, p->gj, p->gi)]);
    for (int k = 0; k < o->nc; k++) {
        float y = sqrtf(sig_f(h[at(r, p->l, p->b, p->a, 5 + k, p->gj, p->gi)]) * so);
        L->logit[c * o->nc + k] = logf(y / (1 - y));
    }
}

/* SimOTA for one image: fills count/owner of its columns. */
static int ota_image(ypr_loss *L, const run *r, int64_t ngt, int64_t ncol, int64_t img_h)
{
    const ypr_loss_opts *o = r->o;
    int64_t m = ngt * ncol;   /* no overflow: checked by the caller */
    for (int64_t g = 0; g < ngt; g++) {
        const float *row = r->tg + L->gts[g] * 6;
        float fh = (float)img_h;
        float x = row[2] * fh, y = row[3] * fh, w = row[4] * fh, h = row[5] * fh;
        float t0 = x - w / 2, t1 = y - h / 2, t2 = x + w / 2, t3 = y + h / 2;
        float a1 = (t2 - t0) * (t3 - t1);
        int cls = (int)row[1];
        float top[10];
        int ntop = 0, kmax = ncol < 10 ? (int)ncol : 10;
        for (int64_t c = 0; c < ncol; c++) {
            const float *b = L->pbox + c * 4;
            float a2 = (b[2] - b[0]) * (b[3] - b[1]);
            float iw = fmaxf(fminf(t2, b[2]) - fmaxf(t0, b[0]), 0.0f);
            float ih = fmaxf(fminf(t3, b[3]) - fmaxf(t1, b[1]), 0.0f);
            float inter = iw * ih, iou = inter / (a1 + a2 - inter);
            L->iou[g * ncol + c] = iou;
            /* keep the kmax largest, descending (torch.topk) */
            if (ntop < kmax)
                top[ntop++] = iou;
            else if (iou > top[kmax - 1])
                top[kmax - 1] = iou;
            for (int j = ntop - 1; j > 0 && top[j] > top[j - 1]; j--) {
                float sw = top[j];
                top[j] = top[j - 1];
                top[j - 1] = sw;
            }
            float cc = 0;
            for (int k = 0; k < o->nc; k++)
                cc += bce_f(L->logit[c * o->nc + k], k == cls ? 1.0f : 0.0f);
            L->cost[g * ncol + c] = cc + 3.0f * -logf(iou + 1e-8f);
        }
        float sum = 0;
        for (int j = 0; j < ntop; j++)
            sum += top[j];
        int k = (int)sum;
        L->ks[g] = k < 1 ? 1 : k;
    }
    memset(L->sel, 0, (size_t)m);
    for (int64_t c = 0; c < ncol; c++)
        L->count[c] = 0;
    for (int64_t g = 0; g < ngt; g++) {
        unsigned char *s = L->sel + g * ncol;
        for (int j = 0; j < L->ks[g] && j < ncol; j++) {
            int64_t c = least(L->cost + g * ncol, s, ncol);
            s[c] = 1;
            L->count[c]++;
        }
    }
    for (int64_t c = 0; c < ncol; c++) {
        L->owner[c] = -1;
        if (L->count[c] == 0)
            continue;
        int64_t best = -1;
        for (int64_t g = 0; g < ngt; g++) {
            if (L->count[c] == 1) {
                if (L->sel[g * ncol + c]) {
                    best = g;
                    break;
                }
                continue;
            }
            float v = L->cost[g * ncol + c];
            if (best < 0 || v < L->cost[best * ncol + c] ||
                (isnan(L->cost[best * ncol + c]) && !isnan(v)))
                best = g;
        }
        L->owner[c] = (int32_t)best;
    }
    return YPR_OK;
}

/* ComputeLossOTA.build_targets: the matched positives, per image then level. */
static int ota_assign(ypr_loss *L, const run *r, int64_t ncand, int64_t img_h, int64_t *nmatch)
{
    int64_t nm = 0;
    for (int64_t img = 0; img < r->B; img++) {
        int64_t ngt = 0, ncol = 0;
        for (int64_t t = 0; t < r->nt; t++)
            if ((int64_t)r->tg[t * 6] == img) {
                TRY(grow(&L->gts, &L->gts_cap, ngt + 1, sizeof(int64_t)));
                L->gts[ngt++] = t;
            }
        if (!ngt)
            continue;
        for (int64_t c = 0; c < ncand; c++)
            if (L->cand[c].b == img) {
                TRY(grow(&L->cols, &L->cols_cap, ncol + 1, sizeof(int64_t)));
                L->cols[ncol++] = c;
            }
        if (!ncol)
            continue;
        int64_t nlog;
        RETURN_IF(ypr__mul_size(ncol, r->o->nc, &nlog) < 0, YPR_ENOMEM, "loss: OTA too large");
        TRY(grow(&L->pbox, &L->pbox_cap, ncol * 4, sizeof(float)));
        TRY(grow(&L->logit, &L->logit_cap, nlog, sizeof(float)));
        TRY(grow(&L->count, &L->count_cap, ncol, sizeof(int32_t)));
        TRY(grow(&L->owner, &L->owner_cap, ncol, sizeof(int32_t)));
        TRY(grow(&L->ks, &L->ks_cap, ngt, sizeof(int)));
        int64_t m;
        RETURN_IF(ypr__mul_size(ngt, ncol, &m) < 0, YPR_ENOMEM, "loss: OTA too large");
        TRY(grow(&L->iou, &L->iou_cap, m, sizeof(float)));
        TRY(grow(&L->cost, &L->cost_cap, m, sizeof(float)));
        TRY(grow(&L->sel, &L->sel_cap, m, 1));
        for (int64_t c = 0; c < ncol; c++)
            ota_column(L, r, &L->cand[L->cols[c]], c);
        TRY(ota_image(L, r, ngt, ncol, img_h));
        for (int64_t c = 0; c < ncol; c++) {
            if (L->owner[c] < 0)
                continue;
            TRY(grow(&L->match, &L->match_cap, nm + 1, sizeof(pos)));
            pos p = L->cand[L->cols[c]];
            p.t = L->gts[L->owner[c]];
            L->match[nm++] = p;
        }
    }
    *nmatch = nm;
    return YPR_OK;
}

/* ------------------------------------------------------------ the loss */

/* One level: adds the level's mean box loss, mean class loss and balanced
 * mean objectness loss to acc[0..2]; with g, writes d total / d head. */
static int level_loss(ypr_loss *L, const run *r, int l, const pos *P, int64_t np, double bal,
                      double acc[3], float *g)
{
    const ypr_loss_opts *o = r->o;
    const float *h = r->head[l];
    int64_t H = r->hl[l], W = r->wl[l], cells = r->B * o->na * H * W, n = 0;
    TRY(grow(&L->tobj, &L->tobj_cap, cells, sizeof(float)));
    memset(L->tobj, 0, (size_t)cells * sizeof(float));
    for (int64_t i = 0; i < np; i++)
        n += P[i].l == l;
    double B = (double)r->B, cp = 1.0 - 0.5 * o->label_smoothing, cn = 0.5 * o->label_smoothing;
    double sbox = 0, scls = 0;
    double gbox = n ? -B * o->box / (double)n : 0, gcls = n ? B * o->cls / ((double)n * o->nc) : 0;
    for (int64_t i = 0; i < np && n; i++) {
        const pos *p = &P[i];
        if (p->l != l)
            continue;
        const float *row = r->tg + p->t * 6;
        float tb[4] = {row[2] * (float)W - (float)p->gi, row[3] * (float)H - (float)p->gj,
                       row[4] * (float)W, row[5] * (float)H};
        double td[4] = {tb[0], tb[1], tb[2], tb[3]};
        double aw = o->anchors[(l * o->na + p->a) * 2], ah = o->anchors[(l * o->na + p->a) * 2 + 1];
        int64_t ix[4];
        double s[4];
        for (int k = 0; k < 4; k++) {
            ix[k] = at(r, l, p->b, p->a, k, p->gj, p->gi);
            s[k] = sig(h[ix[k]]);
        }
        double pb[4] = {s[0] * 2 - 0.5, s[1] * 2 - 0.5, 4 * s[2] * s[2] * aw, 4 * s[3] * s[3] * ah};
        double gp[4];
        double ci = ciou(pb, td, gp);
        sbox += 1 - ci;
        L->tobj[((p->b * o->na + p->a) * H + p->gj) * W + p->gi] = (float)(ci > 0 ? ci : 0);
        if (g) {
            g[ix[0]] += (float)(gbox * gp[0] * 2 * s[0] * (1 - s[0]));
            g[ix[1]] += (float)(gbox * gp[1] * 2 * s[1] * (1 - s[1]));
            g[ix[2]] += (float)(gbox * gp[2] * aw * 8 * s[2] * s[2] * (1 - s[2]));
            g[ix[3]] += (float)(gbox * gp[3] * ah * 8 * s[3] * s[3] * (1 - s[3]));
        }
        if (o->nc > 1)
            for (int k = 0; k < o->nc; k++) {
                int64_t j = at(r, l, p->b, p->a, 5 + k, p->gj, p->gi);
                double d;
                scls += crit(h[j], k == (int)row[1] ? cp : cn, o->cls_pw, o->fl_gamma, &d);
                if (g)
                    g[j] += (float)(gcls * d);
            }
    }
    if (n) {
        acc[0] += sbox / (double)n;
        if (o->nc > 1)
            acc[2] += scls / ((double)n * o->nc);
    }
    double sobj = 0, gobj = B * o->obj * bal / (double)cells;
    for (int64_t b = 0; b < r->B; b++)
        for (int a = 0; a < o->na; a++)
            for (int64_t q = 0; q < H * W; q++) {
                int64_t j = at(r, l, b, a, 4, 0, 0) + q;
                double d;
                sobj += crit(h[j], L->tobj[(b * o->na + a) * H * W + q], o->obj_pw, o->fl_gamma, &d);
                if (g)
                    g[j] = (float)(gobj * d);
            }
    acc[1] += sobj / (double)cells * bal;
    return YPR_OK;
}

static int check_opts(const ypr_loss_opts *o)
{
    RETURN_IF(o->nc < 1 || o->nl < 1 || o->nl > MAX_BALANCE || o->na < 1 || o->na > 16, YPR_EINVAL,
              "loss: nc %d, nl %d, na %d (need nc ≥ 1, nl 1..5, na 1..16)", o->nc, o->nl, o->na);
    for (int i = 0; i < o->nl * o->na * 2; i++)
        RETURN_IF(!(o->anchors[i] > 0) || !isfinite(o->anchors[i]), YPR_EINVAL,
                  "loss: anchor value %d is %g (need finite > 0)", i, o->anchors[i]);
    for (int l = 0; l < o->nl; l++)
        RETURN_IF(!(o->strides[l] > 0) || !isfinite(o->strides[l]), YPR_EINVAL,
                  "loss: stride of level %d is %g", l, o->strides[l]);
    const float v[] = {o->box, o->obj, o->cls, o->cls_pw, o->obj_pw, o->anchor_t, o->label_smoothing,
                       o->fl_gamma};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        RETURN_IF(!isfinite(v[i]) || v[i] < 0, YPR_EINVAL,
                  "loss: gains, pos weights, anchor_t, label smoothing and gamma must be finite "
                  "and ≥ 0 (value %zu is %g)", i, v[i]);
    return YPR_OK;
}

static int check_inputs(const run *r, int64_t img_h, int64_t img_w)
{
    const ypr_loss_opts *o = r->o;
    RETURN_IF(r->B < 1, YPR_EINVAL, "loss: batch %lld", (long long)r->B);
    RETURN_IF(img_h < 1 || img_w < 1, YPR_EINVAL, "loss: image size %lldx%lld", (long long)img_h,
              (long long)img_w);
    RETURN_IF(r->nt < 0 || (r->nt > 0 && !r->tg), YPR_EINVAL, "loss: %lld targets, data %p",
              (long long)r->nt, (const void *)r->tg);
    for (int l = 0; l < o->nl; l++) {
        int64_t H = r->hl[l], W = r->wl[l], n;
        RETURN_IF(!r->head[l], YPR_EINVAL, "loss: level %d: NULL head map", l);
        RETURN_IF(H < 1 || W < 1 || H > INT32_MAX || W > INT32_MAX, YPR_EINVAL,
                  "loss: level %d: map size %lldx%lld", l, (long long)H, (long long)W);
        RETURN_IF(ypr__mul_size(r->B * o->na, r->no, &n) < 0 || ypr__mul_size(n, H, &n) < 0 ||
                  ypr__mul_size(n, W, &n) < 0, YPR_EINVAL, "loss: level %d: map too large", l);
        const float *h = r->head[l];
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(h[i])) {
                int64_t w = i % W, y = i / W % H, c = i / (W * H) % (o->na * r->no), b = i / (W * H * o->na * r->no);
                return ypr__error(YPR_ERANGE, "loss: level %d: non-finite head value %g at "
                                  "[%lld, %lld, %lld, %lld]", l, (double)h[i], (long long)b,
                                  (long long)c, (long long)y, (long long)w);
            }
    }
    for (int64_t t = 0; t < r->nt; t++) {
        const float *row = r->tg + t * 6;
        for (int k = 0; k < 6; k++)
            RETURN_IF(!isfinite(row[k]), YPR_EINVAL, "loss: target row %lld: value %d is %g",
                      (long long)t, k, (double)row[k]);
        RETURN_IF(row[0] != floorf(row[0]) || row[0] < 0 || row[0] >= (float)r->B, YPR_EINVAL,
                  "loss: target row %lld: image index %g outside 0..%lld", (long long)t,
                  (double)row[0], (long long)r->B - 1);
        RETURN_IF(row[1] != floorf(row[1]) || row[1] < 0 || row[1] >= (float)o->nc, YPR_EINVAL,
                  "loss: target row %lld: class %g outside 0..%d", (long long)t, (double)row[1],
                  o->nc - 1);
        RETURN_IF(row[4] < 0 || row[5] < 0, YPR_EINVAL,
                  "loss: target row %lld: negative size %g x %g", (long long)t, (double)row[4],
                  (double)row[5]);
    }
    return YPR_OK;
}

int ypr__loss_run(ypr_loss *l, const ypr_loss_opts *o, int64_t batch,
                  const float *const *head, const int64_t *hl, const int64_t *wl,
                  int64_t img_h, int64_t img_w, const float *targets, int64_t nt,
                  double out[4], float *const *grad)
{
    RETURN_IF(!l || !o || !head || !hl || !wl || !out, YPR_EINVAL, "loss: NULL argument");
    TRY(check_opts(o));
    run r = {o, batch, o->nc + 5, head, hl, wl, targets, nt};
    TRY(check_inputs(&r, img_h, img_w));
    if (grad)
        for (int i = 0; i < o->nl; i++) {
            RETURN_IF(!grad[i], YPR_EINVAL, "loss: level %d: NULL gradient map", i);
            memset(grad[i], 0, (size_t)(batch * o->na * r.no * hl[i] * wl[i]) * sizeof(float));
        }
    int64_t ncand, np;
    TRY(three_positive(l, &r, &ncand));
    const pos *P = l->cand;
    np = ncand;
    if (o->ota) {
        TRY(ota_assign(l, &r, ncand, img_h, &np));
        P = l->match;
    }
    static const double bal3[3] = {4.0, 1.0, 0.4}, bal5[MAX_BALANCE] = {4.0, 1.0, 0.25, 0.06, 0.02};
    double acc[3] = {0, 0, 0};
    for (int i = 0; i < o->nl; i++)
        TRY(level_loss(l, &r, i, P, np, o->nl == 3 ? bal3[i] : bal5[i], acc, grad ? grad[i] : NULL));
    out[0] = acc[0] * o->box;
    out[1] = acc[1] * o->obj;
    out[2] = acc[2] * o->cls;
    out[3] = (out[0] + out[1] + out[2]) * (double)batch;
    return YPR_OK;
}
