/* A small JSON reader (DOM) and writer.
 *
 * Reader decisions (RFC 8259, strict):
 *  - input is exactly `len` bytes; nothing past `len` is ever read (numbers
 *    are copied out before conversion because strtod needs a terminator);
 *  - whitespace is space, tab, CR, LF; no BOM, no comments, no trailing
 *    commas; anything but whitespace after the top-level value is an error;
 *  - strings must be valid UTF-8 (no overlong forms, no encoded surrogates,
 *    nothing above U+10FFFF) and may not hold raw control characters
 *    (< 0x20); \uXXXX escapes must pair surrogates correctly; \u0000 is
 *    allowed and gives a NUL byte inside the string (see ypr__json_strlen);
 *  - numbers follow the RFC grammar exactly ("01", "1.", ".5", "+1", "0x1"
 *    are errors); the value is converted independently of the locale; a
 *    number whose magnitude overflows a double (e.g. 1e400) is an error
 *    ("number out of range"); underflow rounds towards 0 (1e-400 → 0);
 *    integer literals that fit in int64 also keep their exact integer value
 *    for ypr__json_int;
 *  - nesting deeper than 256 arrays/objects is an error (a top-level array
 *    is depth 1), so recursion is bounded;
 *  - duplicate object keys are kept; ypr__json_get returns the first match.
 *
 * Writer: ypr__sb_json_double writes the shortest of "%.15g", "%.16g",
 * "%.17g" that converts back to the identical double (so a float stored in
 * a double also comes back exactly), in the C locale. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "json.h"

#define JSON_MAX_DEPTH 256

typedef struct json_key { char *s; size_t len; } json_key;

struct ypr_json {
    int type;
    int boolean;
    int is_int;             /* number literal was an integer fitting int64 */
    int64_t ival;
    double num;
    char *str;              /* string: NUL-terminated, may hold NULs */
    size_t slen;
    size_t n;               /* array/object member count */
    ypr_json *kids;
    json_key *keys;         /* objects only */
};

/* ------------------------------------------------------------ C locale */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Switch this thread to the C locale; returns the previous one (or 0 if the
 * C locale object could not be made, in which case nothing changes). */
static locale_t c_locale_enter(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale == (locale_t)0)
        return (locale_t)0;
    return uselocale(c_locale);
}

static void c_locale_leave(locale_t old)
{
    if (old != (locale_t)0)
        uselocale(old);
}

/* -------------------------------------------------------------- parsing */

typedef struct parser {
    const unsigned char *p;
    size_t len, pos;
    const char *what;
    int rc;                 /* first error code */
} parser;

static int perr(parser *ps, size_t at, const char *msg)
{
    if (ps->rc == 0)
        ps->rc = ypr__error(YPR_EFORMAT, "%s: invalid JSON: %s at byte %zu",
                            ps->what, msg, at);
    return ps->rc;
}

static int pnomem(parser *ps)
{
    if (ps->rc == 0)
        ps->rc = ypr__error(YPR_ENOMEM, "%s: out of memory while parsing JSON", ps->what);
    return ps->rc;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ps->pos++;
    }
}

static void node_clear(ypr_json *j)
{
    if (j->type == YPR_JSON_STRING) {
        free(j->str);
    } else if (j->type == YPR_JSON_ARRAY || j->type == YPR_JSON_OBJECT) {
        for (size_t i = 0; i < j->n; i++) {
            node_clear(&j->kids[i]);
            if (j->keys)
                free(j->keys[i].s);
        }
        free(j->kids);
        free(j->keys);
    }
    memset(j, 0, sizeof *j);
}

/* Growable byte buffer used while decoding a string. */
typedef struct bytes { char *d; size_t len, cap; } bytes;

static int bytes_put(bytes *b, const void *src, size_t n)
{
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap - b->len <= n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *d = realloc(b->d, cap);
        if (!d)
            return -1;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, src, n);
    b->len += n;
    b->d[b->len] = '\0';
    return 0;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;          /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F;          /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;          /* ≤ U+10FFFF */
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

