/* ZIP archives, read-only, as torch.save (≥ 1.6) writes them: the central
 * directory is the truth (torch's local headers carry zero sizes and a
 * data descriptor), entries are stored or deflated (zlib, raw), every read
 * is CRC-32 checked.
 *
 * Decisions (the limits are in io.h):
 *  - the end-of-central-directory record is searched in the last 64 KiB + 22
 *    bytes; its comment must end exactly at the end of the file;
 *  - a zip64 end record (torch always writes one) is read when its locator
 *    sits right before the end record; where the classic record is not
 *    saturated (0xFFFF / 0xFFFFFFFF) both must agree; counts, sizes and
 *    offsets past the limits are refused (zip64 beyond our limits);
 *  - single-disk archives only; encrypted entries and methods other than
 *    stored (0) and deflate (8) are YPR_EUNSUPPORTED;
 *  - the local header must carry the central name and method, its sizes
 *    must agree unless bit 3 (data descriptor) defers them; entries may not
 *    overlap each other nor the central directory; names are unique and
 *    hold no NUL byte;
 *  - a deflated entry may not claim more than deflate can produce from its
 *    compressed size (1032:1), so a lying header cannot make us allocate;
 *    it must inflate to exactly its declared size, using exactly its
 *    compressed bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "io.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define DEFLATE_MAX_RATIO 1032

struct ypr_zip {
    ypr_zip_entry *e;
    size_t n;
    size_t *by_name;        /* indices sorted by name */
    char *names;            /* arena */
    const unsigned char *buf;
    size_t len;
    void *map;
    size_t maplen;
    void *owned;
    char what[256];
};

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

void ypr__zip_close(ypr_zip *z)
{
    if (!z)
        return;
    if (z->map)
        munmap(z->map, z->maplen);
    free(z->owned);
    free(z->e);
    free(z->by_name);
    free(z->names);
    free(z);
}

/* ------------------------------------------------------------- the end */

typedef struct eocd {
    uint64_t entries, cd_size, cd_off;
    uint64_t end;           /* where the central directory must end */
} eocd;

static int find_eocd(const ypr_zip *z, size_t *at)
{
    const unsigned char *b = z->buf;
    size_t len = z->len;
    RETURN_IF(len < 22, YPR_EFORMAT, "%s: %zu bytes: too short for a ZIP archive", z->what, len);
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;) {
        if (rd32(b + i) == SIG_EOCD && i + 22 + rd16(b + i + 20) == len) {
            *at = i;
            return YPR_OK;
        }
    }
    if (rd32(b) == SIG_LOCAL)
        return ypr__error(YPR_EFORMAT, "%s: ZIP archive without its end record (truncated?)",
                          z->what);
    return ypr__error(YPR_EFORMAT, "%s: not a ZIP archive (no end of central directory)",
                      z->what);
}

