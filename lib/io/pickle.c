/* A restricted unpickler: a parser for pickle protocols 2-5 that executes
 * nothing and builds a plain data tree (io.h, docs/pt.md).
 *
 * Python's unpickler is an interpreter: GLOBAL imports any name and REDUCE
 * calls it. Here GLOBAL only records the name; REDUCE is understood for a
 * fixed list of callables (what torch.save writes for tensors, OrderedDict,
 * sets, and numpy arrays, which stay opaque) and refused for anything else,
 * naming the callable. NEWOBJ records "an instance of CLASS" with its
 * arguments and BUILD attaches the state: an nn.Module comes out as an
 * OBJECT whose state is its __dict__.
 *
 * Hostile input: every read is bounds-checked against the buffer; the
 * stack, memo, node and item counts have fixed limits; memo indices are
 * checked; integers wider than 64 bits become BIGINT (no value); tensor
 * sizes and strides are checked for overflow and against their storage's
 * element count. The finished tree is checked for cycles (the memo can make
 * one) and for nesting deeper than YPR_PICKLE_MAX_DEPTH, so every later walk
 * may recurse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define CHUNK 4096
#define MAX_LINE 256

typedef struct chunk { struct chunk *next; size_t used; ypr_pk v[CHUNK]; } chunk;

struct ypr_pickle {
    chunk *chunks;
    size_t nodes, items;
    ypr_pk **stack;
    size_t sn, scap;
    size_t *marks;
    size_t nmarks, mcap;
    ypr_pk **memo;
    size_t memocap, memolen;
    ypr_pk **storages;
    size_t nstorages, stcap;
    size_t *st_hash;                /* open addressing: storage index + 1, 0 = empty */
    size_t st_hcap;                 /* a power of two > 2 × nstorages */
    ypr_pk *root;
    const unsigned char *b;
    size_t len, pos, op_at;
    char what[256];
};

/* ------------------------------------------------------------ errors */

static int perr(const ypr_pickle *p, int code, const char *fmt, ...) YPR_PRINTF(3, 4);
static int perr(const ypr_pickle *p, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ypr__error(code, "%s: byte %zu: %s", p->what, p->op_at, msg);
}

const char *ypr__pk_describe(const ypr_pk *v, char *buf, size_t n)
{
    static const char *const names[] = {"?", "None", "bool", "int", "big int", "float", "str",
                                        "bytes", "tuple", "list", "dict", "set", "global",
                                        "object", "storage", "tensor"};
    char nb[80];
    if (!v)
        snprintf(buf, n, "nothing");
    else if (v->type == YPR_PK_OBJECT)
        snprintf(buf, n, "%s object", ypr__shown(v->s, v->len, nb));
    else if (v->type == YPR_PK_GLOBAL)
        snprintf(buf, n, "global %s", ypr__shown(v->s, v->len, nb));
    else
        snprintf(buf, n, "%s", v->type > 0 && v->type <= YPR_PK_TENSOR ? names[v->type] : "?");
    return buf;
}

/* ------------------------------------------------------------- nodes */

static ypr_pk *node(ypr_pickle *p, int type)
{
    if (p->nodes >= YPR_PICKLE_MAX_NODES) {
        perr(p, YPR_ERANGE, "more than %d values", YPR_PICKLE_MAX_NODES);
        return NULL;
    }
    if (!p->chunks || p->chunks->used == CHUNK) {
        chunk *c = calloc(1, sizeof *c);
        if (!c) {
            perr(p, YPR_ENOMEM, "out of memory");
            return NULL;
        }
        c->next = p->chunks;
        p->chunks = c;
    }
    ypr_pk *v = &p->chunks->v[p->chunks->used++];
    p->nodes++;
    v->type = type;
    return v;
}

static int add_item(ypr_pickle *p, ypr_pk *c, ypr_pk *x)
{
    if (c->n == c->cap) {
        if (p->items + c->cap + 8 > YPR_PICKLE_MAX_ITEMS)
            return perr(p, YPR_ERANGE, "containers hold more than %d items",
                        YPR_PICKLE_MAX_ITEMS);
        size_t cap = c->cap ? 2 * c->cap : 8;
        ypr_pk **it = realloc(c->items, cap * sizeof *it);
        if (!it)
            return perr(p, YPR_ENOMEM, "out of memory");
        p->items += cap - c->cap;
        c->items = it;
        c->cap = cap;
    }
    c->items[c->n++] = x;
    return YPR_OK;
}

static int set_str(ypr_pickle *p, ypr_pk *v, const void *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return perr(p, YPR_ENOMEM, "out of memory (%zu bytes)", n);
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    v->s = d;
    v->len = n;
    v->owns_s = 1;
    return YPR_OK;
}

void ypr__pickle_free(ypr_pickle *p)
{
    if (!p)
        return;
    for (chunk *c = p->chunks, *next; c; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->used; i++) {
            if (c->v[i].owns_s)
                free((char *)c->v[i].s);
            free(c->v[i].items);
            free(c->v[i].t);
        }
        free(c);
    }
    free(p->stack);
    free(p->marks);
    free(p->memo);
    free(p->storages);
    free(p->st_hash);
    free(p);
}

