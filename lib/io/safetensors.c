/* safetensors: read (mmap, validated) and write (atomic).
 *
 * Layout: u64 little-endian header size N, N bytes of JSON, then the data
 * region. Decisions:
 *  - N above 100 MB is rejected as absurd; N larger than the file is
 *    rejected; the header's top level must be an object;
 *  - "file order" (ypr__st_at) is the order of the entries in the JSON
 *    header; our writer puts the data in the same order;
 *  - unknown fields inside a tensor entry are ignored (forward
 *    compatibility, like the reference reader); "__metadata__" must be an
 *    object of strings; duplicate tensor names or metadata keys are errors;
 *  - tensor names may not contain NUL bytes (they are C strings here);
 *  - the data region must be covered exactly: sorted by offset, every tensor
 *    starts where the previous one ended, the first at 0 and the last ends
 *    at the end of the file (trailing bytes are an error);
 *  - tensor bytes are little-endian; ypr__st_to_f32 decodes them explicitly,
 *    so it is correct on any host. The writer writes `data` as given (the
 *    host order, little-endian on every supported target);
 *  - F64 → float32 rounds to nearest (overflow → ±inf); F16/BF16 are exact.
 * A mapped file that is truncated by another process while open can still
 * fault (SIGBUS); nothing portable prevents that. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "lib/core/json.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

static const char *const dt_names[YPR_DT_COUNT_] = {
    "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
};
static const int dt_sizes[YPR_DT_COUNT_] = { 4, 2, 2, 8, 8, 4, 2, 1, 1, 1 };

struct ypr_safetensors {
    ypr_st_tensor *t;
    size_t n;
    size_t *by_name;            /* indices into t sorted by name */
    const char **meta;          /* key, value pairs, sorted by key */
    size_t nmeta;
    char *strings;              /* arena holding names and metadata */
    void *map;                  /* mmap'ed file, or NULL */
    size_t maplen;
    void *owned;                /* malloc'ed file contents, or NULL */
    void (*release)(void *);    /* ypr__st_from_tensors: run at close */
    void *keep;
};

/* ------------------------------------------------------------ helpers */

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int dtype_from_name(const char *s, size_t len)
{
    for (int i = 0; i < YPR_DT_COUNT_; i++)
        if (strlen(dt_names[i]) == len && memcmp(dt_names[i], s, len) == 0)
            return i;
    return -1;
}

/* qsort contexts without globals: sort arrays of {key, index}. */
typedef struct name_ix { const char *name; size_t ix; } name_ix;

static int cmp_name_ix(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->ix < y->ix ? -1 : x->ix > y->ix;
}

typedef struct off_ix { int64_t begin, end; size_t ix; } off_ix;

static int cmp_off_ix(const void *a, const void *b)
{
    const off_ix *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->ix < y->ix ? -1 : x->ix > y->ix;
}

static int is_meta_key(const ypr_json *obj, size_t i)
{
    return ypr__json_key_len(obj, i) == 12 && memcmp(ypr__json_key_at(obj, i), "__metadata__", 12) == 0;
}

void ypr__st_close(ypr_safetensors *st)
{
    if (!st)
        return;
    if (st->map)
        munmap(st->map, st->maplen);
    if (st->release)
        st->release(st->keep);
    free(st->owned);
    free(st->t);
    free(st->by_name);
    free(st->meta);
    free(st->strings);
    free(st);
}

