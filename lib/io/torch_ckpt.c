/* PyTorch checkpoints as torch.save (≥ 1.6) writes them: a ZIP archive
 * ARCHIVE/{data.pkl, data/KEY..., version[, byteorder]} (zip.c), the pickle
 * read by the restricted unpickler (pickle.c), each storage one entry of
 * exactly numel × element-size little-endian bytes.
 *
 * The state_dict of a pickled nn.Module is rebuilt the way Module.state_dict
 * does: the module's _parameters (None skipped), its _buffers except those
 * named in _non_persistent_buffers_set, then each child of _modules under
 * "child.", depth first. A dict of name → tensor is a state_dict as is.
 * Contiguous tensors point into the archive (no copy); strided views are
 * gathered into buffers this file owns. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

#define MAX_KEY 1024               /* a dotted state_dict name */
#define MAX_WALK (1 << 20)         /* modules and tensors visited by one walk */
#define MAX_GATHER ((size_t)1 << 30) /* bytes copied out of strided views, in all */
#define MAX_SKIP_SET 4096          /* names in a module's _non_persistent_buffers_set */

static const int dt_size[YPR_DT_COUNT_] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};

typedef struct pt_storage { const void *data; void *owned; size_t len; int loaded; } pt_storage;

struct ypr_pt {
    ypr_zip *zip;
    ypr_pickle *pk;
    char prefix[300];              /* "archive/" */
    pt_storage *st;                /* per pickle storage */
    void **gathered;               /* strided views copied out */
    size_t ngathered, gcap, gathered_bytes;
    char what[320];
};

void ypr__pt_close(ypr_pt *pt)
{
    if (!pt)
        return;
    for (size_t i = 0; pt->st && i < ypr__pickle_storage_count(pt->pk); i++)
        free(pt->st[i].owned);
    for (size_t i = 0; i < pt->ngathered; i++)
        free(pt->gathered[i]);
    free(pt->gathered);
    free(pt->st);
    ypr__pickle_free(pt->pk);
    ypr__zip_close(pt->zip);
    free(pt);
}

static const char *legacy_msg = "a legacy (pre-1.6, non-zip) PyTorch checkpoint: not read; "
                                "re-save it with torch >= 1.6 (torch.save writes the zip format)";

int ypr__pt_sniff(const char *path)
{
    int fd;
    if (!path || ypr__file_open_fd(path, &fd, NULL) < 0) {
        ypr__clear_error();
        return 0;
    }
    unsigned char b[4] = {0};
    ssize_t n = read(fd, b, 4);
    close(fd);
    return n == 4 && ((b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4) ||
                      (b[0] == 0x80 && b[1] >= 2 && b[1] <= 5));
}

/* The one ARCHIVE/data.pkl, ARCHIVE/byteorder, then the pickle. */
static int read_archive(ypr_pt *pt)
{
    const ypr_zip *z = pt->zip;
    long pkl = -1;
    for (size_t i = 0; i < ypr__zip_count(z); i++) {
        const char *nm = ypr__zip_at(z, i)->name, *slash = strchr(nm, '/');
        if (!slash || strcmp(slash + 1, "data.pkl") != 0)
            continue;
        RETURN_IF(pkl >= 0, YPR_EFORMAT, "%s: two data.pkl records", pt->what);
        RETURN_IF((size_t)(slash - nm) + 2 > sizeof pt->prefix, YPR_EFORMAT,
                  "%s: archive folder name too long", pt->what);
        pkl = (long)i;
        memcpy(pt->prefix, nm, (size_t)(slash - nm) + 1);
        pt->prefix[slash - nm + 1] = 0;
    }
    char name[400];
    for (size_t i = 0; pkl < 0 && i < ypr__zip_count(z); i++) {
        const char *nm = ypr__zip_at(z, i)->name, *slash = strchr(nm, '/');
        RETURN_IF(slash && strcmp(slash + 1, "constants.pkl") == 0, YPR_EUNSUPPORTED,
                  "%s: a TorchScript archive (torch.jit.save), not a torch.save checkpoint",
                  pt->what);
    }
    RETURN_IF(pkl < 0, YPR_EFORMAT, "%s: a ZIP archive without data.pkl: not a PyTorch "
              "checkpoint", pt->what);
    snprintf(name, sizeof name, "%.300sbyteorder", pt->prefix);
    long bo = ypr__zip_find(z, name);
    const void *data;
    size_t len;
    void *owned;
    if (bo >= 0) {
        TRY(ypr__zip_read(z, (size_t)bo, &data, &len, &owned));
        int little = len == 6 && memcmp(data, "little", 6) == 0;
        free(owned);
        RETURN_IF(!little, YPR_EUNSUPPORTED, "%s: tensors saved big-endian (byteorder record)",
                  pt->what);
    }
    TRY(ypr__zip_read(z, (size_t)pkl, &data, &len, &owned));
    snprintf(name, sizeof name, "%.200s:%.190sdata.pkl", pt->what, pt->prefix);
    int rc = ypr__pickle_parse(data, len, name, &pt->pk);
    free(owned);
    TRY(rc);
    size_t ns = ypr__pickle_storage_count(pt->pk);
    pt->st = calloc(ns ? ns : 1, sizeof *pt->st);
    RETURN_IF(!pt->st, YPR_ENOMEM, "%s: out of memory", pt->what);
    return YPR_OK;
}