static int read_end(const ypr_zip *z, eocd *e)
{
    size_t at = 0;
    TRY(find_eocd(z, &at));
    const unsigned char *p = z->buf + at;
    uint32_t disk = rd16(p + 4), cd_disk = rd16(p + 6), n_disk = rd16(p + 8), n = rd16(p + 10);
    uint32_t cd_size = rd32(p + 12), cd_off = rd32(p + 16);
    e->entries = n;
    e->cd_size = cd_size;
    e->cd_off = cd_off;
    e->end = at;
    int sat = n == 0xFFFF || n_disk == 0xFFFF || cd_size == 0xFFFFFFFFu ||
              cd_off == 0xFFFFFFFFu || disk == 0xFFFF || cd_disk == 0xFFFF;
    int has_loc = at >= 20 && rd32(z->buf + at - 20) == SIG_LOC64;
    if (!has_loc) {
        RETURN_IF(sat, YPR_EFORMAT, "%s: zip64 values announced but no zip64 end record",
                  z->what);
    } else {
        const unsigned char *l = z->buf + at - 20;
        uint64_t off64 = rd64(l + 8);
        RETURN_IF(rd32(l + 4) != 0 || rd32(l + 16) > 1, YPR_EUNSUPPORTED,
                  "%s: multi-disk ZIP archives are not supported", z->what);
        RETURN_IF(off64 > at - 20 || at - 20 - off64 < 56, YPR_EFORMAT,
                  "%s: zip64 end record offset %llu is outside the archive", z->what,
                  (unsigned long long)off64);
        const unsigned char *q = z->buf + off64;
        RETURN_IF(rd32(q) != SIG_EOCD64, YPR_EFORMAT, "%s: bad zip64 end record signature",
                  z->what);
        uint64_t n64 = rd64(q + 32), nd64 = rd64(q + 24), sz64 = rd64(q + 40), of64 = rd64(q + 48);
        RETURN_IF(rd32(q + 16) != 0 || rd32(q + 20) != 0 || nd64 != n64, YPR_EUNSUPPORTED,
                  "%s: multi-disk ZIP archives are not supported", z->what);
        RETURN_IF((n != 0xFFFF && n != n64) || (cd_size != 0xFFFFFFFFu && cd_size != sz64) ||
                  (cd_off != 0xFFFFFFFFu && cd_off != of64), YPR_EFORMAT,
                  "%s: the zip64 end record disagrees with the end record", z->what);
        RETURN_IF(n64 > YPR_ZIP_MAX_ENTRIES, YPR_EUNSUPPORTED,
                  "%s: zip64 archive of %llu entries (this reader takes at most %d)", z->what,
                  (unsigned long long)n64, YPR_ZIP_MAX_ENTRIES);
        e->entries = n64;
        e->cd_size = sz64;
        e->cd_off = of64;
        e->end = off64;
        disk = cd_disk = 0;
    }
    RETURN_IF(disk != 0 || cd_disk != 0 || (!has_loc && n_disk != n), YPR_EUNSUPPORTED,
              "%s: multi-disk ZIP archives are not supported", z->what);
    RETURN_IF(e->cd_off > e->end || e->cd_size != e->end - e->cd_off, YPR_EFORMAT,
              "%s: central directory [%llu, +%llu) does not end where the end record starts "
              "(%llu)", z->what, (unsigned long long)e->cd_off, (unsigned long long)e->cd_size,
              (unsigned long long)e->end);
    RETURN_IF(e->entries > e->cd_size / 46, YPR_EFORMAT,
              "%s: %llu entries cannot fit a central directory of %llu bytes", z->what,
              (unsigned long long)e->entries, (unsigned long long)e->cd_size);
    return YPR_OK;
}

/* --------------------------------------------------- central directory */

/* The zip64 extended-information extra field: the 64-bit values of the
 * saturated 32-bit fields, in this order. */
static int zip64_extra(const ypr_zip *z, const unsigned char *x, size_t xlen, uint64_t *usize,
                       uint64_t *csize, uint64_t *loff, const char *name)
{
    char nb[80];
    int need_u = *usize == 0xFFFFFFFFu, need_c = *csize == 0xFFFFFFFFu,
        need_o = *loff == 0xFFFFFFFFu;
    while (xlen >= 4) {
        uint32_t id = rd16(x), sz = rd16(x + 2);
        RETURN_IF(sz > xlen - 4, YPR_EFORMAT, "%s: entry %s: extra field overruns its header",
                  z->what, ypr__shown(name, SIZE_MAX, nb));
        if (id == 0x0001) {
            const unsigned char *v = x + 4;
            uint32_t left = sz;
            uint64_t *dst[3] = {need_u ? usize : NULL, need_c ? csize : NULL,
                                need_o ? loff : NULL};
            for (int k = 0; k < 3; k++) {
                if (!dst[k])
                    continue;
                RETURN_IF(left < 8, YPR_EFORMAT, "%s: entry %s: zip64 extra field too short",
                          z->what, ypr__shown(name, SIZE_MAX, nb));
                *dst[k] = rd64(v);
                v += 8;
                left -= 8;
            }
            need_u = need_c = need_o = 0;
        }
        x += 4 + sz;
        xlen -= 4 + sz;
    }
    RETURN_IF(need_u || need_c || need_o, YPR_EFORMAT,
              "%s: entry %s: zip64 sizes announced but no zip64 extra field", z->what,
              ypr__shown(name, SIZE_MAX, nb));
    return YPR_OK;
}