/* Parse one tensor entry of the header into *t (name filled by the caller). */
static int parse_entry(const char *what, const char *name, const ypr_json *v,
                       ypr_st_tensor *t, int64_t *begin, int64_t *end)
{
    char nb[80];
    const char *sn = ypr__shown(name, SIZE_MAX, nb);
    RETURN_IF(ypr__json_type(v) != YPR_JSON_OBJECT, YPR_EFORMAT,
              "%s: tensor '%s': entry is not an object", what, sn);

    const ypr_json *dt = ypr__json_get(v, "dtype");
    RETURN_IF(ypr__json_type(dt) != YPR_JSON_STRING, YPR_EFORMAT,
              "%s: tensor '%s': missing or non-string \"dtype\"", what, sn);
    t->dtype = dtype_from_name(ypr__json_str(dt), ypr__json_strlen(dt));
    if (t->dtype < 0) {
        char db[80];
        return ypr__error(YPR_EFORMAT, "%s: tensor '%s': unknown dtype '%s'", what, sn,
                          ypr__shown(ypr__json_str(dt), SIZE_MAX, db));
    }

    const ypr_json *sh = ypr__json_get(v, "shape");
    RETURN_IF(ypr__json_type(sh) != YPR_JSON_ARRAY, YPR_EFORMAT,
              "%s: tensor '%s': missing or non-array \"shape\"", what, sn);
    size_t nd = ypr__json_len(sh);
    RETURN_IF(nd > YPR_ST_MAX_DIMS, YPR_EFORMAT,
              "%s: tensor '%s': %zu dimensions (at most %d supported)", what, sn, nd,
              YPR_ST_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t numel = 1;
    for (size_t d = 0; d < nd; d++) {
        int64_t dim;
        RETURN_IF(ypr__json_int(ypr__json_at(sh, d), &dim) != 0, YPR_EFORMAT,
                  "%s: tensor '%s': shape[%zu] is not an integer", what, sn, d);
        RETURN_IF(dim < 0, YPR_EFORMAT, "%s: tensor '%s': shape[%zu] is negative", what, sn, d);
        RETURN_IF(ypr__mul_size(numel, dim, &numel) != 0, YPR_EFORMAT,
                  "%s: tensor '%s': shape overflows", what, sn);
        t->shape[d] = dim;
    }
    t->numel = numel;
    int64_t nbytes;
    RETURN_IF(ypr__mul_size(numel, dt_sizes[t->dtype], &nbytes) != 0, YPR_EFORMAT,
              "%s: tensor '%s': byte size overflows", what, sn);

    const ypr_json *off = ypr__json_get(v, "data_offsets");
    RETURN_IF(ypr__json_type(off) != YPR_JSON_ARRAY || ypr__json_len(off) != 2, YPR_EFORMAT,
              "%s: tensor '%s': \"data_offsets\" must be an array of 2 integers", what, sn);
    RETURN_IF(ypr__json_int(ypr__json_at(off, 0), begin) != 0 ||
              ypr__json_int(ypr__json_at(off, 1), end) != 0 || *begin < 0 || *end < *begin,
              YPR_EFORMAT, "%s: tensor '%s': invalid \"data_offsets\"", what, sn);
    RETURN_IF(*end - *begin != nbytes, YPR_EFORMAT,
              "%s: tensor '%s': data_offsets span %lld bytes but %s%s needs %lld",
              what, sn, (long long)(*end - *begin), dt_names[t->dtype],
              nd ? " × shape" : "", (long long)nbytes);
    t->nbytes = (size_t)nbytes;
    return YPR_OK;
}

static int parse_header(const unsigned char *buf, size_t len, const char *what,
                        ypr_safetensors *st)
{
    RETURN_IF(len < 8, YPR_EFORMAT,
              "%s: file too short (%zu bytes) for a safetensors header", what, len);
    uint64_t hlen = le64(buf);
    RETURN_IF(hlen > ST_MAX_HEADER, YPR_EFORMAT,
              "%s: header size %llu is absurd (limit 100 MB)", what, (unsigned long long)hlen);
    RETURN_IF(hlen > len - 8, YPR_EFORMAT,
              "%s: header size %llu exceeds the file (%zu bytes)", what,
              (unsigned long long)hlen, len);
    size_t data_len = len - 8 - (size_t)hlen;
    const unsigned char *data = buf + 8 + hlen;

    ypr_json *root = NULL;
    TRY(ypr__json_parse((const char *)buf + 8, (size_t)hlen, what, &root));
    int rc = YPR_OK;
    name_ix *names = NULL, *mkeys = NULL;
    off_ix *offs = NULL;
    int64_t *begins = NULL;
    const ypr_json *meta = NULL;
    size_t nmeta = 0, ntensors = 0, strbytes = 0;
    char nb[80];

    if (ypr__json_type(root) != YPR_JSON_OBJECT) {
        rc = ypr__error(YPR_EFORMAT, "%s: header is not a JSON object", what);
        goto out;
    }
    size_t nkeys = ypr__json_len(root);
    for (size_t i = 0; i < nkeys; i++) {
        const char *k = ypr__json_key_at(root, i);
        if (is_meta_key(root, i)) {
            if (meta) {
                rc = ypr__error(YPR_EFORMAT, "%s: duplicate \"__metadata__\"", what);
                goto out;
            }
            meta = ypr__json_at(root, i);
            if (ypr__json_type(meta) != YPR_JSON_OBJECT) {
                rc = ypr__error(YPR_EFORMAT, "%s: \"__metadata__\" is not an object", what);
                goto out;
            }
            nmeta = ypr__json_len(meta);
            for (size_t m = 0; m < nmeta; m++) {
                const char *mk = ypr__json_key_at(meta, m);
                const ypr_json *mv = ypr__json_at(meta, m);
                if (ypr__json_type(mv) != YPR_JSON_STRING) {
                    rc = ypr__error(YPR_EFORMAT, "%s: metadata '%s' is not a string", what,
                                    ypr__shown(mk, SIZE_MAX, nb));
                    goto out;
                }
                if (ypr__json_key_len(meta, m) != strlen(mk) ||
                    memchr(ypr__json_str(mv), '\0', ypr__json_strlen(mv))) {
                    rc = ypr__error(YPR_EFORMAT, "%s: metadata '%s' holds a NUL byte", what,
                                    ypr__shown(mk, SIZE_MAX, nb));
                    goto out;
                }
                strbytes += strlen(mk) + 1 + ypr__json_strlen(mv) + 1;
            }
        } else {
            ntensors++;
            strbytes += strlen(k) + 1;
        }
    }

    st->t = calloc(ntensors ? ntensors : 1, sizeof *st->t);
    st->by_name = calloc(ntensors ? ntensors : 1, sizeof *st->by_name);
    st->meta = calloc(nmeta ? 2 * nmeta : 1, sizeof *st->meta);
    st->strings = malloc(strbytes ? strbytes : 1);
    names = calloc(ntensors ? ntensors : 1, sizeof *names);
    offs = calloc(ntensors ? ntensors : 1, sizeof *offs);
    mkeys = calloc(nmeta ? nmeta : 1, sizeof *mkeys);
    begins = calloc(ntensors ? ntensors : 1, sizeof *begins);
    if (!st->t || !st->by_name || !st->meta || !st->strings || !names || !offs || !mkeys ||
        !begins) {
        rc = ypr__error(YPR_ENOMEM, "%s: out of memory reading the header", what);
        goto out;
    }

    char *sp = st->strings;
    size_t ti = 0;
    for (size_t i = 0; i < nkeys; i++) {
        const char *k = ypr__json_key_at(root, i);
        if (is_meta_key(root, i))
            continue;
        const ypr_json *v = ypr__json_at(root, i);
        if (ypr__json_key_len(root, i) != strlen(k)) {
            rc = ypr__error(YPR_EFORMAT, "%s: tensor name '%s...' holds a NUL byte", what,
                            ypr__shown(k, SIZE_MAX, nb));
            goto out;
        }
        ypr_st_tensor *t = &st->t[ti];
        size_t kl = strlen(k);
        memcpy(sp, k, kl + 1);
        t->name = sp;
        sp += kl + 1;
        int64_t b = 0, e = 0;
        rc = parse_entry(what, k, v, t, &b, &e);
        if (rc < 0)
            goto out;
        offs[ti].begin = b;
        offs[ti].end = e;
        offs[ti].ix = ti;
        names[ti].name = t->name;
        names[ti].ix = ti;
        begins[ti] = b;
        ti++;
    }
    st->n = ntensors;

    /* names: unique (and sorted for lookups) */
    qsort(names, ntensors, sizeof *names, cmp_name_ix);
    for (size_t i = 0; i < ntensors; i++) {
        if (i && strcmp(names[i - 1].name, names[i].name) == 0) {
            rc = ypr__error(YPR_EFORMAT, "%s: duplicate tensor name '%s'", what,
                            ypr__shown(names[i].name, SIZE_MAX, nb));
            goto out;
        }
        st->by_name[i] = names[i].ix;
    }

    /* offsets: contiguous cover of the data region */
    qsort(offs, ntensors, sizeof *offs, cmp_off_ix);
    int64_t cursor = 0;
    for (size_t i = 0; i < ntensors; i++) {
        const char *tn = ypr__shown(st->t[offs[i].ix].name, SIZE_MAX, nb);
        if (offs[i].begin != cursor) {
            rc = ypr__error(YPR_EFORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] %s", what,
                            tn, (long long)offs[i].begin, (long long)offs[i].end,
                            offs[i].begin < cursor ? "overlap another tensor"
                                                   : "leave a gap after the previous tensor");
            goto out;
        }
        if ((uint64_t)offs[i].end > data_len) {
            rc = ypr__error(YPR_EFORMAT,
                            "%s: tensor '%s': data_offsets [%lld, %lld] beyond the data (%zu bytes)",
                            what, tn, (long long)offs[i].begin, (long long)offs[i].end, data_len);
            goto out;
        }
        cursor = offs[i].end;
    }
    if ((uint64_t)cursor != data_len) {
        rc = ypr__error(YPR_EFORMAT, "%s: tensors cover %lld bytes but the data region has %zu",
                        what, (long long)cursor, data_len);
        goto out;
    }
    for (size_t i = 0; i < ntensors; i++)
        st->t[i].data = data + begins[i];

    /* metadata: copied, sorted, unique keys */
    for (size_t m = 0; m < nmeta; m++) {
        const char *mk = ypr__json_key_at(meta, m);
        const ypr_json *mv = ypr__json_at(meta, m);
        size_t kl = strlen(mk), vl = ypr__json_strlen(mv);
        memcpy(sp, mk, kl + 1);
        mkeys[m].name = sp;
        mkeys[m].ix = m;
        sp += kl + 1;
        memcpy(sp, ypr__json_str(mv), vl + 1);
        sp += vl + 1;
    }
    qsort(mkeys, nmeta, sizeof *mkeys, cmp_name_ix);
    for (size_t m = 0; m < nmeta; m++) {
        if (m && strcmp(mkeys[m - 1].name, mkeys[m].name) == 0) {
            rc = ypr__error(YPR_EFORMAT, "%s: duplicate metadata key '%s'", what,
                            ypr__shown(mkeys[m].name, SIZE_MAX, nb));
            goto out;
        }
        st->meta[2 * m] = mkeys[m].name;
        st->meta[2 * m + 1] = mkeys[m].name + strlen(mkeys[m].name) + 1;
    }
    st->nmeta = nmeta;

out:
    free(names);
    free(offs);
    free(mkeys);
    free(begins);
    ypr__json_free(root);
    return rc;
}