static int open_common(ypr_pt *pt, int rc)
{
    if (rc == YPR_OK)
        rc = read_archive(pt);
    if (rc < 0)
        ypr__pt_close(pt);
    return rc;
}

int ypr__pt_open(const char *path, ypr_pt **out)
{
    RETURN_IF(!path || !out, YPR_EINVAL, "pt: NULL argument");
    *out = NULL;
    int fd;
    TRY(ypr__file_open_fd(path, &fd, NULL));
    unsigned char b = 0;
    ssize_t n = read(fd, &b, 1);
    close(fd);
    RETURN_IF(n == 1 && b == 0x80, YPR_EUNSUPPORTED, "%s: %s", path, legacy_msg);
    ypr_pt *pt = calloc(1, sizeof *pt);
    RETURN_IF(!pt, YPR_ENOMEM, "%s: out of memory", path);
    snprintf(pt->what, sizeof pt->what, "%s", path);
    TRY(open_common(pt, ypr__zip_open(path, &pt->zip)));
    *out = pt;
    return YPR_OK;
}

int ypr__pt_open_mem(const void *buf, size_t len, const char *what, ypr_pt **out)
{
    RETURN_IF(!out, YPR_EINVAL, "pt: NULL output");
    *out = NULL;
    if (!what)
        what = "<memory>";
    RETURN_IF(len && buf && ((const unsigned char *)buf)[0] == 0x80, YPR_EUNSUPPORTED, "%s: %s",
              what, legacy_msg);
    ypr_pt *pt = calloc(1, sizeof *pt);
    RETURN_IF(!pt, YPR_ENOMEM, "%s: out of memory", what);
    snprintf(pt->what, sizeof pt->what, "%s", what);
    TRY(open_common(pt, ypr__zip_open_mem(buf, len, what, &pt->zip)));
    *out = pt;
    return YPR_OK;
}

const ypr_pk *ypr__pt_root(const ypr_pt *pt) { return pt ? ypr__pickle_root(pt->pk) : NULL; }
const char *ypr__pt_what(const ypr_pt *pt) { return pt ? pt->what : "?"; }

const ypr_pk *ypr__pt_pick_model(const ypr_pt *pt)
{
    const ypr_pk *root = ypr__pt_root(pt);
    static const char *const keys[] = {"ema", "model", "state_dict"};
    if (!root || root->type != YPR_PK_DICT)
        return root;
    for (int i = 0; i < 3; i++) {
        const ypr_pk *v = ypr__pk_get(root, keys[i]);
        if (v && v->type != YPR_PK_NONE)
            return v;
    }
    return root;
}

/* ------------------------------------------------------------- tensors */

static int storage_bytes(ypr_pt *pt, const ypr_pk *s, const unsigned char **base)
{
    *base = NULL;
    size_t k = s->ix;
    RETURN_IF(ypr__pickle_storage_at(pt->pk, k) != s, YPR_EINTERNAL, "%s: unknown storage",
              pt->what);
    pt_storage *ps = &pt->st[k];
    if (!ps->loaded) {
        char name[400];
        snprintf(name, sizeof name, "%.300sdata/%.64s", pt->prefix, s->s);
        long e = ypr__zip_find(pt->zip, name);
        RETURN_IF(e < 0, YPR_EFORMAT, "%s: storage %s: record %s is missing", pt->what, s->s,
                  name);
        TRY(ypr__zip_read(pt->zip, (size_t)e, &ps->data, &ps->len, &ps->owned));
        uint64_t want = (uint64_t)s->i * (uint64_t)dt_size[s->dtype];
        RETURN_IF(ps->len != want, YPR_EFORMAT, "%s: record %s holds %zu bytes; the pickle "
                  "declares %lld elements of %d bytes", pt->what, name, ps->len, (long long)s->i,
                  dt_size[s->dtype]);
        ps->loaded = 1;
    }
    *base = ps->data;
    return YPR_OK;
}