/* Parse a string starting at the opening quote. */
static int parse_string(parser *ps, char **out, size_t *outlen)
{
    size_t start = ps->pos;
    bytes b = {0};
    ps->pos++;                                  /* opening quote */
    for (;;) {
        if (ps->pos >= ps->len) {
            free(b.d);
            return perr(ps, start, "unterminated string");
        }
        /* copy a run of plain characters at once */
        size_t run = ps->pos;
        while (run < ps->len) {
            unsigned char c = ps->p[run];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            if (c < 0x80) {
                run++;
            } else {
                size_t k = utf8_valid(ps->p + run, ps->len - run);
                if (!k) {
                    free(b.d);
                    return perr(ps, run, "invalid UTF-8 in string");
                }
                run += k;
            }
        }
        if (run > ps->pos) {
            if (bytes_put(&b, ps->p + ps->pos, run - ps->pos) != 0) {
                free(b.d);
                return pnomem(ps);
            }
            ps->pos = run;
            continue;
        }
        unsigned char c = ps->p[ps->pos];
        if (c == '"') {
            ps->pos++;
            if (!b.d && bytes_put(&b, "", 0) != 0)
                return pnomem(ps);
            *out = b.d;
            *outlen = b.len;
            return 0;
        }
        if (c < 0x20) {
            free(b.d);
            return perr(ps, ps->pos, "control character in string");
        }
        /* backslash */
        size_t esc = ps->pos;
        if (ps->pos + 1 >= ps->len) {
            free(b.d);
            return perr(ps, start, "unterminated string");
        }
        unsigned char e = ps->p[ps->pos + 1];
        char one;
        unsigned char enc[4];
        size_t enclen = 0;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': one = 0; break;
        default:
            free(b.d);
            return perr(ps, esc, "invalid escape");
        }
        if (e != 'u') {
            ps->pos += 2;
            if (bytes_put(&b, &one, 1) != 0) {
                free(b.d);
                return pnomem(ps);
            }
            continue;
        }
        unsigned cp;
        if (ps->len - ps->pos < 6 || hex4(ps->p + ps->pos + 2, &cp) != 0) {
            free(b.d);
            return perr(ps, esc, "invalid \\u escape");
        }
        ps->pos += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(b.d);
            return perr(ps, esc, "unpaired low surrogate in \\u escape");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (ps->len - ps->pos < 6 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u' ||
                hex4(ps->p + ps->pos + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                free(b.d);
                return perr(ps, esc, "unpaired high surrogate in \\u escape");
            }
            ps->pos += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        enclen = utf8_encode(cp, enc);
        if (bytes_put(&b, enc, enclen) != 0) {
            free(b.d);
            return pnomem(ps);
        }
    }
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(parser *ps, ypr_json *j)
{
    size_t start = ps->pos, i = ps->pos;
    const unsigned char *p = ps->p;
    int integral = 1;
    if (i < ps->len && p[i] == '-')
        i++;
    if (i >= ps->len || !is_digit(p[i]))
        return perr(ps, start, "invalid number");
    if (p[i] == '0') {
        i++;
        if (i < ps->len && is_digit(p[i]))
            return perr(ps, start, "invalid number (leading zero)");
    } else {
        while (i < ps->len && is_digit(p[i]))
            i++;
    }
    if (i < ps->len && p[i] == '.') {
        integral = 0;
        i++;
        if (i >= ps->len || !is_digit(p[i]))
            return perr(ps, start, "invalid number (no digits after '.')");
        while (i < ps->len && is_digit(p[i]))
            i++;
    }
    if (i < ps->len && (p[i] == 'e' || p[i] == 'E')) {
        integral = 0;
        i++;
        if (i < ps->len && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= ps->len || !is_digit(p[i]))
            return perr(ps, start, "invalid number (bad exponent)");
        while (i < ps->len && is_digit(p[i]))
            i++;
    }
    size_t n = i - start;
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return pnomem(ps);
    memcpy(buf, p + start, n);
    buf[n] = '\0';

    locale_t old = c_locale_enter();
    double v = strtod(buf, NULL);
    c_locale_leave(old);

    j->type = YPR_JSON_NUMBER;
    j->num = v;
    if (integral) {
        /* exact int64 value when it fits */
        int neg = buf[0] == '-';
        uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int fits = 1;
        for (const char *q = buf + neg; *q; q++) {
            unsigned d = (unsigned)(*q - '0');
            if (acc > (limit - d) / 10) {
                fits = 0;
                break;
            }
            acc = acc * 10 + d;
        }
        if (fits) {
            j->is_int = 1;
            j->ival = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc)
                          : (int64_t)acc;
        }
    }
    if (buf != small)
        free(buf);
    if (isinf(v))
        return perr(ps, start, "number out of range");
    ps->pos = i;
    return 0;
}

