/* The protobuf wire format, by hand (no protobuf dependency): a reader that
 * walks the fields of one message held in memory, and a writer into a
 * growing buffer. The reader never trusts a length: every varint is at most
 * 10 bytes, every length-delimited field must fit what is left of its
 * message, and groups (wire types 3 and 4, deprecated) are refused. It does
 * not recurse: a nested message is read by opening a new reader over its
 * bytes, so how deep a file nests is the caller's business, bounded by the
 * schema it follows. Errors return YPR_EFORMAT without a message: the
 * caller knows which file and message it was reading and names them. */
#include <stdlib.h>
#include <string.h>

#include "io.h"

void ypr__pb_init(ypr_pb *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
}

/* A varint of at most 10 bytes (a 64-bit value) into *v. */
static int read_varint(ypr_pb *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return YPR_EFORMAT;
        uint8_t b = *r->p++;
        if (i == 9 && b > 1)
            return YPR_EFORMAT;   /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return YPR_OK;
        }
    }
    return YPR_EFORMAT;
}

int ypr__pb_next(ypr_pb *r, ypr_pb_field *f)
{
    if (r->p >= r->end)
        return 0;
    uint64_t key;
    if (read_varint(r, &key) < 0)
        return YPR_EFORMAT;
    memset(f, 0, sizeof *f);
    f->num = key >> 3;
    f->wire = (int)(key & 7);
    if (f->num == 0 || f->num > 0x1fffffff)
        return YPR_EFORMAT;
    size_t left;
    switch (f->wire) {
    case YPR_PB_VARINT:
        return read_varint(r, &f->v) < 0 ? YPR_EFORMAT : 1;
    case YPR_PB_FIXED64:
        if (r->end - r->p < 8)
            return YPR_EFORMAT;
        for (int i = 0; i < 8; i++)
            f->v |= (uint64_t)r->p[i] << (8 * i);
        r->p += 8;
        return 1;
    case YPR_PB_BYTES:
        if (read_varint(r, &f->v) < 0)
            return YPR_EFORMAT;
        left = (size_t)(r->end - r->p);
        if (f->v > left)
            return YPR_EFORMAT;   /* a length past the end: truncated or forged */
        f->data = r->p;
        f->len = (size_t)f->v;
        r->p += f->len;
        return 1;
    case YPR_PB_FIXED32:
        if (r->end - r->p < 4)
            return YPR_EFORMAT;
        for (int i = 0; i < 4; i++)
            f->v |= (uint64_t)r->p[i] << (8 * i);
        r->p += 4;
        return 1;
    default:
        return YPR_EFORMAT;   /* groups (3, 4) and the undefined types 6, 7 */
    }
}

