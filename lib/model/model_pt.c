/* YOLOv7 .pt checkpoints (docs/pt.md): the model object train.py saves
 * (ckpt['ema'] when present, else ckpt['model'], as attempt_load picks)
 * carries its cfg as the dict `yaml`, plus `names`, `nc` and `stride`. The
 * cfg dict is written back as YAML text and built by the one cfg reader
 * (yolo_cfg.c), so a checkpoint's cfg means exactly what the same .yaml
 * file would; the weights come from the module tree's state_dict.
 *
 * The dict is written so the cfg reader's scalar rules give every value its
 * Python type: None → null, bools → true/false, ints as digits, floats
 * always with a '.' or exponent, and strings double-quoted, except the
 * bare words the cfg language reads unquoted (`nc`, `anchors`, `None`, `nn.X(...)`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/json.h"
#include "lib/io/io.h"
#include "model.h"

static int bare_word(const ypr_pk *v)
{
    if (strcmp(v->s, "nc") == 0 || strcmp(v->s, "anchors") == 0 || strcmp(v->s, "None") == 0)
        return 1;
    if (strncmp(v->s, "nn.", 3) != 0 || v->len != strlen(v->s))
        return 0;
    for (size_t i = 0; i < v->len; i++) {
        char c = v->s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '(' || c == ')'))
            return 0;
    }
    return 1;
}

/* Nesting is bounded by the unpickler (YPR_PICKLE_MAX_DEPTH). */
static int emit(ypr_strbuf *sb, const ypr_pk *v, const char *what)
{
    char db[96];
    switch (v->type) {
    case YPR_PK_NONE: ypr__sb_puts(sb, "null"); return YPR_OK;
    case YPR_PK_BOOL: ypr__sb_puts(sb, v->i ? "true" : "false"); return YPR_OK;
    case YPR_PK_INT: ypr__sb_printf(sb, "%lld", (long long)v->i); return YPR_OK;
    case YPR_PK_FLOAT: {
        if (!isfinite(v->f)) {
            ypr__sb_puts(sb, isnan(v->f) ? ".nan" : v->f > 0 ? ".inf" : "-.inf");
            return YPR_OK;
        }
        char b[40];
        snprintf(b, sizeof b, "%.17g", v->f);
        ypr__sb_puts(sb, b);
        if (!strpbrk(b, ".e"))
            ypr__sb_puts(sb, ".0");
        return YPR_OK;
    }
    case YPR_PK_STR:
        RETURN_IF(memchr(v->s, 0, v->len), YPR_EFORMAT, "%s: a cfg string holds a NUL byte",
                  what);
        if (bare_word(v))
            ypr__sb_puts(sb, v->s);
        else
            ypr__sb_json_str(sb, v->s);
        return YPR_OK;
    case YPR_PK_LIST: case YPR_PK_TUPLE:
        ypr__sb_puts(sb, "[");
        for (size_t i = 0; i < v->n; i++) {
            ypr__sb_puts(sb, i ? ", " : "");
            TRY(emit(sb, v->items[i], what));
        }
        ypr__sb_puts(sb, "]");
        return YPR_OK;
    case YPR_PK_DICT:
        ypr__sb_puts(sb, "{");
        for (size_t i = 0; i + 1 < v->n; i += 2) {
            ypr__sb_puts(sb, i ? ", " : "");
            TRY(emit(sb, v->items[i], what));
            ypr__sb_puts(sb, ": ");
            TRY(emit(sb, v->items[i + 1], what));
        }
        ypr__sb_puts(sb, "}");
        return YPR_OK;
    default:
        return ypr__error(YPR_EFORMAT, "%s: the cfg dict holds a %s", what,
                          ypr__pk_describe(v, db, sizeof db));
    }
}

/* The cfg dict as YAML: one top-level key per line, one layer per line. */
static int cfg_text(const ypr_pk *cfg, const char *what, ypr_strbuf *sb)
{
    for (size_t i = 0; i + 1 < cfg->n; i += 2) {
        const ypr_pk *k = cfg->items[i], *v = cfg->items[i + 1];
        TRY(emit(sb, k, what));
        ypr__sb_puts(sb, ":");
        int rows = v->type == YPR_PK_LIST && v->n > 0;
        for (size_t j = 0; rows && j < v->n; j++)
            rows = v->items[j]->type == YPR_PK_LIST || v->items[j]->type == YPR_PK_TUPLE;
        if (rows) {
            for (size_t j = 0; j < v->n; j++) {
                ypr__sb_puts(sb, "\n  - ");
                TRY(emit(sb, v->items[j], what));
            }
        } else {
            ypr__sb_puts(sb, " ");
            TRY(emit(sb, v, what));
        }
        ypr__sb_puts(sb, "\n");
    }
    RETURN_IF(sb->failed, YPR_ENOMEM, "%s: out of memory", what);
    return YPR_OK;
}

int ypr__pt_cfg_text(const ypr_pk *cfg, const char *what, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    RETURN_IF(!cfg || cfg->type != YPR_PK_DICT, YPR_EFORMAT, "%s: the cfg is not a dict", what);
    RETURN_IF(cfg->n == 0, YPR_EFORMAT, "%s: the cfg dict is empty", what);
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    int rc = cfg_text(cfg, what, &sb);
    if (rc < 0) {
        ypr__sb_free(&sb);
        return rc;
    }
    *len = sb.len;
    *text = sb.data;
    return YPR_OK;
}