static int match_lit(parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, lit, n) != 0)
        return -1;
    ps->pos += n;
    return 0;
}

static int parse_value(parser *ps, ypr_json *j, int depth);

/* Append a child (moved in by value) to a container being built. */
static int push_kid(parser *ps, ypr_json *parent, size_t *cap, ypr_json *kid, json_key key)
{
    if (parent->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        if (nc > SIZE_MAX / sizeof(ypr_json))
            return pnomem(ps);
        ypr_json *k = realloc(parent->kids, nc * sizeof *k);
        if (!k)
            return pnomem(ps);
        parent->kids = k;
        if (parent->type == YPR_JSON_OBJECT) {
            json_key *kk = realloc(parent->keys, nc * sizeof *kk);
            if (!kk)
                return pnomem(ps);
            parent->keys = kk;
        }
        *cap = nc;
    }
    parent->kids[parent->n] = *kid;
    if (parent->type == YPR_JSON_OBJECT)
        parent->keys[parent->n] = key;
    parent->n++;
    return 0;
}

static int parse_container(parser *ps, ypr_json *j, int depth, int is_obj)
{
    size_t open = ps->pos;
    if (depth > JSON_MAX_DEPTH)
        return perr(ps, open, "nesting deeper than 256");
    j->type = is_obj ? YPR_JSON_OBJECT : YPR_JSON_ARRAY;
    size_t cap = 0;
    char close = is_obj ? '}' : ']';
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == (unsigned char)close) {
        ps->pos++;
        return 0;
    }
    for (;;) {
        json_key key = {0};
        skip_ws(ps);
        if (is_obj) {
            if (ps->pos >= ps->len)
                return perr(ps, open, "unterminated object");
            if (ps->p[ps->pos] != '"')
                return perr(ps, ps->pos, "expected a string key");
            if (parse_string(ps, &key.s, &key.len) != 0)
                return ps->rc;
            skip_ws(ps);
            if (ps->pos >= ps->len || ps->p[ps->pos] != ':') {
                free(key.s);
                return perr(ps, ps->pos, "expected ':'");
            }
            ps->pos++;
        }
        ypr_json kid;
        memset(&kid, 0, sizeof kid);
        if (parse_value(ps, &kid, depth) != 0) {
            node_clear(&kid);
            free(key.s);
            return ps->rc;
        }
        if (push_kid(ps, j, &cap, &kid, key) != 0) {
            node_clear(&kid);
            free(key.s);
            return ps->rc;
        }
        skip_ws(ps);
        if (ps->pos >= ps->len)
            return perr(ps, open, is_obj ? "unterminated object" : "unterminated array");
        unsigned char c = ps->p[ps->pos];
        if (c == ',') {
            ps->pos++;
            continue;
        }
        if (c == (unsigned char)close) {
            ps->pos++;
            return 0;
        }
        return perr(ps, ps->pos, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(parser *ps, ypr_json *j, int depth)
{
    skip_ws(ps);
    if (ps->pos >= ps->len)
        return perr(ps, ps->pos, "unexpected end of input");
    unsigned char c = ps->p[ps->pos];
    switch (c) {
    case '{':
        return parse_container(ps, j, depth + 1, 1);
    case '[':
        return parse_container(ps, j, depth + 1, 0);
    case '"':
        if (parse_string(ps, &j->str, &j->slen) != 0)
            return ps->rc;
        j->type = YPR_JSON_STRING;
        return 0;
    case 't':
        if (match_lit(ps, "true") != 0)
            return perr(ps, ps->pos, "invalid literal");
        j->type = YPR_JSON_BOOL;
        j->boolean = 1;
        return 0;
    case 'f':
        if (match_lit(ps, "false") != 0)
            return perr(ps, ps->pos, "invalid literal");
        j->type = YPR_JSON_BOOL;
        return 0;
    case 'n':
        if (match_lit(ps, "null") != 0)
            return perr(ps, ps->pos, "invalid literal");
        j->type = YPR_JSON_NULL;
        return 0;
    default:
        if (c == '-' || is_digit(c))
            return parse_number(ps, j);
        return perr(ps, ps->pos, "unexpected character");
    }
}

int ypr__json_parse(const char *text, size_t len, const char *what, ypr_json **out)
{
    if (out)
        *out = NULL;
    if (!what)
        what = "JSON";
    RETURN_IF(!out || (!text && len), YPR_EINVAL, "%s: JSON parse: NULL argument", what);
    ypr_json *root = calloc(1, sizeof *root);
    RETURN_IF(!root, YPR_ENOMEM, "%s: out of memory while parsing JSON", what);
    parser ps = { (const unsigned char *)text, len, 0, what, 0 };
    if (parse_value(&ps, root, 0) == 0) {
        skip_ws(&ps);
        if (ps.pos != ps.len)
            perr(&ps, ps.pos, "trailing characters after the value");
    }
    if (ps.rc != 0) {
        node_clear(root);
        free(root);
        return ps.rc;
    }
    *out = root;
    return YPR_OK;
}

void ypr__json_free(ypr_json *j)
{
    if (!j)
        return;
    node_clear(j);
    free(j);
}

/* ------------------------------------------------------------- queries */

int ypr__json_type(const ypr_json *j)
{
    return j ? j->type : YPR_JSON_NULL;
}

size_t ypr__json_len(const ypr_json *j)
{
    if (!j || (j->type != YPR_JSON_ARRAY && j->type != YPR_JSON_OBJECT))
        return 0;
    return j->n;
}

const ypr_json *ypr__json_at(const ypr_json *j, size_t i)
{
    if (!j || (j->type != YPR_JSON_ARRAY && j->type != YPR_JSON_OBJECT) || i >= j->n)
        return NULL;
    return &j->kids[i];
}

const char *ypr__json_key_at(const ypr_json *j, size_t i)
{
    if (!j || j->type != YPR_JSON_OBJECT || i >= j->n)
        return NULL;
    return j->keys[i].s;
}

size_t ypr__json_key_len(const ypr_json *j, size_t i)
{
    if (!j || j->type != YPR_JSON_OBJECT || i >= j->n)
        return 0;
    return j->keys[i].len;
}

const ypr_json *ypr__json_get(const ypr_json *obj, const char *key)
{
    if (!obj || obj->type != YPR_JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i].len == n && memcmp(obj->keys[i].s, key, n) == 0)
            return &obj->kids[i];
    return NULL;
}

double ypr__json_num(const ypr_json *j)
{
    return j && j->type == YPR_JSON_NUMBER ? j->num : 0.0;
}

int ypr__json_int(const ypr_json *j, int64_t *out)
{
    if (!j || j->type != YPR_JSON_NUMBER)
        return -1;
    if (j->is_int) {
        if (out)
            *out = j->ival;
        return 0;
    }
    double v = j->num;
    /* [-2^63, 2^63): both bounds are exact doubles */
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) || v != floor(v))
        return -1;
    if (out)
        *out = (int64_t)v;
    return 0;
}

