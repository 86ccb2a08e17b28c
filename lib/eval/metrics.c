/* Detection metrics: per-image matching, AP, P/R at the best mean F1, the
 * confusion matrix, and the results table and JSON.
 *
 * Two modes, which differ in how detections are matched and how AP is
 * integrated:
 *
 * YPR_METRIC_YOLOV7 (YOLOv7's test.py + ap_per_class):
 *   - matching, per image and class: detections are visited in order of
 *     decreasing confidence (the order NMS hands them to test.py). Each
 *     takes the ground truth it overlaps most (first on ties); if that IoU
 *     is > 0.5 and the box is not yet taken, it becomes taken and the
 *     detection is correct at every threshold t with IoU > t. Otherwise the
 *     detection is a false positive at every threshold — it never falls
 *     back to its second-best box. The single assignment found at IoU 0.5
 *     is scored at all ten thresholds.
 *   - AP: recall and precision from cumulative TP/FP; sentinels
 *     recall [0, r..., r_last + 0.01], precision [1, p..., 0]; the
 *     precision envelope (running max from the end); np.interp-style linear
 *     interpolation at linspace(0, 1, 101); trapezoidal integral.
 *   - if no detection is correct anywhere, every number is 0 (test.py).
 * YPR_METRIC_COCO (COCO's evaluate/accumulate, one area range, no maxDets):
 *   - matching is redone at each threshold t: detections in order of
 *     decreasing confidence take the unmatched ground truth with the highest
 *     IoU >= t (note >=, where YOLOv7 has >), so a detection whose best box
 *     is taken may still match its second best, and a higher threshold can
 *     produce a different assignment.
 *   - AP: precision tp / (tp + fp + eps), the envelope, then at each of the
 *     101 recall points the envelope at the first recall >= the point (0
 *     past the last recall); AP is the plain mean of the 101 values — a
 *     step-function sum, no sentinels and no trapezoid.
 * Consequences: a duplicate after full recall costs YOLOv7 0.0025 (its last
 * sample at recall 1.0 reads the envelope after the duplicate) and COCO
 * nothing; a detection whose best box is taken is an FP in YOLOv7 but may
 * be a TP in COCO; IoU exactly 0.5 counts in COCO only.
 *
 * Both modes: VOC "difficult" ground truths are not counted in the labels;
 * a detection matched to one (YOLOv7: its best box with IoU > 0.5 is
 * difficult; COCO: no ordinary box qualifies but a difficult one does) is
 * ignored — neither TP nor FP. P and R per class are read at the confidence
 * where the class-mean F1 peaks on a 1000-point grid of [0, 1] (p and r
 * linearly interpolated against confidence, left values 1 and 0), using the
 * IoU-0.5 assignment of the mode. Classes without labels are left out of
 * every mean. The PR curves are the YOLOv7 envelope at IoU 0.5 sampled at
 * 1000 recalls, in both modes.
 *
 * Detections with equal confidence are ordered by the order they were
 * added (a stable sort; test.py's argsort is not stable). */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "lib/core/json.h"

#define NPX 1000            /* the confidence / recall grid */
#define NREC 101            /* recall points of AP */
#define MAX_CLASSES 2048
#define CONF_CONFUSION 0.25
#define IOU_CONFUSION 0.45

typedef struct det_rec {
    float conf;
    int32_t cls;
    uint16_t tp;            /* bit t: true positive at threshold t */
    uint16_t ign;           /* bit t: ignored at threshold t (difficult box) */
    int64_t seq;            /* order of arrival: ties in conf keep it */
} det_rec;

struct ypr_eval_acc {
    int nc, mode;
    int64_t images;
    det_rec *dets;
    int64_t ndets, cap;
    int64_t *labels;        /* nc: non-difficult ground truths */
    int64_t *label_images;  /* nc: images with at least one of them */
    int64_t *confusion;     /* (nc+1)^2, row = predicted, column = true */
};

static double iou_thr(int t)
{
    return 0.5 + 0.05 * t;
}

/* IoU in double of two x1 y1 x2 y2 boxes; 0 when the union is empty. */
static double box_iou(const float *a, const float *b)
{
    double iw = fmin((double)a[2], (double)b[2]) - fmax((double)a[0], (double)b[0]);
    double ih = fmin((double)a[3], (double)b[3]) - fmax((double)a[1], (double)b[1]);
    double inter = (iw > 0 ? iw : 0) * (ih > 0 ? ih : 0);
    double aa = ((double)a[2] - a[0]) * ((double)a[3] - a[1]);
    double ab = ((double)b[2] - b[0]) * ((double)b[3] - b[1]);
    double uni = aa + ab - inter;
    return uni > 0 ? inter / uni : 0.0;
}