/* ------------------------------------------------------------ the stack */

static int push(ypr_pickle *p, ypr_pk *v)
{
    if (!v)
        return YPR_ENOMEM;   /* node() recorded the error */
    if (p->sn == p->scap) {
        if (p->scap >= YPR_PICKLE_MAX_STACK)
            return perr(p, YPR_ERANGE, "stack deeper than %d", YPR_PICKLE_MAX_STACK);
        size_t cap = p->scap ? 2 * p->scap : 64;
        ypr_pk **s = realloc(p->stack, cap * sizeof *s);
        if (!s)
            return perr(p, YPR_ENOMEM, "out of memory");
        p->stack = s;
        p->scap = cap;
    }
    p->stack[p->sn++] = v;
    return YPR_OK;
}

static size_t floor_of(const ypr_pickle *p)
{
    return p->nmarks ? p->marks[p->nmarks - 1] : 0;
}

static int pop(ypr_pickle *p, ypr_pk **out)
{
    *out = NULL;
    if (p->sn <= floor_of(p))
        return perr(p, YPR_EFORMAT, "stack underflow");
    *out = p->stack[--p->sn];
    return YPR_OK;
}

static int top(ypr_pickle *p, ypr_pk **out)
{
    *out = NULL;
    if (p->sn <= floor_of(p))
        return perr(p, YPR_EFORMAT, "stack underflow");
    *out = p->stack[p->sn - 1];
    return YPR_OK;
}

static int mark(ypr_pickle *p)
{
    if (p->nmarks == p->mcap) {
        if (p->mcap >= YPR_PICKLE_MAX_STACK)
            return perr(p, YPR_ERANGE, "more than %d open marks", YPR_PICKLE_MAX_STACK);
        size_t cap = p->mcap ? 2 * p->mcap : 16;
        size_t *m = realloc(p->marks, cap * sizeof *m);
        if (!m)
            return perr(p, YPR_ENOMEM, "out of memory");
        p->marks = m;
        p->mcap = cap;
    }
    p->marks[p->nmarks++] = p->sn;
    return YPR_OK;
}

/* Pop to the last mark: the items are p->stack[*from .. p->sn) until the
 * next push. */
static int pop_mark(ypr_pickle *p, size_t *from)
{
    *from = 0;
    if (!p->nmarks)
        return perr(p, YPR_EFORMAT, "no MARK to pop to");
    *from = p->marks[--p->nmarks];
    return YPR_OK;
}

/* --------------------------------------------------------------- reading */

static int need(ypr_pickle *p, size_t n, const unsigned char **at)
{
    *at = NULL;
    if (p->len - p->pos < n)
        return perr(p, YPR_EFORMAT, "truncated: the opcode needs %zu more bytes, %zu left", n,
                    p->len - p->pos);
    *at = p->b + p->pos;
    p->pos += n;
    return YPR_OK;
}

