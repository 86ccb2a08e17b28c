/* The one YAML reader: libyaml's event parser builds a small document tree
 * (mappings, sequences, scalars with their line and column). Input is
 * hostile: nesting depth, node count and input size are bounded, aliases
 * are refused (so no "billion laughs"), duplicate mapping keys are an error,
 * and every message names `file:line`. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core.h"

typedef struct builder {
    const char *file;          /* the root's copy */
    const char *text;
    size_t len;
    ypr_yaml *root;
    ypr_yaml *stack[YPR_YAML_MAX_DEPTH];
    ypr_yaml *pending[YPR_YAML_MAX_DEPTH];   /* a mapping's key awaiting its value */
    int depth;
    int64_t nodes;
    int docs;
} builder;

static void node_free(ypr_yaml *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        node_free(v->items[i]);
        if (v->keys)
            node_free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    free(v);
}

void ypr__yaml_free(ypr_yaml *root)
{
    if (!root)
        return;
    char *file = (char *)root->file;
    node_free(root);
    free(file);
}

static int vfail(const char *file, size_t line, int code, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return ypr__error(code, "%s:%zu: %s", file, line, msg);
}

static int fail(const builder *b, const yaml_mark_t *m, int code, const char *fmt, ...)
    YPR_PRINTF(4, 5);

static int fail(const builder *b, const yaml_mark_t *m, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(b->file, m ? m->line + 1 : 1, code, fmt, ap);
    va_end(ap);
    return rc;
}

int ypr__yaml_error(const ypr_yaml *at, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(at && at->file ? at->file : "<yaml>", at ? (size_t)at->line : 1, code, fmt, ap);
    va_end(ap);
    return rc;
}

static ypr_yaml *node_new(builder *b, int type, const yaml_mark_t *m)
{
    ypr_yaml *v = calloc(1, sizeof *v);
    if (v) {
        v->type = type;
        v->line = (int)(m->line < INT32_MAX ? m->line + 1 : INT32_MAX);
        v->col = (int)(m->column < INT32_MAX ? m->column + 1 : INT32_MAX);
        v->file = b->file;
    }
    return v;
}

static int append(ypr_yaml *c, ypr_yaml *key, ypr_yaml *val)
{
    if ((c->n & (c->n - 1)) == 0 && c->n >= 0) {   /* 0, 1, 2, 4 …: grow to the next power */
        size_t cap = c->n ? 2 * (size_t)c->n : 1;
        ypr_yaml **it = realloc(c->items, cap * sizeof *it);
        if (!it)
            return -1;
        c->items = it;
        if (c->type == YPR_YAML_MAP) {
            ypr_yaml **k = realloc(c->keys, cap * sizeof *k);
            if (!k)
                return -1;
            c->keys = k;
        }
    }
    if (c->type == YPR_YAML_MAP)
        c->keys[c->n] = key;
    c->items[c->n++] = val;
    return 0;
}

/* Hang a finished-or-opened node on its parent (or make it the root). On
 * failure the node is freed. */
static int attach(builder *b, ypr_yaml *v, const yaml_mark_t *m)
{
    if (b->depth == 0) {
        if (b->root) {
            node_free(v);
            return fail(b, m, YPR_EFORMAT, "more than one YAML document");
        }
        b->root = v;
        return YPR_OK;
    }
    ypr_yaml *c = b->stack[b->depth - 1];
    if (c->type == YPR_YAML_MAP && !b->pending[b->depth - 1]) {
        b->pending[b->depth - 1] = v;    /* a key: its value comes next */
        return YPR_OK;
    }
    ypr_yaml *key = c->type == YPR_YAML_MAP ? b->pending[b->depth - 1] : NULL;
    if (c->type == YPR_YAML_MAP && c->n == INT32_MAX - 1) {
        node_free(v);
        return fail(b, m, YPR_EFORMAT, "mapping too long");
    }
    if (append(c, key, v) < 0) {
        node_free(v);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", b->file);
    }
    b->pending[b->depth - 1] = NULL;
    return YPR_OK;
}

static int cmp_key(const void *pa, const void *pb)
{
    const ypr_yaml *a = *(const ypr_yaml *const *)pa, *b = *(const ypr_yaml *const *)pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);   /* the earlier one first */
}