/* The tensor as a dense, row-major ypr_st_tensor (name set by the caller). */
static int dense(ypr_pt *pt, const ypr_pk *v, ypr_st_tensor *out)
{
    const ypr_pk_tensor *t = v->t;
    const unsigned char *base;
    TRY(storage_bytes(pt, t->storage, &base));
    int dt = t->storage->dtype;
    size_t es = (size_t)dt_size[dt];
    memset(out, 0, sizeof *out);
    out->dtype = dt;
    out->ndim = t->ndim;
    out->numel = t->numel;
    out->nbytes = (size_t)t->numel * es;
    int contiguous = 1;
    int64_t want = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        out->shape[d] = t->size[d];
        if (t->numel == 0)
            continue;              /* partial products stay ≤ numel only when it is > 0 */
        if (t->size[d] != 1 && t->stride[d] != want)
            contiguous = 0;
        want *= t->size[d];
    }
    if (contiguous || t->numel == 0) {
        out->data = base + (size_t)t->offset * es;
        return YPR_OK;
    }
    if (pt->ngathered == pt->gcap) {
        size_t cap = pt->gcap ? 2 * pt->gcap : 16;
        void **g = realloc(pt->gathered, cap * sizeof *g);
        RETURN_IF(!g, YPR_ENOMEM, "%s: out of memory", pt->what);
        pt->gathered = g;
        pt->gcap = cap;
    }
    RETURN_IF(out->nbytes > MAX_GATHER - pt->gathered_bytes, YPR_ERANGE,
              "%s: strided tensors need more than %zu bytes of copies", pt->what, MAX_GATHER);
    pt->gathered_bytes += out->nbytes;
    unsigned char *dst = malloc(out->nbytes);
    RETURN_IF(!dst, YPR_ENOMEM, "%s: out of memory", pt->what);
    pt->gathered[pt->ngathered++] = dst;
    int64_t idx[YPR_PICKLE_MAX_DIMS] = {0};
    for (int64_t e = 0; e < t->numel; e++) {
        int64_t off = t->offset;
        for (int d = 0; d < t->ndim; d++)
            off += idx[d] * t->stride[d];
        memcpy(dst + (size_t)e * es, base + (size_t)off * es, es);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d])
                break;
            idx[d] = 0;
        }
    }
    out->data = dst;
    return YPR_OK;
}

int ypr__pt_tensor_f32(ypr_pt *pt, const ypr_pk *v, float *dst, int64_t cap)
{
    RETURN_IF(!pt || !v || v->type != YPR_PK_TENSOR, YPR_EINVAL, "pt: not a tensor");
    RETURN_IF(v->t->numel > cap, YPR_ERANGE, "%s: tensor of %lld elements, room for %lld",
              pt->what, (long long)v->t->numel, (long long)cap);
    ypr_st_tensor d;
    TRY(dense(pt, v, &d));
    d.name = "tensor";
    return ypr__st_to_f32(&d, dst);
}

/* ---------------------------------------------------------- state_dict */

typedef struct walk {
    ypr_pt *pt;
    ypr_st_tensor *t;
    char **names;
    size_t n, cap, visits;
} walk;

static int add(walk *w, const char *name, const ypr_pk *v)
{
    RETURN_IF(++w->visits > MAX_WALK, YPR_ERANGE, "%s: more than %d modules and tensors",
              w->pt->what, MAX_WALK);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        ypr_st_tensor *t = realloc(w->t, cap * sizeof *t);
        if (t)
            w->t = t;
        char **nm = t ? realloc(w->names, cap * sizeof *nm) : NULL;
        RETURN_IF(!nm, YPR_ENOMEM, "%s: out of memory", w->pt->what);
        w->names = nm;
        w->cap = cap;
    }
    char *copy = strdup(name);
    RETURN_IF(!copy, YPR_ENOMEM, "%s: out of memory", w->pt->what);
    w->names[w->n] = copy;
    int rc = dense(w->pt, v, &w->t[w->n]);
    w->t[w->n].name = copy;
    w->n++;
    return rc;
}

static int join(const walk *w, char *out, const char *prefix, const ypr_pk *key)
{
    char db[96];
    RETURN_IF(key->type != YPR_PK_STR, YPR_EFORMAT, "%s: module %s: a key is a %s, not a name",
              w->pt->what, *prefix ? prefix : "(root)", ypr__pk_describe(key, db, sizeof db));
    RETURN_IF(strlen(prefix) + key->len + 2 > MAX_KEY || memchr(key->s, 0, key->len), YPR_EFORMAT,
              "%s: module %s: name too long or holding a NUL byte", w->pt->what, prefix);
    snprintf(out, MAX_KEY, "%s%s", prefix, key->s);
    return YPR_OK;
}