/* --------------------------------------------------------------- opening */

int ypr__st_open_mem(const void *buf, size_t len, const char *what, ypr_safetensors **out)
{
    if (!what)
        what = "<memory>";
    RETURN_IF(!out, YPR_EINVAL, "%s: safetensors: NULL output", what);
    *out = NULL;
    RETURN_IF(!buf && len, YPR_EINVAL, "%s: safetensors: NULL buffer", what);
    ypr_safetensors *st = calloc(1, sizeof *st);
    RETURN_IF(!st, YPR_ENOMEM, "%s: out of memory", what);
    int rc = parse_header(buf ? buf : (const void *)"", len, what, st);
    if (rc < 0) {
        ypr__st_close(st);
        return rc;
    }
    *out = st;
    return YPR_OK;
}

int ypr__st_from_tensors(const ypr_st_tensor *t, size_t n, const char *what,
                         void (*release)(void *), void *keep, ypr_safetensors **out)
{
    if (!what)
        what = "<tensors>";
    RETURN_IF(!out || (!t && n), YPR_EINVAL, "%s: NULL argument", what);
    *out = NULL;
    ypr_safetensors *st = calloc(1, sizeof *st);
    RETURN_IF(!st, YPR_ENOMEM, "%s: out of memory", what);
    size_t bytes = 1;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(t[i].name) + 1;
    st->t = calloc(n ? n : 1, sizeof *st->t);
    st->by_name = calloc(n ? n : 1, sizeof *st->by_name);
    st->strings = malloc(bytes);
    name_ix *names = calloc(n ? n : 1, sizeof *names);
    int rc = YPR_OK;
    if (!st->t || !st->by_name || !st->strings || !names)
        rc = ypr__error(YPR_ENOMEM, "%s: out of memory", what);
    char *sp = st->strings, nb[80];
    for (size_t i = 0; rc == YPR_OK && i < n; i++) {
        st->t[i] = t[i];
        size_t kl = strlen(t[i].name);
        memcpy(sp, t[i].name, kl + 1);
        st->t[i].name = sp;
        sp += kl + 1;
        names[i] = (name_ix){st->t[i].name, i};
        if (t[i].dtype < 0 || t[i].dtype >= YPR_DT_COUNT_ || t[i].ndim < 0 ||
            t[i].ndim > YPR_ST_MAX_DIMS)
            rc = ypr__error(YPR_EINVAL, "%s: tensor '%s': bad dtype or rank", what,
                            ypr__shown(t[i].name, SIZE_MAX, nb));
    }
    st->n = n;
    if (rc == YPR_OK) {
        qsort(names, n, sizeof *names, cmp_name_ix);
        for (size_t i = 0; rc == YPR_OK && i < n; i++) {
            if (i && strcmp(names[i - 1].name, names[i].name) == 0)
                rc = ypr__error(YPR_EFORMAT, "%s: duplicate tensor name '%s'", what,
                                ypr__shown(names[i].name, SIZE_MAX, nb));
            st->by_name[i] = names[i].ix;
        }
    }
    free(names);
    if (rc < 0) {
        ypr__st_close(st);
        return rc;
    }
    st->release = release;
    st->keep = keep;
    *out = st;
    return YPR_OK;
}