const char *ypr__json_str(const ypr_json *j)
{
    return j && j->type == YPR_JSON_STRING ? j->str : NULL;
}

size_t ypr__json_strlen(const ypr_json *j)
{
    return j && j->type == YPR_JSON_STRING ? j->slen : 0;
}

int ypr__json_bool(const ypr_json *j)
{
    return j && j->type == YPR_JSON_BOOL && j->boolean;
}

/* -------------------------------------------------------------- writer */

void ypr__sb_init(ypr_strbuf *sb)
{
    memset(sb, 0, sizeof *sb);
}

void ypr__sb_free(ypr_strbuf *sb)
{
    free(sb->data);
    memset(sb, 0, sizeof *sb);
}

/* Make room for n more bytes plus the terminating NUL. */
static int sb_reserve(ypr_strbuf *sb, size_t n)
{
    if (sb->failed)
        return -1;
    if (n >= SIZE_MAX - sb->len) {
        sb->failed = 1;
        return -1;
    }
    size_t need = sb->len + n + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *d = realloc(sb->data, cap);
    if (!d) {
        sb->failed = 1;
        return -1;
    }
    sb->data = d;
    sb->cap = cap;
    return 0;
}

void ypr__sb_append(ypr_strbuf *sb, const char *s, size_t n)
{
    if (sb_reserve(sb, n) != 0)
        return;
    if (n)
        memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void ypr__sb_puts(ypr_strbuf *sb, const char *s)
{
    ypr__sb_append(sb, s, strlen(s));
}

void ypr__sb_printf(ypr_strbuf *sb, const char *fmt, ...)
{
    if (sb->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        sb->failed = 1;
    } else if ((size_t)n < sizeof tmp) {
        ypr__sb_append(sb, tmp, (size_t)n);
    } else if (sb_reserve(sb, (size_t)n) == 0) {
        vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
        sb->len += (size_t)n;
    }
    va_end(ap);
}

void ypr__sb_json_str(ypr_strbuf *sb, const char *s)
{
    if (!s) {
        ypr__sb_puts(sb, "null");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    ypr__sb_append(sb, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* plain printable ASCII and valid UTF-8 go through unchanged */
        while (run < n) {
            unsigned char c = p[run];
            if (c == '"' || c == '\\' || c < 0x20)
                break;
            if (c < 0x80) {
                run++;
                continue;
            }
            size_t k = utf8_valid(p + run, n - run);
            if (!k)
                break;
            run += k;
        }
        if (run > i) {
            ypr__sb_append(sb, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = p[i++];
        char e[7];
        switch (c) {
        case '"': ypr__sb_append(sb, "\\\"", 2); break;
        case '\\': ypr__sb_append(sb, "\\\\", 2); break;
        case '\b': ypr__sb_append(sb, "\\b", 2); break;
        case '\f': ypr__sb_append(sb, "\\f", 2); break;
        case '\n': ypr__sb_append(sb, "\\n", 2); break;
        case '\r': ypr__sb_append(sb, "\\r", 2); break;
        case '\t': ypr__sb_append(sb, "\\t", 2); break;
        default:
            if (c < 0x20) {
                e[0] = '\\'; e[1] = 'u'; e[2] = '0'; e[3] = '0';
                e[4] = hex[c >> 4]; e[5] = hex[c & 15];
                ypr__sb_append(sb, e, 6);
            } else {
                /* a byte that is not valid UTF-8: U+FFFD keeps the output
                 * valid JSON */
                ypr__sb_append(sb, "\xEF\xBF\xBD", 3);
            }
        }
    }
    ypr__sb_append(sb, "\"", 1);
}

void ypr__sb_json_double(ypr_strbuf *sb, double v)
{
    if (isnan(v) || isinf(v)) {
        ypr__sb_puts(sb, "null");
        return;
    }
    char buf[40];
    locale_t old = c_locale_enter();
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    c_locale_leave(old);
    /* if the C locale was unavailable, a locale decimal comma must not leak */
    for (char *q = buf; *q; q++)
        if (*q == ',')
            *q = '.';
    ypr__sb_puts(sb, buf);
}