static uint64_t le(const unsigned char *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* A text argument up to '\n' (at most MAX_LINE bytes, printable). */
static int line(ypr_pickle *p, char out[MAX_LINE + 1])
{
    size_t i = 0;
    while (1) {
        if (p->pos >= p->len)
            return perr(p, YPR_EFORMAT, "truncated text argument");
        unsigned char c = p->b[p->pos++];
        if (c == '\n')
            break;
        if (i == MAX_LINE || c < 0x20 || c >= 0x7f)
            return perr(p, YPR_EFORMAT, "text argument too long or not printable ASCII");
        out[i++] = (char)c;
    }
    out[i] = 0;
    return YPR_OK;
}

static int push_int(ypr_pickle *p, int64_t v)
{
    ypr_pk *x = node(p, YPR_PK_INT);
    if (x)
        x->i = v;
    return push(p, x);
}

static int push_bytes(ypr_pickle *p, int type, size_t n)
{
    const unsigned char *s;
    TRY(need(p, n, &s));
    ypr_pk *x = node(p, type);
    if (!x)
        return YPR_ENOMEM;
    TRY(set_str(p, x, s, n));
    return push(p, x);
}

/* LONG1/LONG4: little-endian two's complement of n bytes. */
static int push_long(ypr_pickle *p, size_t n)
{
    const unsigned char *s;
    TRY(need(p, n, &s));
    if (n > 8) {
        ypr_pk *x = node(p, YPR_PK_BIGINT);
        return push(p, x);
    }
    uint64_t u = n ? le(s, (int)n) : 0;
    if (n && n < 8 && (s[n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return push_int(p, v);
}

static int text_int(ypr_pickle *p, int is_long)
{
    char s[MAX_LINE + 1];
    TRY(line(p, s));
    size_t n = strlen(s);
    if (!is_long && (strcmp(s, "00") == 0 || strcmp(s, "01") == 0)) {
        ypr_pk *x = node(p, YPR_PK_BOOL);
        if (x)
            x->i = s[1] == '1';
        return push(p, x);
    }
    if (is_long && n && s[n - 1] == 'L')
        s[--n] = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!n || *end)
        return perr(p, YPR_EFORMAT, "bad integer text");
    return push_int(p, v);
}

/* ------------------------------------------------------------- memo */

static int memo_put(ypr_pickle *p, uint64_t idx)
{
    ypr_pk *v;
    TRY(top(p, &v));
    if (idx >= YPR_PICKLE_MAX_MEMO)
        return perr(p, YPR_ERANGE, "memo index %llu beyond the limit %d",
                    (unsigned long long)idx, YPR_PICKLE_MAX_MEMO);
    if (idx >= p->memocap) {
        size_t cap = p->memocap ? p->memocap : 64;
        while (cap <= idx)
            cap *= 2;
        if (cap > YPR_PICKLE_MAX_MEMO)
            cap = YPR_PICKLE_MAX_MEMO;
        ypr_pk **m = realloc(p->memo, cap * sizeof *m);
        if (!m)
            return perr(p, YPR_ENOMEM, "out of memory");
        memset(m + p->memocap, 0, (cap - p->memocap) * sizeof *m);
        p->memo = m;
        p->memocap = cap;
    }
    p->memo[idx] = v;
    if (idx >= p->memolen)
        p->memolen = (size_t)idx + 1;
    return YPR_OK;
}

static int memo_get(ypr_pickle *p, uint64_t idx)
{
    if (idx >= p->memocap || !p->memo[idx])
        return perr(p, YPR_EFORMAT, "memo index %llu was never set", (unsigned long long)idx);
    return push(p, p->memo[idx]);
}

static int text_memo(ypr_pickle *p, int get)
{
    char s[MAX_LINE + 1], *end;
    TRY(line(p, s));
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-')
        return perr(p, YPR_EFORMAT, "bad memo index text");
    return get ? memo_get(p, v) : memo_put(p, v);
}

/* ------------------------------------------------------------ globals */

static int push_global(ypr_pickle *p, const char *mod, size_t ml, const char *name, size_t nl)
{
    char nb[80];
    if (!ml || !nl || ml > MAX_LINE || nl > MAX_LINE || memchr(mod, 0, ml) || memchr(name, 0, nl))
        return perr(p, YPR_EFORMAT, "bad global name '%s'", ypr__shown(name, nl, nb));
    /* protocol 2 writes Python 2 names for some modules */
    if (ml == 11 && memcmp(mod, "__builtin__", 11) == 0) {
        mod = "builtins";
        ml = 8;
    } else if (ml == 8 && memcmp(mod, "copy_reg", 8) == 0) {
        mod = "copyreg";
        ml = 7;
    }
    char full[2 * MAX_LINE + 2];
    memcpy(full, mod, ml);
    full[ml] = '.';
    memcpy(full + ml + 1, name, nl);
    ypr_pk *x = node(p, YPR_PK_GLOBAL);
    if (!x)
        return YPR_ENOMEM;
    TRY(set_str(p, x, full, ml + 1 + nl));
    return push(p, x);
}

/* ------------------------------------------------------------- storages */

static const struct { const char *name; int dtype; } storage_types[] = {
    {"torch.HalfStorage", YPR_DT_F16},   {"torch.FloatStorage", YPR_DT_F32},
    {"torch.BFloat16Storage", YPR_DT_BF16}, {"torch.DoubleStorage", YPR_DT_F64},
    {"torch.LongStorage", YPR_DT_I64},   {"torch.IntStorage", YPR_DT_I32},
    {"torch.ShortStorage", YPR_DT_I16},  {"torch.CharStorage", YPR_DT_I8},
    {"torch.ByteStorage", YPR_DT_U8},    {"torch.BoolStorage", YPR_DT_BOOL},
};

static size_t key_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return (size_t)h;
}

/* The slot of `key` in the storage hash: its entry, or the empty slot it
 * would take. */
static size_t *st_slot(ypr_pickle *p, const char *key, size_t len)
{
    size_t mask = p->st_hcap - 1;
    for (size_t i = key_hash(key, len) & mask;; i = (i + 1) & mask) {
        size_t *e = &p->st_hash[i];
        if (!*e || (p->storages[*e - 1]->len == len &&
                    memcmp(p->storages[*e - 1]->s, key, len) == 0))
            return e;
    }
}

static int st_grow(ypr_pickle *p)
{
    if (2 * (p->nstorages + 1) < p->st_hcap)
        return YPR_OK;
    size_t cap = p->st_hcap ? 2 * p->st_hcap : 64;
    size_t *h = calloc(cap, sizeof *h);
    if (!h)
        return perr(p, YPR_ENOMEM, "out of memory");
    free(p->st_hash);
    p->st_hash = h;
    p->st_hcap = cap;
    for (size_t i = 0; i < p->nstorages; i++)
        *st_slot(p, p->storages[i]->s, p->storages[i]->len) = i + 1;
    return YPR_OK;
}

/* BINPERSID: ('storage', <Type>Storage, key, location, numel). */
static int persistent(ypr_pickle *p, ypr_pk *pid)
{
    char nb[80], db[96];
    if (pid->type != YPR_PK_TUPLE || pid->n != 5 || pid->items[0]->type != YPR_PK_STR ||
        strcmp(pid->items[0]->s, "storage") != 0)
        return perr(p, YPR_EUNSUPPORTED, "persistent id is a %s, not a torch storage reference",
                    ypr__pk_describe(pid, db, sizeof db));
    const ypr_pk *ty = pid->items[1], *key = pid->items[2], *n = pid->items[4];
    int dtype = -1;
    for (size_t i = 0; ty->type == YPR_PK_GLOBAL && i < sizeof storage_types / sizeof *storage_types; i++)
        if (strcmp(ty->s, storage_types[i].name) == 0)
            dtype = storage_types[i].dtype;
    if (dtype < 0)
        return perr(p, YPR_EUNSUPPORTED, "storage type %s is not supported",
                    ypr__pk_describe(ty, db, sizeof db));
    if (key->type != YPR_PK_STR || !key->len || key->len > 64 || memchr(key->s, '/', key->len) ||
        memchr(key->s, 0, key->len) || strcmp(key->s, "..") == 0 || strcmp(key->s, ".") == 0)
        return perr(p, YPR_EFORMAT, "bad storage key");
    if (n->type != YPR_PK_INT || n->i < 0 || n->i > (int64_t)YPR_ZIP_MAX_ENTRY_BYTES)
        return perr(p, YPR_EFORMAT, "storage %s: bad element count",
                    ypr__shown(key->s, key->len, nb));
    TRY(st_grow(p));
    size_t *slot = st_slot(p, key->s, key->len);
    if (*slot) {
        ypr_pk *s = p->storages[*slot - 1];
        if (s->dtype != dtype || s->i != n->i)
            return perr(p, YPR_EFORMAT, "storage %s declared twice with different types or "
                        "sizes", ypr__shown(key->s, key->len, nb));
        return push(p, s);
    }
    if (p->nstorages == p->stcap) {
        size_t cap = p->stcap ? 2 * p->stcap : 64;
        ypr_pk **a = realloc(p->storages, cap * sizeof *a);
        if (!a)
            return perr(p, YPR_ENOMEM, "out of memory");
        p->storages = a;
        p->stcap = cap;
    }
    ypr_pk *s = node(p, YPR_PK_STORAGE);
    if (!s)
        return YPR_ENOMEM;
    TRY(set_str(p, s, key->s, key->len));
    s->dtype = dtype;
    s->i = n->i;
    s->ix = p->nstorages;
    p->storages[p->nstorages++] = s;
    *slot = p->nstorages;
    return push(p, s);
}

/* ------------------------------------------------------------- REDUCE */

static int int_tuple(ypr_pickle *p, const ypr_pk *v, int64_t *out, int *n, const char *what)
{
    if (!v || (v->type != YPR_PK_TUPLE && v->type != YPR_PK_LIST))
        return perr(p, YPR_EFORMAT, "tensor %s is not a tuple", what);
    if (v->n > YPR_PICKLE_MAX_DIMS)
        return perr(p, YPR_EUNSUPPORTED, "tensor of %zu dimensions (at most %d)", v->n,
                    YPR_PICKLE_MAX_DIMS);
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->type != YPR_PK_INT || v->items[i]->i < 0)
            return perr(p, YPR_EFORMAT, "tensor %s[%zu] is not a non-negative integer", what, i);
        out[i] = v->items[i]->i;
    }
    *n = (int)v->n;
    return YPR_OK;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta]) */