/* Read a whole file into memory (the fallback when mmap is refused). */
static int read_all(int fd, const char *path, size_t size, void **out)
{
    unsigned char *p = malloc(size ? size : 1);
    RETURN_IF(!p, YPR_ENOMEM, "%s: cannot allocate %zu bytes to read it", path, size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, p + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(p);
            return ypr__error(YPR_EIO, "%s: read failed: %s", path,
                              e ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    *out = p;
    return YPR_OK;
}

int ypr__st_open(const char *path, ypr_safetensors **out)
{
    RETURN_IF(!out, YPR_EINVAL, "safetensors: NULL output");
    *out = NULL;
    RETURN_IF(!path || !*path, YPR_EINVAL, "safetensors: empty file name");
    /* non-blocking open, regular files only; a missing file stays
     * YPR_EIO, as documented in io.h */
    int fd;
    uint64_t fsize;
    int orc = ypr__file_open_fd(path, &fd, &fsize);
    if (orc == YPR_ENOTFOUND)
        return ypr__error(YPR_EIO, "%s: cannot open: %s", path, strerror(ENOENT));
    TRY(orc);
    if (fsize > (uint64_t)SIZE_MAX) {
        close(fd);
        return ypr__error(YPR_EIO, "%s: file too large to map", path);
    }
    size_t size = (size_t)fsize;
    ypr_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        close(fd);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", path);
    }
    const void *buf = "";
    if (size > 0) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            st->map = m;
            st->maplen = size;
            buf = m;
        } else {
            int rc = read_all(fd, path, size, &st->owned);
            if (rc < 0) {
                close(fd);
                free(st);
                return rc;
            }
            buf = st->owned;
        }
    }
    close(fd);
    int rc = parse_header(buf, size, path, st);
    if (rc < 0) {
        ypr__st_close(st);
        return rc;
    }
    *out = st;
    return YPR_OK;
}

