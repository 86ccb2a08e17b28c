/* The subset of YAML that YOLOv7 data files use: top-level `key: value`
 * pairs whose values are scalars, flow lists/maps (`[a, b]`, `{0: a}`,
 * possibly over several lines) or block lists/maps of scalars; comments,
 * quotes, `|`/`>` blocks (skipped) and a UTF-8 BOM. Nested content of other
 * keys is ignored. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* -------------------------------------------------- data .yaml (a subset) */

void ypr__dy_free(ypr_dyaml *y)
{
    for (int i = 0; i < y->n; i++) {
        free(y->keys[i]);
        free(y->vals[i].s);
        for (int k = 0; k < y->vals[i].n; k++)
            free(y->vals[i].items[k]);
        free(y->vals[i].items);
    }
    free(y->keys);
    free(y->vals);
    memset(y, 0, sizeof *y);
}

const ypr_dyv *ypr__dy_get(const ypr_dyaml *y, const char *key)
{
    for (int i = 0; i < y->n; i++)
        if (strcmp(y->keys[i], key) == 0)
            return &y->vals[i];
    return NULL;
}

static char *unquote(char *s, int *isnull)
{
    s = ypr__trim(s);
    *isnull = 0;
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        char q = s[0];
        char *o = s;
        for (size_t i = 1; i + 1 < n; i++) {
            if (q == '\'' && s[i] == '\'' && s[i + 1] == '\'' && i + 2 < n)
                i++;
            else if (q == '"' && s[i] == '\\' && i + 2 < n)
                i++;
            *o++ = s[i];
        }
        *o = 0;
        return s;
    }
    if (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        *isnull = 1;
    return s;
}

static int dy_item(ypr_dyv *v, const char *file, int line, char *key, char *val)
{
    int isnull;
    char *s = unquote(val, &isnull);
    int idx = -1;
    if (key) {
        int kn;
        char *k = unquote(key, &kn);
        char *end;
        long l = strtol(k, &end, 10);
        RETURN_IF(end == k || *end || l < 0 || l > 100000, YPR_EFORMAT,
                  "%s:%d: class name key '%.40s' is not an index", file, line, k);
        idx = (int)l;
    }
    int need = key ? idx + 1 : v->n + 1;
    if (need > v->cap) {
        int nc = v->cap ? v->cap : 16;
        while (nc < need)
            nc *= 2;
        char **ni = realloc(v->items, (size_t)nc * sizeof *ni);
        RETURN_IF(!ni, YPR_ENOMEM, "%s: out of memory", file);
        for (int i = v->cap; i < nc; i++)
            ni[i] = NULL;
        v->items = ni;
        v->cap = nc;
    }
    int at = key ? idx : v->n;
    RETURN_IF(key && v->items[at], YPR_EFORMAT, "%s:%d: class index %d given twice", file, line,
              idx);
    v->items[at] = ypr__strdup(isnull ? "" : s);
    RETURN_IF(!v->items[at], YPR_ENOMEM, "%s: out of memory", file);
    if (at + 1 > v->n)
        v->n = at + 1;
    return YPR_OK;
}

/* position of the first ':' that separates a key (followed by space/EOL), outside quotes */
static char *key_colon(char *s)
{
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if ((*p == '\'' || *p == '"') && p == s) {
            q = *p;
        } else if (*p == ':' && (p[1] == 0 || isspace((unsigned char)p[1]))) {
            return p;
        }
    }
    return NULL;
}

/* Parse a flow list/map text "[a, 'b', c]" or "{0: a, 1: b}". */
static int dy_flow(ypr_dyv *v, char *text, const char *file, int line)
{
    char open = text[0], close = open == '[' ? ']' : '}';
    v->type = open == '[' ? YPR_DY_LIST : YPR_DY_MAP;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    RETURN_IF(n < 2 || text[n - 1] != close, YPR_EFORMAT, "%s:%d: unterminated '%c'", file,
              line, open);
    text[n - 1] = 0;
    char *p = text + 1;
    while (*p) {
        char *start = p, q = 0;
        int depth = 0;
        for (; *p; p++) {
            if (q) {
                if (*p == q)
                    q = 0;
            } else if (*p == '\'' || *p == '"') {
                q = *p;
            } else if (*p == '[' || *p == '{') {
                depth++;
            } else if (*p == ']' || *p == '}') {
                depth--;
            } else if (*p == ',' && depth == 0) {
                break;
            }
        }
        int last = *p == 0;
        *p = 0;
        char *item = ypr__trim(start);
        if (*item) {
            if (v->type == YPR_DY_MAP) {
                char *c = key_colon(item);
                if (!c)
                    c = strchr(item, ':');
                RETURN_IF(!c, YPR_EFORMAT, "%s:%d: expected `index: name` in '{…}'", file, line);
                *c = 0;
                TRY(dy_item(v, file, line, item, c + 1));
            } else {
                TRY(dy_item(v, file, line, NULL, item));
            }
        }
        if (last)
            break;
        p++;
    }
    return YPR_OK;
}

/* strip a YAML comment: '#' at the start or after whitespace, outside quotes */
static void strip_comment(char *s)
{
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '\'' || *p == '"') {
            if (p == s || isspace((unsigned char)p[-1]) || p[-1] == '[' || p[-1] == ',' ||
                p[-1] == '{' || p[-1] == ':')
                q = *p;
        } else if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
            *p = 0;
            return;
        }
    }
}