/* ------------------------------------------------------------ accumulator */

int ypr__eval_create(int nc, int mode, ypr_eval_acc **out)
{
    RETURN_IF(!out, YPR_EINVAL, "eval: NULL output");
    *out = NULL;
    RETURN_IF(nc < 1 || nc > MAX_CLASSES, YPR_EINVAL,
              "eval: class count %d outside [1, %d]", nc, MAX_CLASSES);
    RETURN_IF(mode != YPR_METRIC_YOLOV7 && mode != YPR_METRIC_COCO, YPR_EINVAL,
              "eval: unknown metric mode %d", mode);
    ypr_eval_acc *a = ypr__calloc(1, sizeof *a);
    if (!a)
        return YPR_ENOMEM;
    a->nc = nc;
    a->mode = mode;
    a->labels = ypr__calloc((size_t)nc, sizeof *a->labels);
    a->label_images = ypr__calloc((size_t)nc, sizeof *a->label_images);
    a->confusion = ypr__calloc((size_t)(nc + 1) * (size_t)(nc + 1), sizeof *a->confusion);
    if (!a->labels || !a->label_images || !a->confusion) {
        ypr__eval_free(a);
        return YPR_ENOMEM;
    }
    *out = a;
    return YPR_OK;
}

void ypr__eval_free(ypr_eval_acc *acc)
{
    if (!acc)
        return;
    free(acc->dets);
    free(acc->labels);
    free(acc->label_images);
    free(acc->confusion);
    free(acc);
}

static int class_ok(float v, int nc)
{
    return isfinite(v) && v >= 0.0f && v < (float)nc && v == floorf(v);
}

static int box_ok(const float *b)
{
    return isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) &&
           b[2] >= b[0] && b[3] >= b[1];
}

typedef struct conf_idx { float conf; int idx; } conf_idx;