/* ------------------------------------------------------------- accessors */

size_t ypr__st_count(const ypr_safetensors *st)
{
    return st ? st->n : 0;
}

const ypr_st_tensor *ypr__st_at(const ypr_safetensors *st, size_t i)
{
    return st && i < st->n ? &st->t[i] : NULL;
}

const ypr_st_tensor *ypr__st_find(const ypr_safetensors *st, const char *name)
{
    if (!st || !name)
        return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ypr_st_tensor *t = &st->t[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0)
            return t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Metadata is kept sorted by key; ypr__st_meta_key(i) follows that order. */
const char *ypr__st_meta(const ypr_safetensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    size_t lo = 0, hi = st->nmeta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, st->meta[2 * mid]);
        if (c == 0)
            return st->meta[2 * mid + 1];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t ypr__st_meta_count(const ypr_safetensors *st)
{
    return st ? st->nmeta : 0;
}

const char *ypr__st_meta_key(const ypr_safetensors *st, size_t i)
{
    return st && i < st->nmeta ? st->meta[2 * i] : NULL;
}

/* ------------------------------------------------------------ conversion */

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (uint32_t)(h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | mant << 13;     /* inf, NaN (payload kept) */
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | mant << 13;
    } else if (mant == 0) {
        bits = sign;                                /* ±0 */
    } else {
        /* subnormal mant·2^-24: normalize to 1.f·2^(-14-k) */
        uint32_t k = 0;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            k++;
        }
        bits = sign | (113 - k) << 23 | (mant & 0x3FFu) << 13;
    }
    return bits_f32(bits);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#  define ST_HOST_LE 1
