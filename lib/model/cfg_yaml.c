/* A reader for the YAML subset YOLOv7 model cfgs use. Anything outside the
 * subset is YPR_EFORMAT naming the file and line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct cur {
    const char *b;     /* comment-stripped text */
    size_t n, i;
    int line;
    const char *file;
} cur;

void ypr__yv_free(ypr_yv *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        ypr__yv_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    free(v);
}

static ypr_yv *yv_new(int type, int line)
{
    ypr_yv *v = calloc(1, sizeof *v);
    if (v) {
        v->type = type;
        v->line = line;
    }
    return v;
}

static int yv_push(ypr_yv *v, char *key, ypr_yv *item)
{
    if (v->n == v->cap) {
        int nc = v->cap ? v->cap * 2 : 8;
        ypr_yv **it = realloc(v->items, (size_t)nc * sizeof *it);
        if (!it)
            return -1;
        v->items = it;
        if (v->type == YV_MAP) {
            char **k = realloc(v->keys, (size_t)nc * sizeof *k);
            if (!k)
                return -1;
            v->keys = k;
        }
        v->cap = nc;
    }
    v->items[v->n] = item;
    if (v->type == YV_MAP)
        v->keys[v->n] = key;
    v->n++;
    return 0;
}

const ypr_yv *ypr__yv_get(const ypr_yv *map, const char *key)
{
    if (!map || map->type != YV_MAP)
        return NULL;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

static int fail(const cur *c, const char *what)
{
    return ypr__error(YPR_EFORMAT, "%s:%d: %s", c->file, c->line, what);
}

static int peek(const cur *c)
{
    return c->i < c->n ? (unsigned char)c->b[c->i] : -1;
}

static void adv(cur *c)
{
    if (c->i < c->n && c->b[c->i++] == '\n')
        c->line++;
}

static void skip_ws(cur *c, int newlines)
{
    for (int ch; (ch = peek(c)) == ' ' || ch == '\t' || ch == '\r' || (newlines && ch == '\n');)
        adv(c);
}

static char *dup_range(const char *s, size_t n)
{
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static int parse_value(cur *c, int in_flow, ypr_yv **out);

static int parse_quoted(cur *c, ypr_yv **out)
{
    int q = peek(c), line = c->line;
    adv(c);
    size_t start = c->i;
    while (peek(c) != q) {
        if (peek(c) < 0 || peek(c) == '\n')
            return fail(c, "unterminated quoted string");
        adv(c);
    }
    ypr_yv *v = yv_new(YV_SCALAR, line);
    if (!v || !(v->s = dup_range(c->b + start, c->i - start))) {
        ypr__yv_free(v);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", c->file);
    }
    v->quoted = 1;
    adv(c);
    *out = v;
    return YPR_OK;
}

static int parse_plain(cur *c, int in_flow, ypr_yv **out)
{
    size_t start = c->i;
    int line = c->line, depth = 0;
    for (int ch; (ch = peek(c)) >= 0 && ch != '\n';) {
        if (in_flow && depth == 0 && (ch == ',' || ch == ']'))
            break;
        if (ch == '(')
            depth++;
        else if (ch == ')' && depth > 0)
            depth--;
        else if (ch == '[' || ch == '{' || ch == '}')
            return fail(c, "unexpected bracket in a plain scalar");
        adv(c);
    }
    if (c->i == start)
        return fail(c, "expected a value");
    ypr_yv *v = yv_new(YV_SCALAR, line);
    if (!v || !(v->s = dup_range(c->b + start, c->i - start))) {
        ypr__yv_free(v);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", c->file);
    }
    *out = v;
    return YPR_OK;
}

static int parse_flow_list(cur *c, int depth, ypr_yv **out)
{
    if (depth > 32)
        return fail(c, "lists nested too deeply");
    ypr_yv *v = yv_new(YV_LIST, c->line);
    if (!v)
        return ypr__error(YPR_ENOMEM, "%s: out of memory", c->file);
    adv(c);   /* '[' */
    for (;;) {
        skip_ws(c, 1);
        if (peek(c) == ']') {
            adv(c);
            break;
        }
        if (peek(c) < 0) {
            ypr__yv_free(v);
            return fail(c, "unterminated '[' list");
        }
        ypr_yv *item = NULL;
        int rc = peek(c) == '[' ? parse_flow_list(c, depth + 1, &item) : parse_value(c, 1, &item);
        if (rc < 0 || yv_push(v, NULL, item) < 0) {
            ypr__yv_free(item);
            ypr__yv_free(v);
            return rc < 0 ? rc : ypr__error(YPR_ENOMEM, "%s: out of memory", c->file);
        }
        skip_ws(c, 1);
        if (peek(c) == ',') {
            adv(c);
            continue;
        }
        if (peek(c) != ']') {
            ypr__yv_free(v);
            return fail(c, "expected ',' or ']' in a list");
        }
    }
    *out = v;
    return YPR_OK;
}

static int parse_value(cur *c, int in_flow, ypr_yv **out)
{
    skip_ws(c, 0);
    int ch = peek(c);
    if (ch == '[')
        return parse_flow_list(c, 0, out);
    if (ch == '\'' || ch == '"')
        return parse_quoted(c, out);
    if (ch == '{')
        return fail(c, "flow mappings ({...}) are not supported in model cfgs");
    return parse_plain(c, in_flow, out);
}

/* Rest of the current line after a value must be empty. */
static int end_of_line(cur *c)
{
    skip_ws(c, 0);
    if (peek(c) >= 0 && peek(c) != '\n')
        return fail(c, "unexpected text after the value");
    return YPR_OK;
}

/* Indentation of the next non-blank line, positioning at its start; -1 at EOF. */
static int next_line_indent(cur *c)
{
    for (;;) {
        size_t save = c->i;
        int indent = 0;
        while (peek(c) == ' ' || peek(c) == '\t') {
            adv(c);
            indent++;
        }
        if (peek(c) == '\r')
            adv(c);
        if (peek(c) == '\n') {
            adv(c);
            continue;
        }
        if (peek(c) < 0)
            return -1;
        c->i = save;
        return indent;
    }
}

static int parse_block_list(cur *c, int indent, ypr_yv **out)
{
    ypr_yv *v = yv_new(YV_LIST, c->line);
    if (!v)
        return ypr__error(YPR_ENOMEM, "%s: out of memory", c->file);
    for (;;) {
        size_t save = c->i;
        int save_line = c->line;
        int ind = next_line_indent(c);
        if (ind != indent) {
            c->i = save;
            c->line = save_line;
            break;
        }
        skip_ws(c, 0);
        if (peek(c) != '-') {
            c->i = save;
            c->line = save_line;
            break;
        }
        adv(c);
        ypr_yv *item = NULL;
        int rc = parse_value(c, 0, &item);
        if (rc == YPR_OK)
            rc = end_of_line(c);
        if (rc < 0 || yv_push(v, NULL, item) < 0) {
            ypr__yv_free(item);   /* parsed but not pushed (or NULL) */
            ypr__yv_free(v);
            return rc < 0 ? rc : ypr__error(YPR_ENOMEM, "%s: out of memory", c->file);
        }
    }
    *out = v;
    return YPR_OK;
}

static char *strip_comments(const char *text, size_t len)
{
    char *b = malloc(len + 1);
    if (!b)
        return NULL;
    int quote = 0, comment = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\n') {
            comment = quote = 0;
        } else if (comment) {
            ch = ' ';
        } else if (quote) {
            if (ch == quote)
                quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '#' && (i == 0 || isspace((unsigned char)text[i - 1]))) {
            comment = 1;
            ch = ' ';
        } else if (ch == '\0') {
            free(b);
            return NULL;
        }
        b[i] = ch;
    }
    b[len] = '\0';
    return b;
}