typedef struct name_ix { const char *name; size_t ix; } name_ix;
typedef struct off_ix { uint64_t begin, end; size_t ix; } off_ix;

static int cmp_name(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->ix > y->ix) - (x->ix < y->ix);
}

static int cmp_off(const void *a, const void *b)
{
    const off_ix *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* One central header at *pos: fill e (its name copied to *sp). */
static int central_entry(ypr_zip *z, const eocd *end, size_t *pos, ypr_zip_entry *e, char **sp,
                         uint64_t *loff)
{
    const unsigned char *b = z->buf;
    size_t p = *pos, cd_end = (size_t)(end->cd_off + end->cd_size);
    RETURN_IF(cd_end - p < 46 || rd32(b + p) != SIG_CENTRAL, YPR_EFORMAT,
              "%s: central directory entry %zu at byte %zu is damaged", z->what,
              (size_t)(e - z->e), p);
    uint32_t flags = rd16(b + p + 8), method = rd16(b + p + 10);
    uint32_t nlen = rd16(b + p + 28), xlen = rd16(b + p + 30), clen = rd16(b + p + 32);
    RETURN_IF(cd_end - p - 46 < (size_t)nlen + xlen + clen, YPR_EFORMAT,
              "%s: central directory entry %zu overruns the directory", z->what,
              (size_t)(e - z->e));
    const char *name = (const char *)b + p + 46;
    RETURN_IF(memchr(name, 0, nlen) != NULL, YPR_EFORMAT,
              "%s: entry %zu: name holds a NUL byte", z->what, (size_t)(e - z->e));
    memcpy(*sp, name, nlen);
    (*sp)[nlen] = 0;
    e->name = *sp;
    *sp += nlen + 1;
    char nb[80];
    RETURN_IF(flags & 0x41, YPR_EUNSUPPORTED, "%s: entry %s is encrypted", z->what,
              ypr__shown(e->name, SIZE_MAX, nb));
    RETURN_IF(method != 0 && method != 8, YPR_EUNSUPPORTED,
              "%s: entry %s: compression method %u (only stored and deflate)", z->what,
              ypr__shown(e->name, SIZE_MAX, nb), method);
    RETURN_IF(rd16(b + p + 34) != 0 && rd16(b + p + 34) != 0xFFFF, YPR_EUNSUPPORTED,
              "%s: multi-disk ZIP archives are not supported", z->what);
    e->method = (int)method;
    e->crc = rd32(b + p + 16);
    e->csize = rd32(b + p + 20);
    e->usize = rd32(b + p + 24);
    *loff = rd32(b + p + 42);
    TRY(zip64_extra(z, b + p + 46 + nlen, xlen, &e->usize, &e->csize, loff, e->name));
    RETURN_IF(e->usize > YPR_ZIP_MAX_ENTRY_BYTES || e->csize > YPR_ZIP_MAX_ENTRY_BYTES,
              YPR_EUNSUPPORTED, "%s: entry %s: %llu bytes (%llu compressed): larger than this "
              "reader's limit of %llu", z->what, ypr__shown(e->name, SIZE_MAX, nb),
              (unsigned long long)e->usize, (unsigned long long)e->csize,
              (unsigned long long)YPR_ZIP_MAX_ENTRY_BYTES);
    RETURN_IF(method == 0 && e->csize != e->usize, YPR_EFORMAT,
              "%s: stored entry %s: compressed size %llu differs from its size %llu", z->what,
              ypr__shown(e->name, SIZE_MAX, nb), (unsigned long long)e->csize,
              (unsigned long long)e->usize);
    RETURN_IF(method == 8 && e->usize > e->csize * DEFLATE_MAX_RATIO + 64, YPR_EFORMAT,
              "%s: entry %s claims %llu bytes from %llu compressed bytes, more than deflate can "
              "produce", z->what, ypr__shown(e->name, SIZE_MAX, nb), (unsigned long long)e->usize,
              (unsigned long long)e->csize);
    *pos = p + 46 + nlen + xlen + clen;
    return YPR_OK;
}

/* The local header at loff must agree with the central entry. */
static int local_header(const ypr_zip *z, const eocd *end, ypr_zip_entry *e, uint64_t loff)
{
    char nb[80];
    const unsigned char *b = z->buf;
    RETURN_IF(loff > end->cd_off || end->cd_off - loff < 30 || rd32(b + loff) != SIG_LOCAL,
              YPR_EFORMAT, "%s: entry %s: no local header at byte %llu", z->what,
              ypr__shown(e->name, SIZE_MAX, nb), (unsigned long long)loff);
    const unsigned char *l = b + loff;
    uint32_t flags = rd16(l + 6), method = rd16(l + 8), nlen = rd16(l + 26), xlen = rd16(l + 28);
    uint64_t data = loff + 30 + nlen + xlen;
    RETURN_IF(data > end->cd_off || end->cd_off - data < e->csize, YPR_EFORMAT,
              "%s: entry %s: %llu bytes of data at byte %llu run past the archive's data",
              z->what, ypr__shown(e->name, SIZE_MAX, nb), (unsigned long long)e->csize,
              (unsigned long long)data);
    RETURN_IF(nlen != strlen(e->name) || memcmp(l + 30, e->name, nlen) != 0, YPR_EFORMAT,
              "%s: entry %s: the local header names another file", z->what, ypr__shown(e->name,
              SIZE_MAX, nb));
    RETURN_IF(method != (uint32_t)e->method, YPR_EFORMAT,
              "%s: entry %s: local and central headers disagree on the method", z->what,
              ypr__shown(e->name, SIZE_MAX, nb));
    if (!(flags & 0x08)) {
        uint64_t cs = rd32(l + 18), us = rd32(l + 22);
        int z64 = cs == 0xFFFFFFFFu || us == 0xFFFFFFFFu;
        RETURN_IF(!z64 && (cs != e->csize || us != e->usize || rd32(l + 14) != e->crc),
                  YPR_EFORMAT, "%s: entry %s: local header sizes/CRC (%llu, %llu) disagree with "
                  "the central directory (%llu, %llu)", z->what, ypr__shown(e->name, SIZE_MAX, nb),
                  (unsigned long long)cs, (unsigned long long)us,
                  (unsigned long long)e->csize, (unsigned long long)e->usize);
    }
    e->data_off = data;
    return YPR_OK;
}

static int parse(ypr_zip *z)
{
    eocd end;
    TRY(read_end(z, &end));
    size_t n = (size_t)end.entries;
    z->e = calloc(n ? n : 1, sizeof *z->e);
    z->by_name = calloc(n ? n : 1, sizeof *z->by_name);
    z->names = malloc((size_t)end.cd_size + 1);
    name_ix *names = calloc(n ? n : 1, sizeof *names);
    off_ix *offs = calloc(n ? n : 1, sizeof *offs);
    int rc = YPR_OK;
    if (!z->e || !z->by_name || !z->names || !names || !offs)
        rc = ypr__error(YPR_ENOMEM, "%s: out of memory", z->what);
    size_t pos = (size_t)end.cd_off;
    char *sp = z->names;
    for (size_t i = 0; rc == YPR_OK && i < n; i++) {
        uint64_t loff = 0;
        rc = central_entry(z, &end, &pos, &z->e[i], &sp, &loff);
        if (rc == YPR_OK)
            rc = local_header(z, &end, &z->e[i], loff);
        names[i] = (name_ix){z->e[i].name, i};
        offs[i] = (off_ix){loff, z->e[i].data_off + z->e[i].csize, i};
    }
    z->n = n;
    char nb[80];
    if (rc == YPR_OK && pos != end.cd_off + end.cd_size)
        rc = ypr__error(YPR_EFORMAT, "%s: %zu bytes after the %zu central directory entries",
                        z->what, (size_t)(end.cd_off + end.cd_size - pos), n);
    if (rc == YPR_OK) {
        qsort(names, n, sizeof *names, cmp_name);
        for (size_t i = 0; rc == YPR_OK && i < n; i++) {
            if (i && strcmp(names[i - 1].name, names[i].name) == 0)
                rc = ypr__error(YPR_EFORMAT, "%s: entry %s appears twice", z->what,
                                ypr__shown(names[i].name, SIZE_MAX, nb));
            z->by_name[i] = names[i].ix;
        }
    }
    if (rc == YPR_OK) {
        qsort(offs, n, sizeof *offs, cmp_off);
        for (size_t i = 1; rc == YPR_OK && i < n; i++)
            if (offs[i].begin < offs[i - 1].end)
                rc = ypr__error(YPR_EFORMAT, "%s: entries %s and %s overlap", z->what,
                                ypr__shown(z->e[offs[i - 1].ix].name, SIZE_MAX, nb),
                                z->e[offs[i].ix].name);
    }
    free(names);
    free(offs);
    return rc;
}

/* ------------------------------------------------------------- opening */

static int open_buf(ypr_zip *z)
{
    int rc = parse(z);
    if (rc < 0)
        ypr__zip_close(z);
    return rc;
}

int ypr__zip_open_mem(const void *buf, size_t len, const char *what, ypr_zip **out)
{
    RETURN_IF(!out, YPR_EINVAL, "zip: NULL output");
    *out = NULL;
    RETURN_IF(!buf && len, YPR_EINVAL, "zip: NULL buffer");
    ypr_zip *z = calloc(1, sizeof *z);
    RETURN_IF(!z, YPR_ENOMEM, "zip: out of memory");
    snprintf(z->what, sizeof z->what, "%s", what ? what : "<memory>");
    z->buf = buf ? buf : (const void *)"";
    z->len = len;
    TRY(open_buf(z));
    *out = z;
    return YPR_OK;
}

int ypr__zip_open(const char *path, ypr_zip **out)
{
    RETURN_IF(!out, YPR_EINVAL, "zip: NULL output");
    *out = NULL;
    int fd;
    uint64_t size;
    TRY(ypr__file_open_fd(path, &fd, &size));
    if (size > (uint64_t)SIZE_MAX || size > YPR_ZIP_MAX_BYTES) {
        close(fd);
        return ypr__error(YPR_EUNSUPPORTED, "%s: %llu bytes: larger than this reader's limit "
                          "of %llu", path, (unsigned long long)size,
                          (unsigned long long)YPR_ZIP_MAX_BYTES);
    }
    ypr_zip *z = calloc(1, sizeof *z);
    if (!z) {
        close(fd);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", path);
    }
    snprintf(z->what, sizeof z->what, "%s", path);
    z->buf = (const void *)"";
    z->len = (size_t)size;
    if (size) {
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(z);
            return ypr__error(YPR_EIO, "%s: cannot map: %s", path, strerror(e));
        }
        z->map = m;
        z->maplen = (size_t)size;
        z->buf = m;
    }
    close(fd);
    TRY(open_buf(z));
    *out = z;
    return YPR_OK;
}