static int cmp_conf_idx(const void *pa, const void *pb)
{
    const conf_idx *a = pa, *b = pb;
    if (a->conf != b->conf)
        return a->conf > b->conf ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* YOLOv7-style confusion matrix of one image: detections above conf 0.25;
 * every (box, detection) pair with IoU > 0.45 regardless of class; each
 * detection keeps its best box, then each box keeps its best remaining
 * detection. Differences from test.py, on purpose: unmatched detections are
 * always counted as background (test.py skips them in images where nothing
 * matched, and skips images without labels altogether), and difficult
 * boxes, with any detection matched to them, are left out. */
static void confusion_image(ypr_eval_acc *acc, const float *dets, int ndet, const float *gts,
                            int ngt, int *best_gt, double *best_iou, int *gt_det)
{
    int nc = acc->nc;
    int64_t *m = acc->confusion;
    for (int g = 0; g < ngt; g++)
        gt_det[g] = -1;
    for (int i = 0; i < ndet; i++) {
        const float *d = dets + (size_t)6 * i;
        best_gt[i] = -1;
        best_iou[i] = 0;
        if (!((double)d[4] > CONF_CONFUSION))
            continue;
        for (int g = 0; g < ngt; g++) {
            double iou = box_iou(d, gts + (size_t)6 * g + 1);
            if (iou > IOU_CONFUSION && (best_gt[i] < 0 || iou > best_iou[i])) {
                best_gt[i] = g;
                best_iou[i] = iou;
            }
        }
        if (best_gt[i] >= 0) {
            int g = best_gt[i];
            if (gt_det[g] < 0 || best_iou[i] > best_iou[gt_det[g]])
                gt_det[g] = i;
        }
    }
    for (int g = 0; g < ngt; g++) {
        const float *t = gts + (size_t)6 * g;
        if (t[5] != 0.0f)
            continue;
        int tc = (int)t[0];
        if (gt_det[g] >= 0)
            m[(size_t)(int)dets[(size_t)6 * gt_det[g] + 5] * (nc + 1) + tc]++;
        else
            m[(size_t)nc * (nc + 1) + tc]++;
    }
    for (int i = 0; i < ndet; i++) {
        const float *d = dets + (size_t)6 * i;
        if (!((double)d[4] > CONF_CONFUSION))
            continue;
        int g = best_gt[i];
        if (g >= 0 && gt_det[g] == i)
            continue;                     /* counted with its box (or difficult) */
        m[(size_t)(int)d[5] * (nc + 1) + nc]++;
    }
}

int ypr__eval_add(ypr_eval_acc *acc, const float *dets, int ndet, const float *gts, int ngt)
{
    RETURN_IF(!acc, YPR_EINVAL, "eval: NULL accumulator");
    RETURN_IF(ndet < 0 || ngt < 0, YPR_EINVAL,
              "eval: negative count (%d detections, %d ground truths)", ndet, ngt);
    RETURN_IF(ndet > 0 && !dets, YPR_EINVAL, "eval: NULL detections with count %d", ndet);
    RETURN_IF(ngt > 0 && !gts, YPR_EINVAL, "eval: NULL ground truths with count %d", ngt);
    int nc = acc->nc;
    for (int i = 0; i < ndet; i++) {
        const float *d = dets + (size_t)6 * i;
        RETURN_IF(!box_ok(d), YPR_EINVAL,
                  "eval: detection %d: box (%g, %g, %g, %g) is not finite with x1 <= x2, y1 <= y2",
                  i, (double)d[0], (double)d[1], (double)d[2], (double)d[3]);
        RETURN_IF(!isfinite(d[4]), YPR_EINVAL, "eval: detection %d: confidence is not finite", i);
        RETURN_IF(!class_ok(d[5], nc), YPR_EINVAL,
                  "eval: detection %d: class %g outside [0, %d)", i, (double)d[5], nc);
    }
    for (int g = 0; g < ngt; g++) {
        const float *t = gts + (size_t)6 * g;
        RETURN_IF(!class_ok(t[0], nc), YPR_EINVAL,
                  "eval: ground truth %d: class %g outside [0, %d)", g, (double)t[0], nc);
        RETURN_IF(!box_ok(t + 1), YPR_EINVAL,
                  "eval: ground truth %d: box (%g, %g, %g, %g) is not finite with x1 <= x2, y1 <= y2",
                  g, (double)t[1], (double)t[2], (double)t[3], (double)t[4]);
        RETURN_IF(!isfinite(t[5]), YPR_EINVAL, "eval: ground truth %d: difficult flag is not finite", g);
    }

    if (acc->ndets + ndet > acc->cap) {
        int64_t cap = acc->cap ? acc->cap : 1024;
        while (cap < acc->ndets + ndet)
            cap *= 2;
        RETURN_IF((uint64_t)cap > SIZE_MAX / sizeof(det_rec), YPR_ENOMEM, "eval: too many detections");
        det_rec *p = realloc(acc->dets, (size_t)cap * sizeof *p);
        RETURN_IF(!p, YPR_ENOMEM, "eval: cannot grow the detection store to %" PRId64, cap);
        acc->dets = p;
        acc->cap = cap;
    }

    size_t nd = (size_t)ndet, ng = (size_t)ngt;
    conf_idx *order = malloc((nd ? nd : 1) * sizeof *order);
    int *best_gt = malloc((nd ? nd : 1) * sizeof *best_gt);
    double *best_iou = malloc((nd ? nd : 1) * sizeof *best_iou);
    int *gt_det = malloc((ng ? ng : 1) * sizeof *gt_det);
    unsigned char *taken = malloc(ng ? ng : 1);
    unsigned char *seen = calloc((size_t)nc, 1);
    if (!order || !best_gt || !best_iou || !gt_det || !taken || !seen) {
        free(order), free(best_gt), free(best_iou), free(gt_det), free(taken), free(seen);
        return ypr__error(YPR_ENOMEM, "eval: cannot allocate scratch for %d detections", ndet);
    }

    for (int i = 0; i < ndet; i++) {
        order[i].conf = dets[(size_t)6 * i + 4];
        order[i].idx = i;
    }
    if (ndet > 1)
        qsort(order, nd, sizeof *order, cmp_conf_idx);

    det_rec *out = acc->dets + acc->ndets;
    for (int k = 0; k < ndet; k++) {
        const float *d = dets + (size_t)6 * order[k].idx;
        out[k].conf = d[4];
        out[k].cls = (int32_t)d[5];
        out[k].tp = out[k].ign = 0;
        out[k].seq = acc->ndets + k;
    }

    if (acc->mode == YPR_METRIC_YOLOV7) {
        memset(taken, 0, ng);
        for (int k = 0; k < ndet; k++) {
            const float *d = dets + (size_t)6 * order[k].idx;
            int best = -1;
            double biou = 0;
            for (int g = 0; g < ngt; g++) {
                const float *t = gts + (size_t)6 * g;
                if ((int)t[0] != out[k].cls)
                    continue;
                double iou = box_iou(d, t + 1);
                if (best < 0 || iou > biou) {
                    best = g;
                    biou = iou;
                }
            }
            if (best < 0 || !(biou > iou_thr(0)))
                continue;                                   /* FP */
            if (gts[(size_t)6 * best + 5] != 0.0f) {
                out[k].ign = (uint16_t)((1u << YPR_EVAL_NIOU) - 1);
            } else if (!taken[best]) {
                taken[best] = 1;
                for (int t = 0; t < YPR_EVAL_NIOU; t++)
                    if (biou > iou_thr(t))
                        out[k].tp |= (uint16_t)(1u << t);
            }
        }
    } else {
        for (int t = 0; t < YPR_EVAL_NIOU; t++) {
            double thr = iou_thr(t);
            memset(taken, 0, ng);
            for (int k = 0; k < ndet; k++) {
                const float *d = dets + (size_t)6 * order[k].idx;
                int best = -1, diff = 0;
                double biou = -1;
                for (int g = 0; g < ngt; g++) {
                    const float *gt = gts + (size_t)6 * g;
                    if ((int)gt[0] != out[k].cls || (gt[5] == 0.0f && taken[g]))
                        continue;
                    double iou = box_iou(d, gt + 1);
                    if (!(iou >= thr))
                        continue;
                    if (gt[5] != 0.0f)
                        diff = 1;
                    else if (iou > biou) {
                        best = g;
                        biou = iou;
                    }
                }
                if (best >= 0) {
                    taken[best] = 1;
                    out[k].tp |= (uint16_t)(1u << t);
                } else if (diff) {
                    out[k].ign |= (uint16_t)(1u << t);
                }
            }
        }
    }

    for (int g = 0; g < ngt; g++) {
        const float *t = gts + (size_t)6 * g;
        if (t[5] != 0.0f)
            continue;
        int c = (int)t[0];
        acc->labels[c]++;
        if (!seen[c]) {
            seen[c] = 1;
            acc->label_images[c]++;
        }
    }
    confusion_image(acc, dets, ndet, gts, ngt, best_gt, best_iou, gt_det);

    acc->ndets += ndet;
    acc->images++;
    free(order), free(best_gt), free(best_iou), free(gt_det), free(taken), free(seen);
    return YPR_OK;
}

/* ---------------------------------------------------------------- compute */

/* np.interp for one x: xp ascending (repeats allowed), the interval is the
 * last xp[j] <= x; left/right outside. */
static double interp1(double x, const double *xp, const double *fp, int64_t n, double left,
                      double right)
{
    if (x < xp[0])
        return left;
    if (x > xp[n - 1])
        return right;
    if (x == xp[n - 1])
        return fp[n - 1];
    int64_t lo = 0, hi = n - 1;            /* xp[lo] <= x < xp[hi] */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (xp[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    if (xp[lo] == x)
        return fp[lo];
    double slope = (fp[lo + 1] - fp[lo]) / (xp[lo + 1] - xp[lo]);
    double v = slope * (x - xp[lo]) + fp[lo];
    if (isnan(v)) {
        v = slope * (x - xp[lo + 1]) + fp[lo + 1];
        if (isnan(v) && fp[lo] == fp[lo + 1])
            v = fp[lo];
    }
    return v;
}

/* linspace(0, 1, n) point i */
static double grid(int i, int n)
{
    return i == n - 1 ? 1.0 : i * (1.0 / (n - 1));
}

/* YOLOv7 AP of n >= 1 points; mrec/mpre hold n + 2. Writes the envelope
 * sampled at NPX recalls to curve if non-NULL. */
static double ap_yolov7(const double *rec, const double *prec, int64_t n, double *mrec,
                        double *mpre, float *curve)
{
    mrec[0] = 0.0;
    mpre[0] = 1.0;
    for (int64_t k = 0; k < n; k++) {
        mrec[k + 1] = rec[k];
        mpre[k + 1] = prec[k];
    }
    mrec[n + 1] = rec[n - 1] + 0.01;
    mpre[n + 1] = 0.0;
    for (int64_t k = n; k >= 0; k--)
        if (mpre[k + 1] > mpre[k])
            mpre[k] = mpre[k + 1];
    double ap = 0, xprev = 0, yprev = 0;
    for (int i = 0; i < NREC; i++) {
        double x = grid(i, NREC);
        double y = interp1(x, mrec, mpre, n + 2, mpre[0], mpre[n + 1]);
        if (i > 0)
            ap += (x - xprev) * (y + yprev) / 2.0;
        xprev = x;
        yprev = y;
    }
    if (curve)
        for (int i = 0; i < NPX; i++)
            curve[i] = (float)interp1(grid(i, NPX), mrec, mpre, n + 2, mpre[0], mpre[n + 1]);
    return ap;
}

/* COCO AP: rc recall, tpc/fpc cumulative counts; pr scratch of n. */
static double ap_coco(const double *rc, const double *tpc, const double *fpc, int64_t n,
                      double *pr)
{
    for (int64_t k = 0; k < n; k++)
        pr[k] = tpc[k] / (tpc[k] + fpc[k] + DBL_EPSILON);
    for (int64_t k = n - 1; k > 0; k--)
        if (pr[k] > pr[k - 1])
            pr[k - 1] = pr[k];
    double sum = 0;
    int64_t idx = 0;
    for (int i = 0; i < NREC; i++) {
        double rt = grid(i, NREC);
        while (idx < n && rc[idx] < rt)       /* first recall >= rt (rt increases) */
            idx++;
        if (idx < n)
            sum += pr[idx];
    }
    return sum / NREC;
}

static int cmp_det(const void *pa, const void *pb)
{
    const det_rec *a = pa, *b = pb;
    if (a->conf != b->conf)
        return a->conf > b->conf ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

void ypr__eval_result_free(ypr_eval_result *res)
{
    if (!res)
        return;
    free(res->per_class);
    free(res->pr_curves);
    free(res->confusion);
    memset(res, 0, sizeof *res);
}

int ypr__eval_compute(const ypr_eval_acc *acc, ypr_eval_result *res)
{
    RETURN_IF(!res, YPR_EINVAL, "eval: NULL result");
    memset(res, 0, sizeof *res);
    RETURN_IF(!acc, YPR_EINVAL, "eval: NULL accumulator");
    int nc = acc->nc;
    int64_t n = acc->ndets;
    size_t ncs = (size_t)nc, nn = (size_t)(n > 0 ? n : 1);

    res->nc = nc;
    res->images = acc->images;
    res->per_class = ypr__calloc(ncs, sizeof *res->per_class);
    res->pr_curves = ypr__calloc(ncs * NPX, sizeof *res->pr_curves);
    res->confusion = ypr__calloc((ncs + 1) * (ncs + 1), sizeof *res->confusion);
    det_rec *sorted = malloc(nn * sizeof *sorted);
    int64_t *start = calloc(ncs + 1, sizeof *start);
    int64_t *fill = calloc(ncs, sizeof *fill);
    det_rec *bucket = malloc(nn * sizeof *bucket);
    double *pgrid = calloc(ncs * NPX, sizeof *pgrid);
    double *rgrid = calloc(ncs * NPX, sizeof *rgrid);
    /* per-threshold series: conf (negated), tpc, fpc, recall, precision, and
     * n + 2 for mrec/mpre */
    double *work = malloc((nn * 7 + 4) * sizeof *work);
    if (!res->per_class || !res->pr_curves || !res->confusion || !sorted || !start || !fill ||
        !bucket || !pgrid || !rgrid || !work) {
        free(sorted), free(start), free(fill), free(bucket), free(pgrid), free(rgrid), free(work);
        ypr__eval_result_free(res);
        return ypr__error(YPR_ENOMEM, "eval: cannot allocate the metric tables");
    }
    memcpy(res->confusion, acc->confusion, (ncs + 1) * (ncs + 1) * sizeof *res->confusion);

    /* global order by confidence, then bucket by class keeping that order */
    if (n > 0)
        memcpy(sorted, acc->dets, (size_t)n * sizeof *sorted);
    if (n > 1)
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_det);
    for (int64_t k = 0; k < n; k++)
        start[sorted[k].cls + 1]++;
    for (int c = 0; c < nc; c++)
        start[c + 1] += start[c];
    for (int64_t k = 0; k < n; k++) {
        int c = sorted[k].cls;
        bucket[start[c] + fill[c]++] = sorted[k];
    }

    double *negconf = work, *tpc = work + nn, *fpc = work + 2 * nn, *rec = work + 3 * nn,
           *prec = work + 4 * nn, *mrec = work + 5 * nn, *mpre = mrec + nn + 2;
    int anytp = 0;
    int nlab = 0;
    for (int c = 0; c < nc; c++) {
        ypr_class_metrics *cm = &res->per_class[c];
        cm->images = acc->label_images[c];
        cm->labels = acc->labels[c];
        for (int64_t k = start[c]; k < start[c + 1]; k++)
            if (bucket[k].tp)
                anytp = 1;
        if (cm->labels == 0)
            continue;
        nlab++;
        double nl = (double)cm->labels;
        double apsum = 0;
        for (int t = 0; t < YPR_EVAL_NIOU; t++) {
            int64_t m = 0;
            double ctp = 0, cfp = 0;
            for (int64_t k = start[c]; k < start[c + 1]; k++) {
                const det_rec *d = &bucket[k];
                if (d->ign & (1u << t))
                    continue;
                if (d->tp & (1u << t))
                    ctp += 1;
                else
                    cfp += 1;
                negconf[m] = -(double)d->conf;
                tpc[m] = ctp;
                fpc[m] = cfp;
                rec[m] = ctp / (nl + 1e-16);
                prec[m] = ctp / (ctp + cfp);
                m++;
            }
            double ap = 0;
            if (m > 0) {
                float *curve = t == 0 ? res->pr_curves + (size_t)c * NPX : NULL;
                if (acc->mode == YPR_METRIC_YOLOV7) {
                    ap = ap_yolov7(rec, prec, m, mrec, mpre, curve);
                } else {
                    if (curve)
                        (void)ap_yolov7(rec, prec, m, mrec, mpre, curve);
                    /* nl + 1e-16 == nl for nl >= 1: rec is COCO's tp / npig */
                    ap = ap_coco(rec, tpc, fpc, m, mrec);
                }
                if (t == 0) {
                    for (int i = 0; i < NPX; i++) {
                        double x = -grid(i, NPX);
                        rgrid[(size_t)c * NPX + i] = interp1(x, negconf, rec, m, 0.0, rec[m - 1]);
                        pgrid[(size_t)c * NPX + i] = interp1(x, negconf, prec, m, 1.0, prec[m - 1]);
                    }
                }
            }
            if (t == 0)
                cm->ap50 = ap;
            apsum += ap;
        }
        cm->ap = apsum / YPR_EVAL_NIOU;
    }

    /* the confidence of the best class-mean F1 (first on ties) */
    int best = 0;
    if (nlab > 0) {
        double bestf = -1;
        for (int i = 0; i < NPX; i++) {
            double s = 0;
            for (int c = 0; c < nc; c++) {
                if (res->per_class[c].labels == 0)
                    continue;
                double p = pgrid[(size_t)c * NPX + i], r = rgrid[(size_t)c * NPX + i];
                s += 2 * p * r / (p + r + 1e-16);
            }
            double f = s / nlab;
            if (f > bestf) {
                bestf = f;
                best = i;
            }
        }
    }
    res->best_conf = grid(best, NPX);
    double sp = 0, sr = 0, s50 = 0, sap = 0;
    int64_t labels = 0;
    for (int c = 0; c < nc; c++) {
        ypr_class_metrics *cm = &res->per_class[c];
        labels += cm->labels;
        if (cm->labels == 0)
            continue;
        if (acc->mode == YPR_METRIC_YOLOV7 && !anytp) {
            cm->p = cm->r = cm->ap50 = cm->ap = 0;  /* test.py: nothing correct, all zero */
        } else {
            cm->p = pgrid[(size_t)c * NPX + best];
            cm->r = rgrid[(size_t)c * NPX + best];
        }
        sp += cm->p;
        sr += cm->r;
        s50 += cm->ap50;
        sap += cm->ap;
    }
    res->all.images = acc->images;
    res->all.labels = labels;
    if (nlab > 0) {
        res->all.p = sp / nlab;
        res->all.r = sr / nlab;
        res->all.ap50 = s50 / nlab;
        res->all.ap = sap / nlab;
    }
    free(sorted), free(start), free(fill), free(bucket), free(pgrid), free(rgrid), free(work);
    return YPR_OK;
}

/* ---------------------------------------------------------- table, JSON */

static void class_name(char *buf, size_t cap, const char *const *names, int c)
{
    if (names && names[c])
        snprintf(buf, cap, "%s", names[c]);
    else
        snprintf(buf, cap, "%d", c);
}

char *ypr__eval_table(const ypr_eval_result *res, const char *const *names)
{
    if (!res || (res->nc > 0 && !res->per_class)) {
        ypr__error(YPR_EINVAL, "eval: NULL or empty result");
        return NULL;
    }
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr__sb_printf(&sb, "%20s%12s%12s%12s%12s%12s%12s\n", "Class", "Images", "Labels", "P", "R",
                   "mAP@.5", "mAP@.5:.95");
    const char *row = "%20s%12" PRId64 "%12" PRId64 "%12.3g%12.3g%12.3g%12.3g\n";
    ypr__sb_printf(&sb, row, "all", res->all.images, res->all.labels, res->all.p, res->all.r,
                   res->all.ap50, res->all.ap);
    /* per class as test.py: only with more than one class, only classes with labels */
    for (int c = 0; res->nc > 1 && c < res->nc; c++) {
        const ypr_class_metrics *cm = &res->per_class[c];
        if (cm->labels == 0)
            continue;
        char name[256];
        class_name(name, sizeof name, names, c);
        ypr__sb_printf(&sb, row, name, cm->images, cm->labels, cm->p, cm->r, cm->ap50, cm->ap);
    }
    if (sb.failed || !sb.data) {
        ypr__sb_free(&sb);
        ypr__error(YPR_ENOMEM, "eval: cannot allocate the table");
        return NULL;
    }
    return sb.data;
}

static void json_metrics(ypr_strbuf *sb, const ypr_class_metrics *m, int is_all)
{
    ypr__sb_printf(sb, "\"images\":%" PRId64 ",\"labels\":%" PRId64 ",\"p\":", m->images,
                   m->labels);
    ypr__sb_json_double(sb, m->p);
    ypr__sb_puts(sb, ",\"r\":");
    ypr__sb_json_double(sb, m->r);
    ypr__sb_puts(sb, is_all ? ",\"map50\":" : ",\"ap50\":");
    ypr__sb_json_double(sb, m->ap50);
    ypr__sb_puts(sb, is_all ? ",\"map\":" : ",\"ap\":");
    ypr__sb_json_double(sb, m->ap);
}

char *ypr__eval_json(const ypr_eval_result *res, const char *const *names)
{
    if (!res || (res->nc > 0 && (!res->per_class || !res->confusion))) {
        ypr__error(YPR_EINVAL, "eval: NULL or empty result");
        return NULL;
    }
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr__sb_printf(&sb, "{\"nc\":%d,\"images\":%" PRId64 ",\"best_conf\":", res->nc, res->images);
    ypr__sb_json_double(&sb, res->best_conf);
    ypr__sb_puts(&sb, ",\"all\":{");
    json_metrics(&sb, &res->all, 1);
    ypr__sb_puts(&sb, "},\"classes\":[");
    for (int c = 0; c < res->nc; c++) {
        char name[256];
        class_name(name, sizeof name, names, c);
        ypr__sb_printf(&sb, "%s{\"class\":%d,\"name\":", c ? "," : "", c);
        ypr__sb_json_str(&sb, name);
        ypr__sb_puts(&sb, ",");
        json_metrics(&sb, &res->per_class[c], 0);
        ypr__sb_puts(&sb, "}");
    }
    ypr__sb_puts(&sb, "],\"confusion\":{\"rows\":\"predicted\",\"columns\":\"true\",\"matrix\":[");
    int k = res->nc + 1;
    for (int r = 0; r < k; r++) {
        ypr__sb_puts(&sb, r ? ",[" : "[");
        for (int c = 0; c < k; c++)
            ypr__sb_printf(&sb, "%s%" PRId64, c ? "," : "", res->confusion[(size_t)r * k + c]);
        ypr__sb_puts(&sb, "]");
    }
    ypr__sb_puts(&sb, "]}}");
    if (sb.failed || !sb.data) {
        ypr__sb_free(&sb);
        ypr__error(YPR_ENOMEM, "eval: cannot allocate the JSON");
        return NULL;
    }
    return sb.data;
}