/* Scalar keys must be unique (YAML says so; libyaml does not check). */
static int check_duplicates(builder *b, const ypr_yaml *map)
{
    int ns = 0;
    for (int i = 0; i < map->n; i++)
        ns += map->keys[i]->type == YPR_YAML_SCALAR;
    if (ns < 2)
        return YPR_OK;
    ypr_yaml **k = malloc((size_t)ns * sizeof *k);
    if (!k)
        return ypr__error(YPR_ENOMEM, "%s: out of memory", b->file);
    ns = 0;
    for (int i = 0; i < map->n; i++)
        if (map->keys[i]->type == YPR_YAML_SCALAR)
            k[ns++] = map->keys[i];
    qsort(k, (size_t)ns, sizeof *k, cmp_key);
    int rc = YPR_OK;
    for (int i = 1; i < ns && rc == YPR_OK; i++)
        if (k[i]->len == k[i - 1]->len && memcmp(k[i]->s, k[i - 1]->s, k[i]->len) == 0)
            rc = ypr__yaml_error(k[i], YPR_EFORMAT, "duplicate key '%.60s' (first at line %d)",
                                 k[i]->s, k[i - 1]->line);
    free(k);
    return rc;
}

static int on_scalar(builder *b, const yaml_event_t *e)
{
    ypr_yaml *v = node_new(b, YPR_YAML_SCALAR, &e->start_mark);
    size_t n = e->data.scalar.length;
    if (v)
        v->s = malloc(n + 1);
    if (!v || !v->s) {
        node_free(v);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", b->file);
    }
    memcpy(v->s, e->data.scalar.value, n);
    v->s[n] = '\0';
    v->len = n;
    const char *tag = (const char *)e->data.scalar.tag;
    v->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
               !(tag && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0));
    return attach(b, v, &e->start_mark);
}

static int on_open(builder *b, const yaml_event_t *e, int type)
{
    if (b->depth >= YPR_YAML_MAX_DEPTH)
        return fail(b, &e->start_mark, YPR_EFORMAT, "nested deeper than %d levels",
                    YPR_YAML_MAX_DEPTH);
    ypr_yaml *v = node_new(b, type, &e->start_mark);
    if (!v)
        return ypr__error(YPR_ENOMEM, "%s: out of memory", b->file);
    TRY(attach(b, v, &e->start_mark));
    b->stack[b->depth] = v;
    b->pending[b->depth] = NULL;
    b->depth++;
    return YPR_OK;
}

static int on_close(builder *b)
{
    ypr_yaml *c = b->stack[--b->depth];
    if (c->type == YPR_YAML_MAP)
        return check_duplicates(b, c);
    return YPR_OK;
}

/* libyaml's own message, with the line of the problem. Reader errors (bad
 * UTF-8, control characters) carry a byte offset instead of a mark. */
static int parser_error(const builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return ypr__error(YPR_ENOMEM, "%s: out of memory", b->file);
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) {
        size_t line = 1, off = p->problem_offset < b->len ? p->problem_offset : b->len;
        for (size_t i = 0; i < off; i++)
            line += b->text[i] == '\n';
        if (p->problem_value >= 0)
            return ypr__error(YPR_EFORMAT, "%s:%zu: %s (byte 0x%02x at offset %zu)", b->file, line,
                              problem, (unsigned)p->problem_value & 0xffu, p->problem_offset);
        return ypr__error(YPR_EFORMAT, "%s:%zu: %s (offset %zu)", b->file, line, problem,
                          p->problem_offset);
    }
    if (p->context)
        return ypr__error(YPR_EFORMAT, "%s:%zu:%zu: %s (%s at line %zu)", b->file,
                          p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                          p->context, p->context_mark.line + 1);
    return ypr__error(YPR_EFORMAT, "%s:%zu:%zu: %s", b->file, p->problem_mark.line + 1,
                      p->problem_mark.column + 1, problem);
}