static int in_set(const ypr_pk *set, const ypr_pk *key)
{
    for (size_t i = 0; set && set->type == YPR_PK_SET && i < set->n; i++)
        if (set->items[i]->type == YPR_PK_STR && set->items[i]->len == key->len &&
            memcmp(set->items[i]->s, key->s, key->len) == 0)
            return 1;
    return 0;
}

static int tensors_of(walk *w, const ypr_pk *dict, const char *prefix, const char *field,
                      const ypr_pk *skip)
{
    char db[96], name[MAX_KEY];
    if (!dict)
        return YPR_OK;
    RETURN_IF(skip && skip->type == YPR_PK_SET && skip->n > MAX_SKIP_SET, YPR_ERANGE,
              "%s: module %s: more than %d non-persistent buffers", w->pt->what,
              *prefix ? prefix : "(root)", MAX_SKIP_SET);
    RETURN_IF(dict->type != YPR_PK_DICT, YPR_EFORMAT, "%s: module %s: %s is a %s, not a dict",
              w->pt->what, *prefix ? prefix : "(root)", field,
              ypr__pk_describe(dict, db, sizeof db));
    for (size_t i = 0; i + 1 < dict->n; i += 2) {
        const ypr_pk *k = dict->items[i], *v = dict->items[i + 1];
        TRY(join(w, name, prefix, k));
        if (v->type == YPR_PK_NONE || in_set(skip, k))
            continue;
        RETURN_IF(v->type != YPR_PK_TENSOR, YPR_EFORMAT, "%s: %s (in %s) is a %s, not a tensor",
                  w->pt->what, name, field, ypr__pk_describe(v, db, sizeof db));
        TRY(add(w, name, v));
    }
    return YPR_OK;
}

/* Depth is bounded by the unpickler's nesting check. */
static int walk_module(walk *w, const ypr_pk *m, const char *prefix)
{
    char db[96], name[MAX_KEY + 1];
    RETURN_IF(++w->visits > MAX_WALK, YPR_ERANGE, "%s: more than %d modules and tensors",
              w->pt->what, MAX_WALK);
    const ypr_pk *st = m->state;
    RETURN_IF(!st || st->type != YPR_PK_DICT, YPR_EFORMAT,
              "%s: module %s (%s) has no attribute dict", w->pt->what,
              *prefix ? prefix : "(root)", ypr__pk_describe(m, db, sizeof db));
    TRY(tensors_of(w, ypr__pk_get(st, "_parameters"), prefix, "_parameters", NULL));
    TRY(tensors_of(w, ypr__pk_get(st, "_buffers"), prefix, "_buffers",
                   ypr__pk_get(st, "_non_persistent_buffers_set")));
    const ypr_pk *mods = ypr__pk_get(st, "_modules");
    if (!mods)
        return YPR_OK;
    RETURN_IF(mods->type != YPR_PK_DICT, YPR_EFORMAT, "%s: module %s: _modules is a %s",
              w->pt->what, *prefix ? prefix : "(root)", ypr__pk_describe(mods, db, sizeof db));
    for (size_t i = 0; i + 1 < mods->n; i += 2) {
        const ypr_pk *v = mods->items[i + 1];
        TRY(join(w, name, prefix, mods->items[i]));
        if (v->type == YPR_PK_NONE)
            continue;
        RETURN_IF(v->type != YPR_PK_OBJECT, YPR_EFORMAT, "%s: submodule %s is a %s",
                  w->pt->what, name, ypr__pk_describe(v, db, sizeof db));
        strcat(name, ".");
        TRY(walk_module(w, v, name));
    }
    return YPR_OK;
}

int ypr__pt_state_dict(ypr_pt *pt, const ypr_pk *src, ypr_safetensors **out)
{
    RETURN_IF(!pt || !out, YPR_EINVAL, "pt: NULL argument");
    *out = NULL;
    char db[96];
    walk w = {.pt = pt};
    int rc;
    if (src && src->type == YPR_PK_OBJECT)
        rc = walk_module(&w, src, "");
    else if (src && src->type == YPR_PK_DICT)
        rc = tensors_of(&w, src, "", "the state_dict", NULL);
    else
        rc = ypr__error(YPR_EFORMAT, "%s: holds a %s, neither a model nor a state_dict",
                        pt->what, ypr__pk_describe(src, db, sizeof db));
    if (rc == YPR_OK)
        rc = ypr__st_from_tensors(w.t, w.n, pt->what, NULL, NULL, out);
    for (size_t i = 0; i < w.n; i++)
        free(w.names[i]);
    free(w.names);
    free(w.t);
    return rc;
}