int ypr__yaml_parse(const char *text, size_t len, const char *file, ypr_yv **out)
{
    RETURN_IF(!text || !out, YPR_EINVAL, "yaml: NULL argument");
    *out = NULL;
    if (!file)
        file = "<cfg>";
    char *b = strip_comments(text, len);
    RETURN_IF(!b, YPR_EFORMAT, "%s: not a text file (NUL byte) or out of memory", file);
    cur c = {b, len, 0, 1, file};
    ypr_yv *root = yv_new(YV_MAP, 1);
    int rc = root ? YPR_OK : ypr__error(YPR_ENOMEM, "%s: out of memory", file);
    while (rc == YPR_OK) {
        int ind = next_line_indent(&c);
        if (ind < 0)
            break;
        if (ind != 0) {
            rc = fail(&c, "unexpected indentation (only top-level keys are supported)");
            break;
        }
        if (strncmp(b + c.i, "---", 3) == 0) {
            while (peek(&c) >= 0 && peek(&c) != '\n')
                adv(&c);
            continue;
        }
        size_t ks = c.i;
        while (peek(&c) >= 0 && peek(&c) != ':' && peek(&c) != '\n')
            adv(&c);
        if (peek(&c) != ':') {
            rc = fail(&c, "expected 'key: value'");
            break;
        }
        char *key = dup_range(b + ks, c.i - ks);
        int key_line = c.line;
        adv(&c);
        skip_ws(&c, 0);
        ypr_yv *val = NULL;
        if (!key) {
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
        } else if (ypr__yv_get(root, key)) {
            rc = ypr__error(YPR_EFORMAT, "%s:%d: duplicate key '%s'", file, key_line, key);
        } else if (peek(&c) >= 0 && peek(&c) != '\n') {
            rc = parse_value(&c, 0, &val);
            if (rc == YPR_OK)
                rc = end_of_line(&c);
        } else {
            size_t save = c.i;
            int save_line = c.line;
            int sub = next_line_indent(&c);
            if (sub <= 0) {   /* empty value */
                c.i = save;
                c.line = save_line;
                val = yv_new(YV_SCALAR, key_line);
                if (!val || !(val->s = calloc(1, 1)))
                    rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
            } else {
                size_t at = c.i;
                while (b[at] == ' ' || b[at] == '\t')
                    at++;
                if (b[at] == '-') {
                    rc = parse_block_list(&c, sub, &val);
                } else if (b[at] == '[') {
                    skip_ws(&c, 0);
                    rc = parse_flow_list(&c, 0, &val);
                    if (rc == YPR_OK)
                        rc = end_of_line(&c);
                } else {
                    rc = fail(&c, "nested mappings are not supported in model cfgs");
                }
            }
        }
        if (rc == YPR_OK && yv_push(root, key, val) < 0)
            rc = ypr__error(YPR_ENOMEM, "%s: out of memory", file);
        if (rc < 0) {
            free(key);
            if (val && (!root || root->n == 0 || root->items[root->n - 1] != val))
                ypr__yv_free(val);
        }
    }
    free(b);
    if (rc < 0) {
        ypr__yv_free(root);
        return rc;
    }
    *out = root;
    return YPR_OK;
}