float ypr__pb_float(const ypr_pb_field *f)
{
    uint32_t u = (uint32_t)f->v;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

int ypr__pb_count_ints(const ypr_pb_field *f, size_t *n)
{
    if (f->wire == YPR_PB_VARINT) {
        *n = 1;
        return YPR_OK;
    }
    if (f->wire != YPR_PB_BYTES)
        return YPR_EFORMAT;
    size_t k = 0;
    for (size_t i = 0; i < f->len; i++)
        k += !(f->data[i] & 0x80);
    if (f->len && (f->data[f->len - 1] & 0x80))
        return YPR_EFORMAT;   /* the last varint runs past the field */
    *n = k;
    return YPR_OK;
}

int ypr__pb_ints(const ypr_pb_field *f, int64_t *out, size_t cap, size_t *n)
{
    if (f->wire == YPR_PB_VARINT) {
        if (cap < 1)
            return YPR_ERANGE;
        out[0] = (int64_t)f->v;
        *n = 1;
        return YPR_OK;
    }
    if (f->wire != YPR_PB_BYTES)
        return YPR_EFORMAT;
    ypr_pb r;
    ypr__pb_init(&r, f->data, f->len);
    size_t k = 0;
    while (r.p < r.end) {
        uint64_t v;
        if (read_varint(&r, &v) < 0)
            return YPR_EFORMAT;
        if (k >= cap)
            return YPR_ERANGE;
        out[k++] = (int64_t)v;
    }
    *n = k;
    return YPR_OK;
}

int ypr__pb_floats(const ypr_pb_field *f, float *out, size_t cap, size_t *n)
{
    if (f->wire == YPR_PB_FIXED32) {
        if (cap < 1)
            return YPR_ERANGE;
        out[0] = ypr__pb_float(f);
        *n = 1;
        return YPR_OK;
    }
    if (f->wire != YPR_PB_BYTES || f->len % 4)
        return YPR_EFORMAT;
    if (f->len / 4 > cap)
        return YPR_ERANGE;
    for (size_t i = 0; i < f->len / 4; i++) {
        uint32_t u = (uint32_t)f->data[4 * i] | (uint32_t)f->data[4 * i + 1] << 8 |
                     (uint32_t)f->data[4 * i + 2] << 16 | (uint32_t)f->data[4 * i + 3] << 24;
        memcpy(&out[i], &u, sizeof u);
    }
    *n = f->len / 4;
    return YPR_OK;
}

/* ------------------------------------------------------------------ writer */

void ypr__pbw_init(ypr_pbw *w)
{
    memset(w, 0, sizeof *w);
}

void ypr__pbw_free(ypr_pbw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static int reserve(ypr_pbw *w, size_t more)
{
    if (w->failed)
        return -1;
    if (more > SIZE_MAX / 2 - w->len) {
        w->failed = 1;
        return -1;
    }
    if (w->len + more <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more)
        cap *= 2;
    uint8_t *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = 1;
        return -1;
    }
    w->buf = b;
    w->cap = cap;
    return 0;
}

void ypr__pbw_raw(ypr_pbw *w, const void *data, size_t n)
{
    if (n == 0 || reserve(w, n) < 0)
        return;
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void put_varint(ypr_pbw *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = ypr__pb_varint_encode(v, b);
    ypr__pbw_raw(w, b, n);
}

size_t ypr__pb_varint_encode(uint64_t v, uint8_t out[10])
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

size_t ypr__pb_tag_encode(uint32_t field, int wire, uint64_t len, uint8_t out[20])
{
    size_t n = ypr__pb_varint_encode((uint64_t)field << 3 | (uint64_t)wire, out);
    if (wire == YPR_PB_BYTES)
        n += ypr__pb_varint_encode(len, out + n);
    return n;
}

void ypr__pbw_varint(ypr_pbw *w, uint32_t field, uint64_t v)
{
    put_varint(w, (uint64_t)field << 3 | YPR_PB_VARINT);
    put_varint(w, v);
}

void ypr__pbw_float(ypr_pbw *w, uint32_t field, float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    put_varint(w, (uint64_t)field << 3 | YPR_PB_FIXED32);
    ypr__pbw_raw(w, b, 4);
}

void ypr__pbw_bytes(ypr_pbw *w, uint32_t field, const void *data, size_t n)
{
    put_varint(w, (uint64_t)field << 3 | YPR_PB_BYTES);
    put_varint(w, n);
    ypr__pbw_raw(w, data, n);
}

void ypr__pbw_str(ypr_pbw *w, uint32_t field, const char *s)
{
    ypr__pbw_bytes(w, field, s, strlen(s));
}

void ypr__pbw_msg(ypr_pbw *w, uint32_t field, const ypr_pbw *sub)
{
    if (sub->failed)
        w->failed = 1;
    ypr__pbw_bytes(w, field, sub->buf, sub->len);
}

void ypr__pbw_packed_ints(ypr_pbw *w, uint32_t field, const int64_t *v, size_t n)
{
    size_t len = 0;
    uint8_t b[10];
    for (size_t i = 0; i < n; i++)
        len += ypr__pb_varint_encode((uint64_t)v[i], b);
    put_varint(w, (uint64_t)field << 3 | YPR_PB_BYTES);
    put_varint(w, len);
    for (size_t i = 0; i < n; i++)
        put_varint(w, (uint64_t)v[i]);
}

void ypr__pbw_packed_floats(ypr_pbw *w, uint32_t field, const float *v, size_t n)
{
    put_varint(w, (uint64_t)field << 3 | YPR_PB_BYTES);
    put_varint(w, 4 * (uint64_t)n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        ypr__pbw_raw(w, b, 4);
    }
}