/* ------------------------------------------------------------ accessors */

size_t ypr__zip_count(const ypr_zip *z) { return z ? z->n : 0; }

const ypr_zip_entry *ypr__zip_at(const ypr_zip *z, size_t i)
{
    return z && i < z->n ? &z->e[i] : NULL;
}

const char *ypr__zip_what(const ypr_zip *z) { return z ? z->what : "?"; }

long ypr__zip_find(const ypr_zip *z, const char *name)
{
    if (!z || !name)
        return -1;
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, z->e[z->by_name[mid]].name);
        if (c == 0)
            return (long)z->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static int inflate_entry(const ypr_zip *z, const ypr_zip_entry *e, unsigned char *dst)
{
    char nb[80];
    z_stream s;
    memset(&s, 0, sizeof s);
    RETURN_IF(inflateInit2(&s, -15) != Z_OK, YPR_ENOMEM, "%s: zlib: cannot start inflating",
              z->what);
    s.next_in = (Bytef *)(z->buf + e->data_off);
    s.avail_in = (uInt)e->csize;
    s.next_out = dst;
    s.avail_out = (uInt)e->usize;
    int r = inflate(&s, Z_FINISH);
    int rc = YPR_OK;
    if (r == Z_STREAM_END) {
        if (s.total_out != e->usize)
            rc = ypr__error(YPR_EFORMAT, "%s: entry %s inflates to only %llu of its declared "
                            "%llu bytes", z->what, ypr__shown(e->name, SIZE_MAX, nb),
                            (unsigned long long)s.total_out, (unsigned long long)e->usize);
        else if (s.avail_in != 0)
            rc = ypr__error(YPR_EFORMAT, "%s: entry %s: deflate data ends %u bytes before its "
                            "compressed size", z->what, ypr__shown(e->name, SIZE_MAX, nb),
                            s.avail_in);
    } else if (r == Z_DATA_ERROR) {
        rc = ypr__error(YPR_EFORMAT, "%s: entry %s: corrupt deflate data (%s)", z->what,
                        ypr__shown(e->name, SIZE_MAX, nb), s.msg ? s.msg : "zlib");
    } else if (s.avail_out == 0) {
        rc = ypr__error(YPR_EFORMAT, "%s: entry %s inflates to more than its declared %llu "
                        "bytes", z->what, ypr__shown(e->name, SIZE_MAX, nb),
                        (unsigned long long)e->usize);
    } else if (r == Z_MEM_ERROR) {
        rc = ypr__error(YPR_ENOMEM, "%s: zlib: out of memory", z->what);
    } else {
        rc = ypr__error(YPR_EFORMAT, "%s: entry %s: deflate data truncated (%llu of %llu bytes "
                        "inflated)", z->what, ypr__shown(e->name, SIZE_MAX, nb),
                        (unsigned long long)s.total_out, (unsigned long long)e->usize);
    }
    inflateEnd(&s);
    return rc;
}

