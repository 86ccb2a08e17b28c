/* A small JSON reader (DOM) and writer, for safetensors headers, our
 * checkpoints' net descriptions and JSON reports. Part of core/ (it is the
 * folder's second header because core.h is included everywhere and this is
 * needed by few). */
#ifndef YPR_JSON_H
#define YPR_JSON_H

#include <stddef.h>
#include <stdint.h>

enum {
    YPR_JSON_NULL = 0,
    YPR_JSON_BOOL = 1,
    YPR_JSON_NUMBER = 2,
    YPR_JSON_STRING = 3,
    YPR_JSON_ARRAY = 4,
    YPR_JSON_OBJECT = 5
};

typedef struct ypr_json ypr_json;

/* Parse exactly `len` bytes (RFC 8259: objects, arrays, strings with all
 * escapes incl. \uXXXX surrogate pairs → UTF-8, numbers, true/false/null;
 * nesting depth ≤ 256; trailing garbage is an error). On failure returns
 * YPR_EFORMAT with ypr_last_error() naming `what` (a file name or context)
 * and the byte offset. *out is NULL on failure. */
int ypr__json_parse(const char *text, size_t len, const char *what, ypr_json **out);
void ypr__json_free(ypr_json *j);

int ypr__json_type(const ypr_json *j);             /* YPR_JSON_*; NULL → NULL type */
size_t ypr__json_len(const ypr_json *j);           /* array/object members, else 0 */
const ypr_json *ypr__json_at(const ypr_json *j, size_t i);        /* array or object value i */
const char *ypr__json_key_at(const ypr_json *j, size_t i);        /* object key i, else NULL */
size_t ypr__json_key_len(const ypr_json *j, size_t i);            /* its byte length (keys may hold NUL) */
const ypr_json *ypr__json_get(const ypr_json *obj, const char *key); /* NULL if absent */
double ypr__json_num(const ypr_json *j);           /* 0 if not a number */
/* Number as int64 if it is integral and in range: 0 ok, -1 otherwise. */
int ypr__json_int(const ypr_json *j, int64_t *out);
const char *ypr__json_str(const ypr_json *j);      /* NULL if not a string */
size_t ypr__json_strlen(const ypr_json *j);        /* byte length (strings may hold NUL) */
int ypr__json_bool(const ypr_json *j);             /* 1 true, 0 otherwise */

/* Growable string buffer for writing JSON (and other text). Appends never
 * fail visibly: an allocation failure sets `failed` and later appends are
 * ignored; check it once at the end. */
typedef struct ypr_strbuf { char *data; size_t len, cap; int failed; } ypr_strbuf;
void ypr__sb_init(ypr_strbuf *sb);
void ypr__sb_free(ypr_strbuf *sb);
void ypr__sb_append(ypr_strbuf *sb, const char *s, size_t n);
void ypr__sb_puts(ypr_strbuf *sb, const char *s);
void ypr__sb_printf(ypr_strbuf *sb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A JSON string literal with quotes and escapes. */
void ypr__sb_json_str(ypr_strbuf *sb, const char *s);
/* The shortest of %.15g/%.16g/%.17g that reads back as the identical double
 * (so floats widened to double round-trip too); NaN/Inf are written as null. */
void ypr__sb_json_double(ypr_strbuf *sb, double v);

#endif