static int rebuild_tensor(ypr_pickle *p, const ypr_pk *args, ypr_pk **out)
{
    char nb[80];
    if (args->n < 4 || args->items[0]->type != YPR_PK_STORAGE || args->items[1]->type != YPR_PK_INT)
        return perr(p, YPR_EFORMAT, "tensor rebuild arguments are not (storage, offset, size, "
                    "stride, ...)");
    ypr_pk_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return perr(p, YPR_ENOMEM, "out of memory");
    ypr_pk *x = node(p, YPR_PK_TENSOR);
    if (!x) {
        free(t);
        return YPR_ENOMEM;
    }
    x->t = t;
    const ypr_pk *st = args->items[0];
    t->storage = st;
    t->offset = args->items[1]->i;
    int nd2 = 0;
    TRY(int_tuple(p, args->items[2], t->size, &t->ndim, "size"));
    TRY(int_tuple(p, args->items[3], t->stride, &nd2, "stride"));
    if (nd2 != t->ndim)
        return perr(p, YPR_EFORMAT, "tensor has %d sizes but %d strides", t->ndim, nd2);
    int64_t numel = 1, last = t->offset;
    for (int d = 0; d < t->ndim; d++)
        if (ypr__mul_size(numel, t->size[d], &numel) < 0)
            return perr(p, YPR_EFORMAT, "tensor sizes overflow");
    for (int d = 0; numel > 0 && d < t->ndim; d++) {
        int64_t span;
        if (ypr__mul_size(t->size[d] - 1, t->stride[d], &span) < 0 || span > INT64_MAX - last)
            return perr(p, YPR_EFORMAT, "tensor strides overflow");
        last += span;
    }
    if (t->offset < 0 || (numel > 0 && last >= st->i) || t->offset > st->i)
        return perr(p, YPR_EFORMAT, "tensor needs elements up to %lld but storage %s holds %lld",
                    (long long)(numel > 0 ? last + 1 : t->offset), ypr__shown(st->s, st->len, nb),
                    (long long)st->i);
    t->numel = numel;
    *out = x;
    return YPR_OK;
}