static int on_event(builder *b, const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1)
            return fail(b, &e->start_mark, YPR_EFORMAT,
                        "more than one YAML document ('---' starts a second one)");
        return YPR_OK;
    case YAML_ALIAS_EVENT:
        return fail(b, &e->start_mark, YPR_EUNSUPPORTED,
                    "aliases (*%.40s) are not supported; write the value out",
                    (const char *)e->data.alias.anchor);
    case YAML_SCALAR_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (++b->nodes > YPR_YAML_MAX_NODES)
            return fail(b, &e->start_mark, YPR_EFORMAT, "more than %d YAML nodes",
                        YPR_YAML_MAX_NODES);
        if (e->type == YAML_SCALAR_EVENT)
            return on_scalar(b, e);
        return on_open(b, e, e->type == YAML_MAPPING_START_EVENT ? YPR_YAML_MAP : YPR_YAML_SEQ);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_close(b);
    default:
        return YPR_OK;
    }
}

int ypr__yaml_parse(const char *text, size_t len, const char *file, ypr_yaml **out)
{
    RETURN_IF(!out || (!text && len), YPR_EINVAL, "yaml: NULL argument");
    *out = NULL;
    if (!file)
        file = "<yaml>";
    RETURN_IF(len > YPR_YAML_MAX_BYTES, YPR_ERANGE, "%s: %zu bytes of YAML (at most %d)", file,
              len, YPR_YAML_MAX_BYTES);
    builder b;
    memset(&b, 0, sizeof b);
    char *fcopy = strdup(file);
    RETURN_IF(!fcopy, YPR_ENOMEM, "%s: out of memory", file);
    b.file = fcopy;
    b.text = text ? text : "";
    b.len = len;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(fcopy);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", file);
    }
    /* libyaml detects the encoding from a BOM (and skips a UTF-8 one) */
    yaml_parser_set_input_string(&p, (const unsigned char *)b.text, len);
    int rc = YPR_OK, done = 0;
    while (rc == YPR_OK && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            rc = parser_error(&b, &p);
            break;
        }
        rc = on_event(&b, &e);
        done = e.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    if (rc == YPR_OK && !b.root) {   /* an empty stream is one null document */
        yaml_mark_t m = {0, 0, 0};
        b.root = node_new(&b, YPR_YAML_SCALAR, &m);
        if (b.root && (b.root->s = calloc(1, 1)) != NULL)
            b.root->plain = 1;
        else
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
    }
    if (rc < 0) {
        /* nodes still open are reachable from the root; a pending key is not */
        for (int d = 0; d < b.depth; d++)
            node_free(b.pending[d]);
        node_free(b.root);
        free(fcopy);
        return rc;
    }
    b.root->file = fcopy;
    *out = b.root;
    return YPR_OK;
}

const ypr_yaml *ypr__yaml_get(const ypr_yaml *map, const char *key)
{
    if (!map || map->type != YPR_YAML_MAP || !key)
        return NULL;
    size_t n = strlen(key);
    for (int i = 0; i < map->n; i++) {
        const ypr_yaml *k = map->keys[i];
        if (k->type == YPR_YAML_SCALAR && k->len == n && memcmp(k->s, key, n) == 0)
            return map->items[i];
    }
    return NULL;
}

int ypr__yaml_is_null(const ypr_yaml *v)
{
    if (!v)
        return 1;
    if (v->type != YPR_YAML_SCALAR || !v->plain)
        return 0;
    return v->len == 0 || strcmp(v->s, "~") == 0 || strcmp(v->s, "null") == 0 ||
           strcmp(v->s, "Null") == 0 || strcmp(v->s, "NULL") == 0;
}

int ypr__yaml_bool(const ypr_yaml *v, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE"};
    static const char *const f[] = {"false", "False", "FALSE"};
    if (!v || v->type != YPR_YAML_SCALAR || !v->plain)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (strcmp(v->s, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(v->s, f[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int ypr__yaml_int(const ypr_yaml *v, int64_t *out)
{
    if (!v || v->type != YPR_YAML_SCALAR || !v->plain || v->len == 0 || v->len > 20)
        return -1;
    const char *s = v->s;
    int neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return -1;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    if (x > (uint64_t)INT64_MAX)
        return -1;
    *out = neg ? -(int64_t)x : (int64_t)x;
    return 0;
}

int ypr__yaml_num(const ypr_yaml *v, double *out)
{
    if (!v || v->type != YPR_YAML_SCALAR || !v->plain || v->len == 0 || v->len > 64)
        return -1;
    char *end;
    double d = strtod(v->s, &end);
    if (end == v->s || *end || !isfinite(d))   /* trailing text, NaN, ±Inf */
        return -1;
    *out = d;
    return 0;
}
