/* YOLOv7's hyper-parameters: the defaults of data/hyp.scratch.p5.yaml and
 * hyp.scratch.tiny.yaml, one table of keys (name, field, allowed range),
 * and a reader for hyp.*.yaml files through core's YAML reader.
 *
 * `loss_ota` (1 = ComputeLossOTA, train.py's default when the key is
 * absent) and `label_smoothing` (train.py's --label-smoothing, 0) are keys
 * too, so one struct holds the whole recipe. A hyp file's `anchors:` key
 * (anchors per level; YOLOv7 then re-estimates anchors with k-means) is
 * read, checked and ignored with a warning: the model's anchors are kept. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"
#include "lib/io/io.h"

#define HYP_MAX_BYTES ((size_t)1 << 20)

typedef struct hyp_key {
    const char *name;
    size_t off;
    double lo, hi;     /* allowed closed range */
    int integer;       /* value must be a whole number */
} hyp_key;

#define K(f, lo, hi) { #f, offsetof(ypr_hyp, f), lo, hi, 0 }
#define BIG 1e9

/* Ranges keep values meaningful (probabilities in [0, 1], momentum below 1,
 * gains and rates non-negative), not merely the values YOLOv7 ships. */
static const hyp_key KEYS[] = {
    K(lr0, 0, 10), K(lrf, 0, 10), K(momentum, 0, 1), K(weight_decay, 0, 1),
    K(warmup_epochs, 0, 1e6), K(warmup_momentum, 0, 1), K(warmup_bias_lr, 0, 10),
    K(box, 0, BIG), K(cls, 0, BIG), K(cls_pw, 0, BIG), K(obj, 0, BIG), K(obj_pw, 0, BIG),
    K(iou_t, 0, 1), K(anchor_t, 1, BIG), K(fl_gamma, 0, 100),
    K(hsv_h, 0, 1), K(hsv_s, 0, 1), K(hsv_v, 0, 1), K(degrees, 0, 180), K(translate, 0, 1),
    K(scale, 0, 1), K(shear, 0, 90), K(perspective, 0, 0.1),
    K(flipud, 0, 1), K(fliplr, 0, 1), K(mosaic, 0, 1), K(mixup, 0, 1), K(copy_paste, 0, 1),
    K(paste_in, 0, 1),
    { "loss_ota", offsetof(ypr_hyp, loss_ota), 0, 1, 1 },
    K(label_smoothing, 0, 1),
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

_Static_assert(sizeof(ypr_hyp) == sizeof(double) * (sizeof KEYS / sizeof KEYS[0]),
               "every ypr_hyp field has a key");

void ypr__hyp_default(ypr_hyp *h, int which)
{
    const int tiny = which == YPR_HYP_TINY;
    *h = (ypr_hyp){
        .lr0 = 0.01, .lrf = tiny ? 0.01 : 0.1, .momentum = 0.937, .weight_decay = 0.0005,
        .warmup_epochs = 3.0, .warmup_momentum = 0.8, .warmup_bias_lr = 0.1,
        .box = 0.05, .cls = tiny ? 0.5 : 0.3, .cls_pw = 1.0, .obj = tiny ? 1.0 : 0.7,
        .obj_pw = 1.0, .iou_t = 0.20, .anchor_t = 4.0, .fl_gamma = 0.0,
        .hsv_h = 0.015, .hsv_s = 0.7, .hsv_v = 0.4, .degrees = 0.0,
        .translate = tiny ? 0.1 : 0.2, .scale = tiny ? 0.5 : 0.9, .shear = 0.0,
        .perspective = 0.0, .flipud = 0.0, .fliplr = 0.5, .mosaic = 1.0,
        .mixup = tiny ? 0.05 : 0.15, .copy_paste = 0.0, .paste_in = tiny ? 0.05 : 0.15,
        .loss_ota = 1, .label_smoothing = 0.0,
    };
}

int ypr__hyp_count(void)
{
    return NKEYS;
}

const char *ypr__hyp_key(int i)
{
    return i >= 0 && i < NKEYS ? KEYS[i].name : NULL;
}

static const hyp_key *find(const char *key, size_t len)
{
    for (int i = 0; i < NKEYS; i++)
        if (strlen(KEYS[i].name) == len && memcmp(KEYS[i].name, key, len) == 0)
            return &KEYS[i];
    return NULL;
}

/* NULL if v is allowed for k, else what is wrong with it. */
static const char *check(const hyp_key *k, double v)
{
    if (!isfinite(v))
        return "not a finite number";
    if (v < k->lo || v > k->hi)
        return "out of range";
    if (k->integer && v != floor(v))
        return "not a whole number";
    return NULL;
}

int ypr__hyp_set(ypr_hyp *h, const char *key, double value)
{
    RETURN_IF(!h || !key, YPR_EINVAL, "hyp: NULL argument");
    const hyp_key *k = find(key, strlen(key));
    RETURN_IF(!k, YPR_ENOTFOUND, "hyp: unknown key '%.60s'", key);
    const char *bad = check(k, value);
    RETURN_IF(bad, YPR_ERANGE, "hyp: %s = %g: %s (allowed %g to %g)", k->name, value, bad,
              k->lo, k->hi);
    *(double *)((char *)h + k->off) = value;
    return YPR_OK;
}

int ypr__hyp_get(const ypr_hyp *h, const char *key, double *value)
{
    RETURN_IF(!h || !key || !value, YPR_EINVAL, "hyp: NULL argument");
    const hyp_key *k = find(key, strlen(key));
    RETURN_IF(!k, YPR_ENOTFOUND, "hyp: unknown key '%.60s'", key);
    *value = *(const double *)((const char *)h + k->off);
    return YPR_OK;
}

/* One `key: value` pair of the file onto `h`. */
static int load_pair(const ypr_yaml *kn, const ypr_yaml *vn, ypr_hyp *h)
{
    if (kn->type != YPR_YAML_SCALAR || strlen(kn->s) != kn->len)
        return ypr__yaml_error(kn, YPR_EFORMAT, "hyp: keys must be names");
    double v;
    int num = ypr__yaml_num(vn, &v) == 0;
    if (kn->len == 7 && memcmp(kn->s, "anchors", 7) == 0) {
        if (!num || v < 0 || v > 100)
            return ypr__yaml_error(vn, YPR_ERANGE, "hyp: anchors: expected a number of anchors");
        ypr__log(YPR_LOG_WARN, "%s:%d: hyp: anchors: %g ignored (the model's anchors are kept)",
                 kn->file, kn->line, v);
        return YPR_OK;
    }
    const hyp_key *k = find(kn->s, kn->len);
    if (!k)
        return ypr__yaml_error(kn, YPR_EFORMAT, "hyp: unknown key '%.60s'", kn->s);
    if (!num)
        return ypr__yaml_error(vn, YPR_ERANGE, "hyp: %s: expected a number, found '%.40s'",
                               k->name, vn->type == YPR_YAML_SCALAR ? vn->s : "a collection");
    const char *bad = check(k, v);
    if (bad)
        return ypr__yaml_error(vn, YPR_ERANGE, "hyp: %s = %g: %s (allowed %g to %g)", k->name,
                               v, bad, k->lo, k->hi);
    *(double *)((char *)h + k->off) = v;
    return YPR_OK;
}

int ypr__hyp_load(const char *path, ypr_hyp *h)
{
    RETURN_IF(!path || !h, YPR_EINVAL, "hyp: NULL argument");
    char *text = NULL;
    size_t len = 0;
    TRY(ypr__file_read_all(path, HYP_MAX_BYTES, &text, &len));
    ypr_yaml *root = NULL;
    int rc = ypr__yaml_parse(text, len, path, &root);
    free(text);
    if (rc < 0)
        return rc;
    ypr_hyp tmp = *h;
    if (root->type != YPR_YAML_MAP && !ypr__yaml_is_null(root))
        rc = ypr__yaml_error(root, YPR_EFORMAT, "hyp: expected a mapping of key: value");
    for (int i = 0; rc >= 0 && root->type == YPR_YAML_MAP && i < root->n; i++)
        rc = load_pair(root->keys[i], root->items[i], &tmp);
    ypr__yaml_free(root);
    if (rc >= 0)
        *h = tmp;
    return rc < 0 ? rc : YPR_OK;
}