/* _codecs.encode(text, 'latin1'): protocol 2's bytes (numpy arrays). */
static int codecs_encode(ypr_pickle *p, const ypr_pk *args, ypr_pk **out)
{
    if (args->n != 2 || args->items[0]->type != YPR_PK_STR || args->items[1]->type != YPR_PK_STR ||
        (strcmp(args->items[1]->s, "latin1") != 0 && strcmp(args->items[1]->s, "latin-1") != 0))
        return perr(p, YPR_EUNSUPPORTED, "_codecs.encode other than (str, 'latin1')");
    const unsigned char *s = (const unsigned char *)args->items[0]->s;
    size_t n = args->items[0]->len, k = 0;
    char *d = malloc(n + 1);
    if (!d)
        return perr(p, YPR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; k++) {
        if (s[i] < 0x80) {
            d[k] = (char)s[i++];
        } else if ((s[i] & 0xE0) == 0xC0 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80 &&
                   s[i] <= 0xC3) {
            d[k] = (char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3F));
            i += 2;
        } else {
            free(d);
            return perr(p, YPR_EFORMAT, "_codecs.encode: text is not latin-1");
        }
    }
    d[k] = 0;
    ypr_pk *x = node(p, YPR_PK_BYTES);
    if (!x) {
        free(d);
        return YPR_ENOMEM;
    }
    x->s = d;
    x->len = k;
    x->owns_s = 1;
    *out = x;
    return YPR_OK;
}

static ypr_pk *opaque(ypr_pickle *p, const ypr_pk *cls, ypr_pk *args)
{
    ypr_pk *x = node(p, YPR_PK_OBJECT);
    if (x) {
        x->s = cls->s;
        x->len = cls->len;
        x->args = args;
    }
    return x;
}

/* Callables kept as opaque records of the call (never made). */
static const char *const opaque_calls[] = {
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
    "torch.device", NULL
};

static int reduce(ypr_pickle *p)
{
    ypr_pk *args, *fn, *x = NULL;
    char db[96];
    TRY(pop(p, &args));
    TRY(pop(p, &fn));
    if (fn->type != YPR_PK_GLOBAL)
        return perr(p, YPR_EUNSUPPORTED, "REDUCE on a %s: this reader calls nothing",
                    ypr__pk_describe(fn, db, sizeof db));
    if (args->type != YPR_PK_TUPLE)
        return perr(p, YPR_EFORMAT, "REDUCE %s: arguments are a %s, not a tuple", fn->s,
                    ypr__pk_describe(args, db, sizeof db));
    const char *f = fn->s;
    if (strcmp(f, "collections.OrderedDict") == 0) {
        if (args->n > 1 || (args->n == 1 && args->items[0]->type != YPR_PK_LIST))
            return perr(p, YPR_EUNSUPPORTED, "OrderedDict from a %s",
                        ypr__pk_describe(args->items[0], db, sizeof db));
        if (!(x = node(p, YPR_PK_DICT)))
            return YPR_ENOMEM;
        for (size_t i = 0; args->n && i < args->items[0]->n; i++) {
            const ypr_pk *kv = args->items[0]->items[i];
            if ((kv->type != YPR_PK_TUPLE && kv->type != YPR_PK_LIST) || kv->n != 2)
                return perr(p, YPR_EFORMAT, "OrderedDict item %zu is not a pair", i);
            TRY(add_item(p, x, kv->items[0]));
            TRY(add_item(p, x, kv->items[1]));
        }
    } else if (strcmp(f, "builtins.set") == 0 || strcmp(f, "builtins.frozenset") == 0) {
        if (args->n > 1 || (args->n == 1 && args->items[0]->type != YPR_PK_LIST &&
                            args->items[0]->type != YPR_PK_TUPLE))
            return perr(p, YPR_EUNSUPPORTED, "%s from a %s", f,
                        ypr__pk_describe(args->n ? args->items[0] : NULL, db, sizeof db));
        if (!(x = node(p, YPR_PK_SET)))
            return YPR_ENOMEM;
        for (size_t i = 0; args->n && i < args->items[0]->n; i++)
            TRY(add_item(p, x, args->items[0]->items[i]));
    } else if (strcmp(f, "torch._utils._rebuild_tensor_v2") == 0 ||
               strcmp(f, "torch._utils._rebuild_tensor") == 0) {
        TRY(rebuild_tensor(p, args, &x));
    } else if (strcmp(f, "torch._utils._rebuild_parameter") == 0 ||
               strcmp(f, "torch._utils._rebuild_parameter_with_state") == 0) {
        if (args->n < 1 || args->items[0]->type != YPR_PK_TENSOR)
            return perr(p, YPR_EFORMAT, "%s of a %s", f,
                        ypr__pk_describe(args->n ? args->items[0] : NULL, db, sizeof db));
        x = args->items[0];
        x->t->param = 1;
    } else if (strcmp(f, "torch.Size") == 0) {
        if (args->n != 1 || args->items[0]->type != YPR_PK_TUPLE)
            return perr(p, YPR_EFORMAT, "torch.Size of a non-tuple");
        x = args->items[0];
    } else if (strcmp(f, "_codecs.encode") == 0) {
        TRY(codecs_encode(p, args, &x));
    } else if (strcmp(f, "copyreg._reconstructor") == 0) {
        if (args->n != 3 || args->items[0]->type != YPR_PK_GLOBAL)
            return perr(p, YPR_EFORMAT, "copyreg._reconstructor arguments");
        if (!(x = opaque(p, args->items[0], args)))
            return YPR_ENOMEM;
    } else {
        for (int i = 0; opaque_calls[i] && !x; i++)
            if (strcmp(f, opaque_calls[i]) == 0 && !(x = opaque(p, fn, args)))
                return YPR_ENOMEM;
        if (!x) {
            char nb[80];
            return perr(p, YPR_EUNSUPPORTED, "REDUCE would call %s: this reader executes "
                        "nothing and knows only tensors, storages, OrderedDict, set, torch.Size, "
                        "torch.device and numpy arrays", ypr__shown(f, fn->len, nb));
        }
    }
    return push(p, x);
}