#else
#  define ST_HOST_LE 0
#endif

int ypr__st_to_f32(const ypr_st_tensor *t, float *dst)
{
    RETURN_IF(!t, YPR_EINVAL, "safetensors: NULL tensor");
    RETURN_IF(!dst && t->numel > 0, YPR_EINVAL, "tensor '%s': NULL destination", t->name);
    const unsigned char *p = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case YPR_DT_F32:
        if (ST_HOST_LE) {
            if (n)
                memcpy(dst, p, n * 4);
        } else {
            for (size_t i = 0; i < n; i++, p += 4)
                dst[i] = bits_f32((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                                  (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        }
        return YPR_OK;
    case YPR_DT_F16:
        for (size_t i = 0; i < n; i++, p += 2)
            dst[i] = f16_to_f32((uint16_t)(p[0] | p[1] << 8));
        return YPR_OK;
    case YPR_DT_BF16:
        for (size_t i = 0; i < n; i++, p += 2)
            dst[i] = bits_f32((uint32_t)p[0] << 16 | (uint32_t)p[1] << 24);
        return YPR_OK;
    case YPR_DT_F64:
        for (size_t i = 0; i < n; i++, p += 8) {
            uint64_t u = le64(p);
            double d;
            memcpy(&d, &u, sizeof d);
            dst[i] = (float)d;
        }
        return YPR_OK;
    default:
        return ypr__error(YPR_EUNSUPPORTED, "tensor '%s': dtype %s is not floating point",
                          t->name ? t->name : "?",
                          t->dtype >= 0 && t->dtype < YPR_DT_COUNT_ ? dt_names[t->dtype] : "?");
    }
}

int ypr__st_to_int(const ypr_st_tensor *t, int dtype, void *dst)
{
    RETURN_IF(!t, YPR_EINVAL, "safetensors: NULL tensor");
    RETURN_IF(!dst && t->numel > 0, YPR_EINVAL, "tensor '%s': NULL destination", t->name);
    RETURN_IF(t->dtype != dtype || (dtype != YPR_DT_I8 && dtype != YPR_DT_I32), YPR_EUNSUPPORTED,
              "tensor '%s': dtype %s where %s was expected", t->name ? t->name : "?",
              t->dtype >= 0 && t->dtype < YPR_DT_COUNT_ ? dt_names[t->dtype] : "?",
              dtype >= 0 && dtype < YPR_DT_COUNT_ ? dt_names[dtype] : "?");
    const unsigned char *p = t->data;
    size_t n = (size_t)t->numel;
    if (dtype == YPR_DT_I8) {
        if (n)
            memcpy(dst, p, n);
        return YPR_OK;
    }
    int32_t *o = dst;
    for (size_t i = 0; i < n; i++, p += 4)   /* little-endian, whatever the host */
        o[i] = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24);
    return YPR_OK;
}

/* --------------------------------------------------------------- writing */

int ypr__st_write(const char *path, const ypr_st_entry *entries, size_t n,
                  const char *const *meta_kv, size_t nmeta)
{
    RETURN_IF(!path || !*path, YPR_EINVAL, "safetensors write: empty file name");
    RETURN_IF(!entries && n, YPR_EINVAL, "%s: NULL entries", path);
    RETURN_IF(!meta_kv && nmeta, YPR_EINVAL, "%s: NULL metadata", path);

    int64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    name_ix *names = calloc(n ? n : 1, sizeof *names);
    name_ix *mkeys = calloc(nmeta ? nmeta : 1, sizeof *mkeys);
    if (!sizes || !names || !mkeys) {
        free(sizes);
        free(names);
        free(mkeys);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", path);
    }
    int rc = YPR_OK;
    char nb[80];
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr_atomic_file af;
    memset(&af, 0, sizeof af);

    for (size_t i = 0; i < n && rc == YPR_OK; i++) {
        const ypr_st_entry *e = &entries[i];
        int64_t numel = 1;
        if (!e->name || !*e->name) {
            rc = ypr__error(YPR_EINVAL, "%s: entry %zu has no name", path, i);
        } else if (strcmp(e->name, "__metadata__") == 0) {
            rc = ypr__error(YPR_EINVAL, "%s: entry %zu: '__metadata__' is reserved", path, i);
        } else if (e->dtype < 0 || e->dtype >= YPR_DT_COUNT_) {
            rc = ypr__error(YPR_EINVAL, "%s: tensor '%s': invalid dtype %d", path,
                            ypr__shown(e->name, SIZE_MAX, nb), e->dtype);
        } else if (e->ndim < 0 || e->ndim > YPR_ST_MAX_DIMS || (e->ndim > 0 && !e->shape)) {
            rc = ypr__error(YPR_EINVAL, "%s: tensor '%s': invalid shape (ndim %d)", path,
                            ypr__shown(e->name, SIZE_MAX, nb), e->ndim);
        } else {
            for (int d = 0; d < e->ndim && rc == YPR_OK; d++)
                if (ypr__mul_size(numel, e->shape[d], &numel) != 0)
                    rc = ypr__error(YPR_EINVAL, "%s: tensor '%s': negative or overflowing shape",
                                    path, ypr__shown(e->name, SIZE_MAX, nb));
            if (rc == YPR_OK && ypr__mul_size(numel, dt_sizes[e->dtype], &sizes[i]) != 0)
                rc = ypr__error(YPR_EINVAL, "%s: tensor '%s': byte size overflows", path,
                                ypr__shown(e->name, SIZE_MAX, nb));
            if (rc == YPR_OK && sizes[i] > 0 && !e->data)
                rc = ypr__error(YPR_EINVAL, "%s: tensor '%s': NULL data", path,
                                ypr__shown(e->name, SIZE_MAX, nb));
        }
        names[i].name = e->name;
        names[i].ix = i;
    }
    if (rc == YPR_OK) {
        qsort(names, n, sizeof *names, cmp_name_ix);
        for (size_t i = 1; i < n && rc == YPR_OK; i++)
            if (strcmp(names[i - 1].name, names[i].name) == 0)
                rc = ypr__error(YPR_EINVAL, "%s: duplicate tensor name '%s'", path,
                                ypr__shown(names[i].name, SIZE_MAX, nb));
    }
    for (size_t m = 0; m < nmeta && rc == YPR_OK; m++) {
        if (!meta_kv[2 * m] || !meta_kv[2 * m + 1])
            rc = ypr__error(YPR_EINVAL, "%s: metadata pair %zu has a NULL key or value", path, m);
        mkeys[m].name = meta_kv[2 * m];
        mkeys[m].ix = m;
    }
    if (rc == YPR_OK) {
        qsort(mkeys, nmeta, sizeof *mkeys, cmp_name_ix);
        for (size_t m = 1; m < nmeta && rc == YPR_OK; m++)
            if (strcmp(mkeys[m - 1].name, mkeys[m].name) == 0)
                rc = ypr__error(YPR_EINVAL, "%s: duplicate metadata key '%s'", path,
                                ypr__shown(mkeys[m].name, SIZE_MAX, nb));
    }
    if (rc < 0)
        goto out;

    /* header */
    ypr__sb_puts(&sb, "{");
    if (nmeta) {
        ypr__sb_puts(&sb, "\"__metadata__\":{");
        for (size_t m = 0; m < nmeta; m++) {
            if (m)
                ypr__sb_puts(&sb, ",");
            ypr__sb_json_str(&sb, meta_kv[2 * m]);
            ypr__sb_puts(&sb, ":");
            ypr__sb_json_str(&sb, meta_kv[2 * m + 1]);
        }
        ypr__sb_puts(&sb, "}");
    }
    int64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const ypr_st_entry *e = &entries[i];
        if (nmeta || i)
            ypr__sb_puts(&sb, ",");
        ypr__sb_json_str(&sb, e->name);
        ypr__sb_printf(&sb, ":{\"dtype\":\"%s\",\"shape\":[", dt_names[e->dtype]);
        for (int d = 0; d < e->ndim; d++)
            ypr__sb_printf(&sb, d ? ",%lld" : "%lld", (long long)e->shape[d]);
        if (sizes[i] > INT64_MAX - off) {
            rc = ypr__error(YPR_EINVAL, "%s: total data size overflows", path);
            goto out;
        }
        ypr__sb_printf(&sb, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                       (long long)(off + sizes[i]));
        off += sizes[i];
    }
    ypr__sb_puts(&sb, "}");
    while ((8 + sb.len) % 8 != 0)                  /* data starts 8-aligned */
        ypr__sb_puts(&sb, " ");
    if (sb.failed) {
        rc = ypr__error(YPR_ENOMEM, "%s: out of memory building the header", path);
        goto out;
    }

    rc = ypr__afile_open(&af, path);
    if (rc < 0)
        goto out;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)((uint64_t)sb.len >> (8 * i));
    FILE *fp = af.fp;
    int bad = fwrite(lenb, 1, 8, fp) != 8 || fwrite(sb.data, 1, sb.len, fp) != sb.len;
    for (size_t i = 0; i < n && !bad; i++)
        if (sizes[i] > 0)
            bad = fwrite(entries[i].data, 1, (size_t)sizes[i], fp) != (size_t)sizes[i];
    if (bad) {
        int e = errno;
        ypr__afile_abort(&af);
        rc = ypr__error(YPR_EIO, "%s: write failed: %s", path, strerror(e));
        goto out;
    }
    rc = ypr__afile_commit(&af);

out:
    ypr__sb_free(&sb);
    free(sizes);
    free(names);
    free(mkeys);
    return rc;
}