int ypr__zip_read(const ypr_zip *z, size_t i, const void **data, size_t *len, void **owned)
{
    RETURN_IF(!z || !data || !len || !owned, YPR_EINVAL, "zip: NULL argument");
    *data = NULL;
    *len = 0;
    *owned = NULL;
    RETURN_IF(i >= z->n, YPR_ERANGE, "%s: no entry %zu", z->what, i);
    const ypr_zip_entry *e = &z->e[i];
    const unsigned char *p = z->buf + e->data_off;
    unsigned char *buf = NULL;
    if (e->method == 8) {
        buf = malloc(e->usize ? (size_t)e->usize : 1);
        RETURN_IF(!buf, YPR_ENOMEM, "%s: out of memory (%llu bytes)", z->what,
                  (unsigned long long)e->usize);
        int rc = inflate_entry(z, e, buf);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        p = buf;
    }
    uint32_t crc = crc_of(p, (size_t)e->usize);
    if (crc != e->crc) {
        char nb[80];
        free(buf);
        return ypr__error(YPR_EFORMAT, "%s: entry %s: CRC-32 %08x, the directory says %08x "
                          "(corrupt data)", z->what, ypr__shown(e->name, SIZE_MAX, nb), crc,
                          e->crc);
    }
    *data = p;
    *len = (size_t)e->usize;
    *owned = buf;
    return YPR_OK;
}