static int build(ypr_pickle *p)
{
    ypr_pk *state, *obj;
    char db[96];
    TRY(pop(p, &state));
    TRY(top(p, &obj));
    if (obj->type == YPR_PK_OBJECT || obj->type == YPR_PK_DICT || obj->type == YPR_PK_TENSOR) {
        obj->state = state;
        return YPR_OK;
    }
    return perr(p, YPR_EUNSUPPORTED, "BUILD on a %s", ypr__pk_describe(obj, db, sizeof db));
}

static int newobj(ypr_pickle *p, int ex)
{
    ypr_pk *kw = NULL, *args, *cls;
    char db[96];
    if (ex)
        TRY(pop(p, &kw));
    TRY(pop(p, &args));
    TRY(pop(p, &cls));
    if (cls->type != YPR_PK_GLOBAL)
        return perr(p, YPR_EFORMAT, "NEWOBJ of a %s, not a class",
                    ypr__pk_describe(cls, db, sizeof db));
    if (args->type != YPR_PK_TUPLE)
        return perr(p, YPR_EFORMAT, "NEWOBJ arguments are not a tuple");
    return push(p, opaque(p, cls, args));
}

/* ----------------------------------------------------- containers */

static int collect(ypr_pickle *p, int type)
{
    size_t from;
    TRY(pop_mark(p, &from));
    ypr_pk *x = node(p, type);
    if (!x)
        return YPR_ENOMEM;
    if (type == YPR_PK_DICT && (p->sn - from) % 2)
        return perr(p, YPR_EFORMAT, "DICT with an odd number of items");
    for (size_t i = from; i < p->sn; i++)
        TRY(add_item(p, x, p->stack[i]));
    p->sn = from;
    return push(p, x);
}

static int tuple_n(ypr_pickle *p, size_t n)
{
    if (p->sn < floor_of(p) + n)
        return perr(p, YPR_EFORMAT, "stack underflow");
    ypr_pk *x = node(p, YPR_PK_TUPLE);
    if (!x)
        return YPR_ENOMEM;
    for (size_t i = p->sn - n; i < p->sn; i++)
        TRY(add_item(p, x, p->stack[i]));
    p->sn -= n;
    return push(p, x);
}

/* APPEND(S), SETITEM(S), ADDITEMS: items from `from` into the container below. */
static int add_to(ypr_pickle *p, size_t from, int type)
{
    char db[96];
    if (from == 0 || from <= floor_of(p))
        return perr(p, YPR_EFORMAT, "stack underflow");
    ypr_pk *c = p->stack[from - 1];
    if (c->type != type)
        return perr(p, YPR_EUNSUPPORTED, "adding items to a %s",
                    ypr__pk_describe(c, db, sizeof db));
    if (type == YPR_PK_DICT && (p->sn - from) % 2)
        return perr(p, YPR_EFORMAT, "SETITEMS with an odd number of items");
    for (size_t i = from; i < p->sn; i++)
        TRY(add_item(p, c, p->stack[i]));
    p->sn = from;
    return YPR_OK;
}

/* --------------------------------------------------------- the loop */

