/* What YAML values mean in a YOLOv7 model cfg. The text is read by core's
 * YAML reader (libyaml), so every YAML style tools write is accepted (block
 * or flow, PyYAML's dumps, a BOM); this file gives the scalars their cfg
 * meaning: None, booleans, `nc`, `anchors`, `nn.<Activation>(…)`, numbers.
 * Every error names `file:line`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int ypr__cfg_parse(const char *text, size_t len, const char *file, ypr_yaml **root)
{
    *root = NULL;
    ypr_yaml *y = NULL;
    TRY(ypr__yaml_parse(text, len, file ? file : "<cfg>", &y));
    if (y->type != YPR_YAML_MAP) {
        int rc = ypr__yaml_error(y, YPR_EFORMAT, "a model cfg is a mapping of keys (nc, anchors, "
                                 "backbone, head), not a %s",
                                 y->type == YPR_YAML_SEQ ? "list"
                                 : ypr__yaml_is_null(y) ? "empty document" : "single value");
        ypr__yaml_free(y);
        return rc;
    }
    *root = y;
    return YPR_OK;
}

/* nn.SiLU() … nn.LeakyReLU(a); -1 for anything else. */
static int parse_act(const char *s, int *act, float *alpha)
{
    *alpha = 0.0f;
    if (strcmp(s, "nn.SiLU()") == 0) *act = YPR_ACT_SILU;
    else if (strcmp(s, "nn.ReLU()") == 0) *act = YPR_ACT_RELU;
    else if (strcmp(s, "nn.Sigmoid()") == 0) *act = YPR_ACT_SIGMOID;
    else if (strcmp(s, "nn.Hardswish()") == 0) *act = YPR_ACT_HARDSWISH;
    else if (strcmp(s, "nn.Identity()") == 0) *act = YPR_ACT_IDENTITY;
    else if (strncmp(s, "nn.LeakyReLU(", 13) == 0) {
        *act = YPR_ACT_LEAKY;
        *alpha = 0.01f;
        if (s[13] != ')') {
            char *end;
            *alpha = strtof(s + 13, &end);
            if (end == s + 13 || *end != ')' || end[1])
                return -1;
        } else if (s[14]) {
            return -1;
        }
    } else
        return -1;
    return 0;
}

static int arg_error(const ypr_yaml *v, int layer, int code, const char *what)
{
    if (layer >= 0)
        return ypr__yaml_error(v, code, "layer %d: %s: %.80s", layer, what, v->s ? v->s : "");
    return ypr__yaml_error(v, code, "%s: %.80s", what, v->s ? v->s : "");
}

int ypr__cfg_arg(const ypr_yaml *v, int layer, ypr_cfg_arg *a)
{
    memset(a, 0, sizeof *a);
    a->node = v;
    if (v->type == YPR_YAML_SEQ) {
        a->kind = YPR_CFG_LIST;
        return YPR_OK;
    }
    if (v->type == YPR_YAML_MAP) {
        if (layer >= 0)
            return ypr__yaml_error(v, YPR_EFORMAT, "layer %d: expected a value or a list, found "
                                   "a mapping", layer);
        return ypr__yaml_error(v, YPR_EFORMAT, "expected a value or a list, found a mapping");
    }
    const char *s = v->s;
    int b;
    if (!v->plain) {
        a->kind = YPR_CFG_STR;
    } else if (ypr__yaml_is_null(v) || strcmp(s, "None") == 0) {
        a->kind = YPR_CFG_NONE;
    } else if (ypr__yaml_bool(v, &b) == 0) {
        a->kind = YPR_CFG_BOOL;
        a->v = b;
    } else if (strcmp(s, "nc") == 0) {
        a->kind = YPR_CFG_NC;
    } else if (strcmp(s, "anchors") == 0) {
        a->kind = YPR_CFG_ANCHORS;
    } else if (strncmp(s, "nn.", 3) == 0) {
        a->kind = YPR_CFG_ACT;
        if (parse_act(s, &a->act, &a->alpha) < 0)
            return arg_error(v, layer, YPR_EUNSUPPORTED, "unsupported activation");
        if (!isfinite(a->alpha))
            return arg_error(v, layer, YPR_EFORMAT, "the LeakyReLU slope must be a finite number");
    } else {
        double d;
        if (ypr__yaml_num(v, &d) < 0)
            return arg_error(v, layer, YPR_EFORMAT, "cannot read argument");
        a->v = d;
        a->kind = (d == floor(d) && !strpbrk(s, ".eE")) ? YPR_CFG_INT : YPR_CFG_FLOAT;
    }
    return YPR_OK;
}

int ypr__cfg_number(const ypr_yaml *root, const char *key, double def, double lo, double hi,
                    double *out)
{
    const ypr_yaml *v = ypr__yaml_get(root, key);
    *out = def;
    if (!v)
        return YPR_OK;
    RETURN_IF(v->type != YPR_YAML_SCALAR, YPR_EFORMAT, "%s:%d: '%s' must be a number", v->file,
              v->line, key);
    double d;
    RETURN_IF(ypr__yaml_num(v, &d) < 0 || !(d > lo && d <= hi), YPR_EFORMAT,
              "%s:%d: '%s' must be a number > %g and <= %g, got '%.40s'", v->file, v->line, key,
              lo, hi, v->s);
    *out = d;
    return YPR_OK;
}