/* 1 when `v` is a dict holding a tensor value: a bare state_dict. */
static int is_state_dict(const ypr_pk *v)
{
    for (size_t i = 1; v && v->type == YPR_PK_DICT && i < v->n; i += 2)
        if (v->items[i]->type == YPR_PK_TENSOR)
            return 1;
    return 0;
}

static int set_names(ypr_model *m, const ypr_pk *names, const char *path)
{
    if (!names || (names->type != YPR_PK_LIST && names->type != YPR_PK_TUPLE))
        return YPR_OK;
    if (names->n != (size_t)m->nc) {
        ypr__log(YPR_LOG_WARN, "%s: %zu class names for %d classes: names ignored", path,
                 names->n, m->nc);
        return YPR_OK;
    }
    for (size_t i = 0; i < names->n; i++)
        if (names->items[i]->type != YPR_PK_STR)
            return YPR_OK;
    m->names = calloc((size_t)m->nc, sizeof *m->names);
    RETURN_IF(!m->names, YPR_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < m->nc; i++)
        RETURN_IF(!(m->names[i] = strdup(names->items[i]->s)), YPR_ENOMEM, "%s: out of memory",
                  path);
    return YPR_OK;
}

/* The model object's nc and stride must agree with the built net. */
static int check_attrs(ypr_pt *pt, const ypr_model *m, const ypr_pk *obj, const char *path)
{
    const ypr_pk *nc = ypr__pk_get(obj, "nc");
    RETURN_IF(nc && nc->type == YPR_PK_INT && nc->i != m->nc, YPR_EFORMAT,
              "%s: the model's nc (%lld) disagrees with its cfg's head (%d classes)", path,
              (long long)nc->i, m->nc);
    const ypr_pk *st = ypr__pk_get(obj, "stride");
    const ypr_node *d = &m->net.nodes[m->net.nnodes - 1];
    if (!st || st->type != YPR_PK_TENSOR)
        return YPR_OK;
    RETURN_IF(st->t->numel != d->nl, YPR_EFORMAT, "%s: %lld strides stored for %d detection "
              "levels", path, (long long)st->t->numel, d->nl);
    float s[YPR_MAX_LEVELS];
    TRY(ypr__pt_tensor_f32(pt, st, s, YPR_MAX_LEVELS));
    for (int l = 0; l < d->nl; l++)
        RETURN_IF(s[l] != d->strides[l], YPR_EFORMAT, "%s: stored stride %g of level %d "
                  "disagrees with the cfg's (%g)", path, (double)s[l], l, (double)d->strides[l]);
    return YPR_OK;
}

static int build_from(ypr_pt *pt, const ypr_pk *obj, const char *path, ypr_model *m)
{
    char label[300];
    snprintf(label, sizeof label, "%s:model.yaml", path);
    char *text;
    size_t len;
    TRY(ypr__pt_cfg_text(ypr__pk_get(obj, "yaml"), label, &text, &len));
    int rc = ypr__yolo_build(text, len, label, NULL, &m->net, &m->nc);
    free(text);
    TRY(rc);
    ypr__yolo_init(&m->net, 0);
    ypr_safetensors *st;
    TRY(ypr__pt_state_dict(pt, obj, &st));
    rc = ypr__model_load_tensors(&m->net, st, path, 0);
    ypr__st_close(st);
    TRY(rc);
    TRY(check_attrs(pt, m, obj, path));
    return set_names(m, ypr__pk_get(obj, "names"), path);
}

int ypr__model_load_pt(const char *path, ypr_model **out)
{
    *out = NULL;
    ypr_pt *pt;
    TRY(ypr__pt_open(path, &pt));
    const ypr_pk *obj = ypr__pt_pick_model(pt);
    const ypr_pk *cfg = ypr__pk_get(obj, "yaml");
    char db[96];
    int rc = YPR_OK;
    if (is_state_dict(obj))
        rc = ypr__error(YPR_EFORMAT, "%s: a bare state_dict (weights without a model): build "
                        "the model from its cfg and load this file as its weights "
                        "(ypr_model_load_weights; yolopr: MODEL.yaml --weights %s)", path, path);
    else if (!obj || obj->type != YPR_PK_OBJECT)
        rc = ypr__error(YPR_EFORMAT, "%s: holds a %s with no 'ema' or 'model' entry: not a "
                        "YOLOv7 checkpoint", path, ypr__pk_describe(obj, db, sizeof db));
    else if (!cfg || cfg->type != YPR_PK_DICT)
        rc = ypr__error(YPR_EFORMAT, "%s: the %s carries no cfg dict ('yaml'): not a YOLOv7 "
                        "Model; build the model from its cfg and load this file as its weights",
                        path, ypr__pk_describe(obj, db, sizeof db));
    ypr_model *m = NULL;
    if (rc == YPR_OK)
        rc = ypr__model_new(&m);
    if (rc == YPR_OK)
        rc = build_from(pt, obj, path, m);
    ypr__pt_close(pt);
    if (rc < 0) {
        ypr_model_free(m);
        return rc;
    }
    *out = m;
    return YPR_OK;
}

int ypr__model_load_weights_pt(ypr_net *net, const char *path, int strict)
{
    ypr_pt *pt;
    TRY(ypr__pt_open(path, &pt));
    ypr_safetensors *st = NULL;
    int rc = ypr__pt_state_dict(pt, ypr__pt_pick_model(pt), &st);
    if (rc == YPR_OK)
        rc = ypr__model_load_tensors(net, st, path, strict);
    ypr__st_close(st);
    ypr__pt_close(pt);
    return rc;
}