int ypr__dy_parse(char *text, const char *file, ypr_dyaml *y)
{
    memset(y, 0, sizeof *y);
    int line = 0;
    ypr_dyv *cur = NULL;        /* the last top-level value (block entries attach to it) */
    int block_scalar = 0;   /* skipping a `|` or `>` block */
    char *flow = NULL;      /* accumulating a multi-line flow collection */
    size_t flow_len = 0;
    int flow_line = 0, flow_depth = 0;
    int rc = YPR_OK;
    for (char *p = text; p && rc == YPR_OK;) {
        line++;
        char *raw = ypr__next_line(&p);
        size_t rl = strlen(raw);
        if (rl && raw[rl - 1] == '\r')
            raw[--rl] = 0;
        if (line == 1 && (unsigned char)raw[0] == 0xEF && (unsigned char)raw[1] == 0xBB &&
            (unsigned char)raw[2] == 0xBF)
            raw += 3;
        strip_comment(raw);
        int indent = 0;
        while (raw[indent] == ' ' || raw[indent] == '\t')
            indent++;
        char *s = ypr__trim(raw);
        if (flow) {
            size_t n = strlen(s);
            char *nf = realloc(flow, flow_len + n + 2);
            if (!nf) {
                rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                break;
            }
            flow = nf;
            flow[flow_len++] = ' ';
            memcpy(flow + flow_len, s, n + 1);
            flow_len += n;
            char q = 0;
            for (char *c = s; *c; c++) {
                if (q) {
                    if (*c == q)
                        q = 0;
                } else if (*c == '\'' || *c == '"') {
                    q = *c;
                } else if (*c == '[' || *c == '{') {
                    flow_depth++;
                } else if (*c == ']' || *c == '}') {
                    flow_depth--;
                }
            }
            if (flow_depth <= 0) {
                rc = dy_flow(cur, flow, file, flow_line);
                free(flow);
                flow = NULL;
            }
            continue;
        }
        if (!*s)
            continue;
        if (indent > 0) {
            if (block_scalar || !cur)
                continue;
            if (cur->type == YPR_DY_NULL || cur->type == YPR_DY_LIST || cur->type == YPR_DY_MAP) {
                if (s[0] == '-' && (s[1] == 0 || isspace((unsigned char)s[1]))) {
                    if (cur->type == YPR_DY_MAP) {
                        rc = ypr__error(YPR_EFORMAT, "%s:%d: list item inside a mapping", file,
                                        line);
                        break;
                    }
                    cur->type = YPR_DY_LIST;
                    rc = dy_item(cur, file, line, NULL, s + 1);
                    continue;
                }
                char *c = key_colon(s);
                if (c && cur->type != YPR_DY_LIST) {
                    *c = 0;
                    cur->type = YPR_DY_MAP;
                    rc = dy_item(cur, file, line, s, c + 1);
                    continue;
                }
            }
            continue;   /* nested content of keys we do not read */
        }
        block_scalar = 0;
        if (s[0] == '-' || s[0] == '[' || s[0] == '{') {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: expected `key: value` at the top level", file,
                            line);
            break;
        }
        char *c = key_colon(s);
        if (!c) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: expected `key: value`", file, line);
            break;
        }
        *c = 0;
        int kn;
        char *key = unquote(s, &kn);
        char *val = ypr__trim(c + 1);
        if (y->n == y->cap) {
            int nc = y->cap ? y->cap * 2 : 16;
            char **nk = realloc(y->keys, (size_t)nc * sizeof *nk);
            if (!nk) {
                rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                break;
            }
            y->keys = nk;
            ypr_dyv *nv = realloc(y->vals, (size_t)nc * sizeof *nv);
            if (!nv) {
                rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                break;
            }
            y->vals = nv;
            y->cap = nc;
        }
        for (int i = 0; i < y->n; i++)
            if (strcmp(y->keys[i], key) == 0) {
                rc = ypr__error(YPR_EFORMAT, "%s:%d: key '%s' given twice (first on line %d)",
                                file, line, key, y->vals[i].line);
                break;
            }
        if (rc < 0)
            break;
        y->keys[y->n] = ypr__strdup(key);
        if (!y->keys[y->n]) {
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
            break;
        }
        cur = &y->vals[y->n++];
        memset(cur, 0, sizeof *cur);
        cur->line = line;
        if (val[0] == '|' || val[0] == '>') {
            block_scalar = 1;
            cur->type = YPR_DY_SCALAR;
            cur->s = ypr__strdup("");
        } else if (val[0] == '[' || val[0] == '{') {
            flow_depth = 0;
            char q = 0;
            for (char *ch = val; *ch; ch++) {
                if (q) {
                    if (*ch == q)
                        q = 0;
                } else if (*ch == '\'' || *ch == '"') {
                    q = *ch;
                } else if (*ch == '[' || *ch == '{') {
                    flow_depth++;
                } else if (*ch == ']' || *ch == '}') {
                    flow_depth--;
                }
            }
            if (flow_depth <= 0) {
                rc = dy_flow(cur, val, file, line);
            } else {
                flow_len = strlen(val);
                flow = malloc(flow_len + 1);
                if (!flow) {
                    rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
                    break;
                }
                memcpy(flow, val, flow_len + 1);
                flow_line = line;
            }
        } else {
            int isnull;
            char *v = unquote(val, &isnull);
            if (!isnull) {
                cur->type = YPR_DY_SCALAR;
                cur->s = ypr__strdup(v);
                if (!cur->s)
                    rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
            }
        }
    }
    if (rc == YPR_OK && flow)
        rc = ypr__error(YPR_EFORMAT, "%s:%d: unterminated '%c'", file, flow_line, flow[0]);
    free(flow);
    if (rc < 0)
        ypr__dy_free(y);
    return rc;
}