static int step(ypr_pickle *p, int op, int *done)
{
    const unsigned char *a;
    ypr_pk *x, *y;
    size_t from;
    switch (op) {
    case 0x80: return perr(p, YPR_EFORMAT, "PROTO after the start");
    case 0x95: /* FRAME */
        TRY(need(p, 8, &a));
        if (le(a, 8) > p->len - p->pos)
            return perr(p, YPR_EFORMAT, "FRAME of %llu bytes past the end",
                        (unsigned long long)le(a, 8));
        return YPR_OK;
    case '.': *done = 1; return YPR_OK;
    case 'N': return push(p, node(p, YPR_PK_NONE));
    case 0x88: case 0x89:
        if ((x = node(p, YPR_PK_BOOL)))
            x->i = op == 0x88;
        return push(p, x);
    case 'J': TRY(need(p, 4, &a)); return push_int(p, (int32_t)(uint32_t)le(a, 4));
    case 'K': TRY(need(p, 1, &a)); return push_int(p, a[0]);
    case 'M': TRY(need(p, 2, &a)); return push_int(p, (int64_t)le(a, 2));
    case 0x8a: TRY(need(p, 1, &a)); return push_long(p, a[0]);
    case 0x8b: {
        TRY(need(p, 4, &a));
        int32_t n = (int32_t)(uint32_t)le(a, 4);
        if (n < 0)
            return perr(p, YPR_EFORMAT, "LONG4 with a negative length");
        return push_long(p, (size_t)n);
    }
    case 'I': return text_int(p, 0);
    case 'L': return text_int(p, 1);
    case 'G': {
        TRY(need(p, 8, &a));
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = u << 8 | a[i];
        double d;
        memcpy(&d, &u, sizeof d);
        if ((x = node(p, YPR_PK_FLOAT)))
            x->f = d;
        return push(p, x);
    }
    case 'F': {
        char s[MAX_LINE + 1], *end;
        TRY(line(p, s));
        double d = strtod(s, &end);
        if (!*s || *end)
            return perr(p, YPR_EFORMAT, "bad float text");
        if ((x = node(p, YPR_PK_FLOAT)))
            x->f = d;
        return push(p, x);
    }
    case 'X': case 'B': {
        TRY(need(p, 4, &a));
        return push_bytes(p, op == 'X' ? YPR_PK_STR : YPR_PK_BYTES, (size_t)le(a, 4));
    }
    case 0x8c: case 'C': case 'U':
        TRY(need(p, 1, &a));
        return push_bytes(p, op == 0x8c ? YPR_PK_STR : YPR_PK_BYTES, a[0]);
    case 0x8d: case 0x8e: case 0x96: {
        TRY(need(p, 8, &a));
        uint64_t n = le(a, 8);
        if (n > p->len - p->pos)
            return perr(p, YPR_EFORMAT, "string of %llu bytes past the end",
                        (unsigned long long)n);
        return push_bytes(p, op == 0x8d ? YPR_PK_STR : YPR_PK_BYTES, (size_t)n);
    }
    case 'T': {
        TRY(need(p, 4, &a));
        int32_t n = (int32_t)(uint32_t)le(a, 4);
        if (n < 0)
            return perr(p, YPR_EFORMAT, "BINSTRING with a negative length");
        return push_bytes(p, YPR_PK_BYTES, (size_t)n);
    }
    case '}': return push(p, node(p, YPR_PK_DICT));
    case ']': return push(p, node(p, YPR_PK_LIST));
    case ')': return push(p, node(p, YPR_PK_TUPLE));
    case 0x8f: return push(p, node(p, YPR_PK_SET));
    case '(': return mark(p);
    case 't': return collect(p, YPR_PK_TUPLE);
    case 'l': return collect(p, YPR_PK_LIST);
    case 'd': return collect(p, YPR_PK_DICT);
    case 0x91: return collect(p, YPR_PK_SET);
    case 0x85: return tuple_n(p, 1);
    case 0x86: return tuple_n(p, 2);
    case 0x87: return tuple_n(p, 3);
    case 'a':
        if (p->sn < 2)
            return perr(p, YPR_EFORMAT, "stack underflow");
        return add_to(p, p->sn - 1, YPR_PK_LIST);
    case 's':
        if (p->sn < 3)
            return perr(p, YPR_EFORMAT, "stack underflow");
        return add_to(p, p->sn - 2, YPR_PK_DICT);
    case 'e': TRY(pop_mark(p, &from)); return add_to(p, from, YPR_PK_LIST);
    case 'u': TRY(pop_mark(p, &from)); return add_to(p, from, YPR_PK_DICT);
    case 0x90: TRY(pop_mark(p, &from)); return add_to(p, from, YPR_PK_SET);
    case '0':
        if (p->sn == floor_of(p) && p->nmarks) {
            p->nmarks--;
            return YPR_OK;
        }
        return pop(p, &x);
    case '1': TRY(pop_mark(p, &from)); p->sn = from; return YPR_OK;
    case '2': TRY(top(p, &x)); return push(p, x);
    case 'p': return text_memo(p, 0);
    case 'g': return text_memo(p, 1);
    case 'q': TRY(need(p, 1, &a)); return memo_put(p, a[0]);
    case 'r': TRY(need(p, 4, &a)); return memo_put(p, le(a, 4));
    case 'h': TRY(need(p, 1, &a)); return memo_get(p, a[0]);
    case 'j': TRY(need(p, 4, &a)); return memo_get(p, le(a, 4));
    case 0x94: return memo_put(p, p->memolen);
    case 'c': {
        char m[MAX_LINE + 1], n[MAX_LINE + 1];
        TRY(line(p, m));
        TRY(line(p, n));
        return push_global(p, m, strlen(m), n, strlen(n));
    }
    case 0x93:
        TRY(pop(p, &y));
        TRY(pop(p, &x));
        if (x->type != YPR_PK_STR || y->type != YPR_PK_STR)
            return perr(p, YPR_EFORMAT, "STACK_GLOBAL of non-strings");
        return push_global(p, x->s, x->len, y->s, y->len);
    case 'R': return reduce(p);
    case 'b': return build(p);
    case 0x81: return newobj(p, 0);
    case 0x92: return newobj(p, 1);
    case 'Q': TRY(pop(p, &x)); return persistent(p, x);
    default: {
        static const struct { int op; const char *what; } named[] = {
            {'i', "INST (protocol 0 instantiation)"}, {'o', "OBJ (protocol 1 instantiation)"},
            {'P', "PERSID (text persistent id)"}, {'S', "STRING (protocol 0)"},
            {'V', "UNICODE (protocol 0)"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"},
            {0x97, "NEXT_BUFFER (out-of-band data)"}, {0x98, "READONLY_BUFFER"},
        };
        for (size_t i = 0; i < sizeof named / sizeof *named; i++)
            if (named[i].op == op)
                return perr(p, YPR_EUNSUPPORTED, "opcode %s is not supported", named[i].what);
        return perr(p, YPR_EFORMAT, "unknown opcode 0x%02x", (unsigned)op);
    }
    }
}

/* Height of the tree under v (memoized); cycles and deep nesting are errors. */
static int check_depth(ypr_pickle *p, ypr_pk *v, int depth)
{
    if (v->visit == 2) {
        if (depth + v->height > YPR_PICKLE_MAX_DEPTH)
            return ypr__error(YPR_EFORMAT, "%s: values nested deeper than %d levels", p->what,
                              YPR_PICKLE_MAX_DEPTH);
        return YPR_OK;
    }
    if (v->visit == 1)
        return ypr__error(YPR_EFORMAT, "%s: a value contains itself (a cycle through the memo)",
                          p->what);
    if (depth > YPR_PICKLE_MAX_DEPTH)
        return ypr__error(YPR_EFORMAT, "%s: values nested deeper than %d levels", p->what,
                          YPR_PICKLE_MAX_DEPTH);
    v->visit = 1;
    int h = 0;
    ypr_pk *extra[2] = {v->args, v->state};
    for (size_t i = 0; i < v->n + 2; i++) {
        ypr_pk *c = i < v->n ? v->items[i] : extra[i - v->n];
        if (!c)
            continue;
        TRY(check_depth(p, c, depth + 1));
        if (c->height + 1 > h)
            h = c->height + 1;
    }
    v->visit = 2;
    v->height = h;
    return YPR_OK;
}

int ypr__pickle_parse(const void *buf, size_t len, const char *what, ypr_pickle **out)
{
    RETURN_IF(!out, YPR_EINVAL, "pickle: NULL output");
    *out = NULL;
    if (!what)
        what = "<pickle>";
    RETURN_IF(!buf && len, YPR_EINVAL, "%s: NULL buffer", what);
    RETURN_IF(len > YPR_PICKLE_MAX_BYTES, YPR_ERANGE, "%s: pickle of %zu bytes (limit %zu)",
              what, len, YPR_PICKLE_MAX_BYTES);
    ypr_pickle *p = calloc(1, sizeof *p);
    RETURN_IF(!p, YPR_ENOMEM, "%s: out of memory", what);
    snprintf(p->what, sizeof p->what, "%s", what);
    p->b = buf;
    p->len = len;
    int rc = YPR_OK;
    if (len < 2 || p->b[0] != 0x80)
        rc = perr(p, YPR_EUNSUPPORTED, "not a protocol 2-5 pickle (no PROTO opcode)");
    else if (p->b[1] < 2 || p->b[1] > 5)
        rc = perr(p, YPR_EUNSUPPORTED, "pickle protocol %d (this reader takes 2 to 5)", p->b[1]);
    p->pos = 2;
    int done = 0;
    while (rc == YPR_OK && !done) {
        p->op_at = p->pos;
        if (p->pos >= p->len) {
            rc = perr(p, YPR_EFORMAT, "truncated: no STOP opcode");
            break;
        }
        rc = step(p, p->b[p->pos++], &done);
    }
    if (rc == YPR_OK && (p->sn != 1 || p->nmarks))
        rc = perr(p, YPR_EFORMAT, "STOP with %zu values and %zu marks on the stack (1 and 0 "
                  "expected)", p->sn, p->nmarks);
    if (rc == YPR_OK) {
        p->root = p->stack[0];
        rc = check_depth(p, p->root, 0);
    }
    if (rc < 0) {
        ypr__pickle_free(p);
        return rc;
    }
    p->b = NULL;
    *out = p;
    return YPR_OK;
}

const ypr_pk *ypr__pickle_root(const ypr_pickle *p) { return p ? p->root : NULL; }
size_t ypr__pickle_storage_count(const ypr_pickle *p) { return p ? p->nstorages : 0; }
const ypr_pk *ypr__pickle_storage_at(const ypr_pickle *p, size_t i)
{
    return p && i < p->nstorages ? p->storages[i] : NULL;
}

const ypr_pk *ypr__pk_get(const ypr_pk *v, const char *key)
{
    if (v && v->type == YPR_PK_OBJECT)
        v = v->state;
    if (!v || v->type != YPR_PK_DICT || !key)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = v->n; i >= 2; i -= 2) {
        const ypr_pk *k = v->items[i - 2];
        if (k->type == YPR_PK_STR && k->len == kl && memcmp(k->s, key, kl) == 0)
            return v->items[i - 1];
    }
    return NULL;
}
