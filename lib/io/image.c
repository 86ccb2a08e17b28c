/* Image decoding (JPEG through libjpeg-turbo, PNG through libpng) to
 * interleaved RGB8, PNG writing and JPEG encoding.
 *
 * Both libraries report fatal errors by calling a hook that must not return;
 * ours record the message and longjmp back to the function that called
 * setjmp. That function (the *_run helpers below) works only through a
 * context struct owned by its caller, so nothing that is local to the
 * setjmp frame is read after a longjmp, and the caller frees whatever the
 * context holds on every path. Nothing here prints: library warnings go to
 * ypr__log at YPR_LOG_DEBUG, except those that mean lost pixels, which are
 * errors. The limits (io.h) are checked before any pixel buffer exists. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "io.h"

#define PNG_MSG_LEN 256
#define PNG_CHUNK_CACHE 128         /* stored ancillary chunks (sPLT…) at most */

static const uint8_t jpeg_magic[3] = {0xFF, 0xD8, 0xFF};
static const uint8_t png_magic[8] = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A};

static int dims_ok(int64_t w, int64_t h)
{
    return w >= 1 && h >= 1 && w <= YPR_IMAGE_MAX_SIDE && h <= YPR_IMAGE_MAX_SIDE &&
           w * h <= YPR_IMAGE_MAX_PIXELS;
}

int ypr__image_check_header(const char *what, int kind, int64_t w, int64_t h,
                            int bits_per_pixel, uint64_t file_bytes)
{
    const char *fmt = kind == YPR_IMG_PNG ? "PNG" : "JPEG";
    RETURN_IF(!dims_ok(w, h), YPR_ERANGE,
              "%s: %s size %lldx%lld out of range (at most %d per side and 2^28 pixels)", what,
              fmt, (long long)w, (long long)h, YPR_IMAGE_MAX_SIDE);
    if (kind == YPR_IMG_JPEG) {
        /* w·h ≤ 2^28 and file_bytes < 2^63 / 1024 for any real file */
        uint64_t cap = file_bytes > (UINT64_MAX >> 11)
                           ? UINT64_MAX
                           : file_bytes * YPR_JPEG_MAX_PIXELS_PER_BYTE;
        RETURN_IF((uint64_t)(w * h) > cap, YPR_EFORMAT,
                  "%s: JPEG header claims %lldx%lld pixels, more than its %llu bytes can hold "
                  "(at most %d pixels per byte): truncated or forged header", what,
                  (long long)w, (long long)h, (unsigned long long)file_bytes,
                  YPR_JPEG_MAX_PIXELS_PER_BYTE);
    } else if (kind == YPR_IMG_PNG) {
        /* a row is one filter byte and ceil(w·bpp / 8) sample bytes */
        int64_t bpp = bits_per_pixel > 0 ? bits_per_pixel : 1;
        uint64_t raw = (uint64_t)h * (1 + ((uint64_t)w * (uint64_t)bpp + 7) / 8);
        uint64_t cap = file_bytes > (UINT64_MAX >> 11) ? UINT64_MAX
                                                       : file_bytes * YPR_PNG_MAX_INFLATE;
        RETURN_IF(raw > cap, YPR_EFORMAT,
                  "%s: PNG header claims %lldx%lld pixels (%llu bytes of rows), more than its "
                  "%llu bytes can inflate to (at most %d:1): truncated or forged header", what,
                  (long long)w, (long long)h, (unsigned long long)raw,
                  (unsigned long long)file_bytes, YPR_PNG_MAX_INFLATE);
    }
    return YPR_OK;
}

int ypr__image_alloc(ypr_image *img, int w, int h)
{
    RETURN_IF(!img, YPR_EINVAL, "image_alloc: NULL image");
    memset(img, 0, sizeof *img);
    RETURN_IF(!dims_ok(w, h), YPR_ERANGE,
              "image size %dx%d out of range (1..%d per side, at most 2^28 pixels)",
              w, h, YPR_IMAGE_MAX_SIDE);
    uint8_t *p = ypr__calloc((size_t)w * (size_t)h, 3);
    if (!p)
        return YPR_ENOMEM;
    img->w = w;
    img->h = h;
    img->rgb = p;
    return YPR_OK;
}

void ypr__image_free(ypr_image *img)
{
    if (!img)
        return;
    ypr__free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* ------------------------------------------------------------- libjpeg */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;      /* first: libjpeg casts cinfo->err to us */
    jmp_buf jb;
    int code;                       /* YPR_EFORMAT, or YPR_ENOMEM */
    const char *what;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_err_exit(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    c->err->format_message(c, e->msg);
    e->code = c->err->msg_code == JERR_OUT_OF_MEMORY ? YPR_ENOMEM : YPR_EFORMAT;
    longjmp(e->jb, 1);
}

/* Warnings that mean lost pixels: libjpeg repairs them by padding the
 * picture with grey (or zero coefficients) and reports success. */
static int jpeg_warning_loses_data(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:             /* premature end of the file */
    case JWRN_HIT_MARKER:           /* premature end of a data segment */
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:          /* restart marker lost: rows skipped */
    case JWRN_BOGUS_PROGRESSION:    /* coefficients missing or sent twice */
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_TOO_MUCH_DATA:
        return 1;
    default:
        return 0;
    }
}

/* Warnings (level < 0) are counted and logged; those that lose pixels are
 * fatal. Junk bytes before a marker (JWRN_EXTRANEOUS_DATA) and metadata
 * warnings decode the same picture and stay warnings. Trace messages
 * (level >= 0) are dropped. */
static void jpeg_err_emit(j_common_ptr c, int level)
{
    jpeg_err *e = (jpeg_err *)c->err;
    if (level >= 0)
        return;
    c->err->num_warnings++;
    if (jpeg_warning_loses_data(c->err->msg_code)) {
        c->err->format_message(c, e->msg);
        e->code = YPR_EFORMAT;
        longjmp(e->jb, 1);
    }
    if (c->err->num_warnings <= 8) {
        char buf[JMSG_LENGTH_MAX];
        c->err->format_message(c, buf);
        ypr__log(YPR_LOG_DEBUG, "%s: JPEG warning: %s", e->what ? e->what : "JPEG", buf);
    }
}

static void jpeg_err_output(j_common_ptr c)
{
    (void)c;                        /* never print */
}

static void jpeg_err_init(jpeg_err *e, const char *what)
{
    memset(e, 0, sizeof *e);
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_err_exit;
    e->pub.emit_message = jpeg_err_emit;
    e->pub.output_message = jpeg_err_output;
    e->code = YPR_EFORMAT;
    e->what = what;
}

typedef struct jpeg_dec {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    int created;
    const uint8_t *buf;
    size_t len;
    const char *what;
    uint8_t *pixels;
    int w, h;
} jpeg_dec;

/* 8-bit multiply with rounding: a·b/255. */
static inline uint8_t mul255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (uint8_t)((t + (t >> 8)) >> 8);
}

static int jpeg_dec_run(jpeg_dec *d)
{
    j_decompress_ptr ci = &d->cinfo;
    if (setjmp(d->err.jb))
        return ypr__error(d->err.code, "%s: corrupt JPEG: %s", d->what, d->err.msg);

    ci->err = &d->err.pub;
    d->created = 1;                 /* destroying a zeroed struct is a no-op */
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, d->buf, (unsigned long)d->len);
    if (jpeg_read_header(ci, TRUE) != JPEG_HEADER_OK)
        return ypr__error(YPR_EFORMAT, "%s: JPEG without an image", d->what);
    TRY(ypr__image_check_header(d->what, ci->arith_code ? YPR_IMG_JPEG_ARITH : YPR_IMG_JPEG,
                                ci->image_width, ci->image_height, 0, d->len));

    int cmyk = 0;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        ci->out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:                  /* libjpeg turns YCCK into CMYK */
        ci->out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        return ypr__error(YPR_EFORMAT, "%s: unsupported JPEG colour space (%d components)",
                          d->what, ci->num_components);
    }
    jpeg_start_decompress(ci);
    int w = (int)ci->output_width, h = (int)ci->output_height;
    if (w != (int)ci->image_width || h != (int)ci->image_height ||
        ci->output_components != (cmyk ? 4 : 3))
        return ypr__error(YPR_EFORMAT, "%s: unexpected JPEG output layout", d->what);

    d->pixels = ypr__alloc((size_t)w * (size_t)h * 3);
    if (!d->pixels)
        return YPR_ENOMEM;
    JSAMPARRAY tmp = NULL;
    if (cmyk)
        tmp = (*ci->mem->alloc_sarray)((j_common_ptr)ci, JPOOL_IMAGE, (JDIMENSION)w * 4, 1);
    /* Adobe (Photoshop) CMYK and every YCCK file store inverted ink values. */
    int inverted = ci->saw_Adobe_marker || ci->jpeg_color_space == JCS_YCCK;

    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = d->pixels + (size_t)ci->output_scanline * (size_t)w * 3;
        JSAMPROW row = cmyk ? tmp[0] : dst;
        if (jpeg_read_scanlines(ci, &row, 1) != 1)
            return ypr__error(YPR_EFORMAT, "%s: JPEG decoder stalled", d->what);
        if (cmyk) {
            const uint8_t *s = tmp[0];
            for (int x = 0; x < w; x++, s += 4, dst += 3) {
                unsigned c = s[0], m = s[1], y = s[2], k = s[3];
                if (!inverted) {
                    c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k;
                }
                /* now c, m, y, k are "amount of paper left": R = (1-C)(1-K) */
                dst[0] = mul255(c, k);
                dst[1] = mul255(m, k);
                dst[2] = mul255(y, k);
            }
        }
    }
    jpeg_finish_decompress(ci);     /* reads up to EOI: catches truncation */
    d->w = w;
    d->h = h;
    return YPR_OK;
}

static int decode_jpeg(const uint8_t *buf, size_t len, const char *what, ypr_image *out)
{
    jpeg_dec *d = calloc(1, sizeof *d);
    RETURN_IF(!d, YPR_ENOMEM, "%s: out of memory", what);
    d->buf = buf;
    d->len = len;
    d->what = what;
    jpeg_err_init(&d->err, what);
    int rc = jpeg_dec_run(d);
    if (d->created)
        jpeg_destroy_decompress(&d->cinfo);
    if (rc == YPR_OK) {
        out->w = d->w;
        out->h = d->h;
        out->rgb = d->pixels;
    } else {
        ypr__free(d->pixels);
    }
    free(d);
    return rc;
}

/* -------------------------------------------------------------- libpng */

/* What the libpng hooks see: the message buffer and the name to report. */
typedef struct png_msgs {
    char msg[PNG_MSG_LEN];
    const char *what;
} png_msgs;

typedef struct png_dec {
    png_msgs m;
    png_structp png;
    png_infop info;
    const uint8_t *buf;
    size_t len, pos;
    const char *what;
    uint8_t *pixels;
    png_bytep *rows;
    int w, h;
} png_dec;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_msgs *m = png_get_error_ptr(png);
    snprintf(m->msg, sizeof m->msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    png_msgs *m = png_get_error_ptr(png);
    ypr__log(YPR_LOG_DEBUG, "%s: PNG warning: %s", m->what, msg ? msg : "");
}

static void png_mem_read(png_structp png, png_bytep data, size_t n)
{
    png_dec *d = png_get_io_ptr(png);
    if (n > d->len - d->pos)
        png_error(png, "unexpected end of data (truncated file)");
    memcpy(data, d->buf + d->pos, n);
    d->pos += n;
}

/* libpng's allocator: no single block above YPR_PNG_MAX_ALLOC. A refused
 * block makes libpng fail (or, for an ancillary chunk, skip it). */
static png_voidp png_capped_malloc(png_structp png, png_alloc_size_t n)
{
    (void)png;
    return n <= YPR_PNG_MAX_ALLOC ? malloc(n) : NULL;
}

static void png_capped_free(png_structp png, png_voidp p)
{
    (void)png;
    free(p);
}

/* Ancillary chunks we never use, skipped without being stored. */
static const png_byte png_ignored_chunks[] = {
    'i', 'C', 'C', 'P', '\0', 'i', 'T', 'X', 't', '\0', 't', 'E', 'X', 't', '\0',
    'z', 'T', 'X', 't', '\0', 's', 'P', 'L', 'T', '\0', 'e', 'X', 'I', 'f', '\0',
};

static int png_dec_run(png_dec *d)
{
    d->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &d->m, png_on_error,
                                      png_on_warning, NULL, png_capped_malloc, png_capped_free);
    RETURN_IF(!d->png, YPR_ENOMEM, "%s: cannot create PNG reader", d->what);
    d->info = png_create_info_struct(d->png);
    RETURN_IF(!d->info, YPR_ENOMEM, "%s: cannot create PNG reader", d->what);
    if (setjmp(png_jmpbuf(d->png)))
        return ypr__error(YPR_EFORMAT, "%s: corrupt PNG: %s", d->what, d->m.msg);

    png_structp png = d->png;
    png_infop info = d->info;
    png_set_read_fn(png, d, png_mem_read);
    /* Let any header through libpng so that our own limit decides. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, YPR_PNG_MAX_ALLOC);
    png_set_chunk_cache_max(png, PNG_CHUNK_CACHE);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, png_ignored_chunks,
                                (int)(sizeof png_ignored_chunks / 5));
    png_read_info(png, info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    TRY(ypr__image_check_header(d->what, YPR_IMG_PNG, w, h,
                                depth * png_get_channels(png, info), d->len));

    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) {
        if (depth < 8)
            png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    if (depth == 16)
        png_set_scale_16(png);      /* rounds v·255/65535, unlike strip_16 */
    if ((ctype & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_bit_depth(png, info) != 8 || png_get_channels(png, info) != 3 ||
        png_get_rowbytes(png, info) != (size_t)w * 3)
        return ypr__error(YPR_EFORMAT, "%s: unexpected PNG pixel layout", d->what);

    d->pixels = ypr__alloc((size_t)w * (size_t)h * 3);
    if (!d->pixels)
        return YPR_ENOMEM;
    d->rows = ypr__alloc((size_t)h * sizeof *d->rows);
    if (!d->rows)
        return YPR_ENOMEM;
    for (png_uint_32 y = 0; y < h; y++)
        d->rows[y] = d->pixels + (size_t)y * (size_t)w * 3;
    png_read_image(png, d->rows);
    png_read_end(png, info);        /* through IEND: catches truncation */
    d->w = (int)w;
    d->h = (int)h;
    return YPR_OK;
}

static int decode_png(const uint8_t *buf, size_t len, const char *what, ypr_image *out)
{
    png_dec d;
    memset(&d, 0, sizeof d);
    d.buf = buf;
    d.len = len;
    d.what = what;
    d.m.what = what;
    int rc = png_dec_run(&d);
    if (d.png)
        png_destroy_read_struct(&d.png, d.info ? &d.info : NULL, NULL);
    ypr__free(d.rows);
    if (rc == YPR_OK) {
        out->w = d.w;
        out->h = d.h;
        out->rgb = d.pixels;
    } else {
        ypr__free(d.pixels);
    }
    return rc;
}

/* ---------------------------------------------------------------- load */

int ypr__image_load_mem(const void *buf, size_t len, const char *what, ypr_image *out)
{
    if (!what)
        what = "<memory>";
    RETURN_IF(!out, YPR_EINVAL, "%s: NULL output image", what);
    memset(out, 0, sizeof *out);
    RETURN_IF(!buf && len, YPR_EINVAL, "%s: NULL buffer", what);
    const uint8_t *p = buf;
    if (len >= sizeof png_magic && memcmp(p, png_magic, sizeof png_magic) == 0)
        return decode_png(p, len, what, out);
    if (len >= sizeof jpeg_magic && memcmp(p, jpeg_magic, sizeof jpeg_magic) == 0)
        return decode_jpeg(p, len, what, out);
    return ypr__error(YPR_EFORMAT, "%s: not a JPEG or PNG file (unknown signature)", what);
}

int ypr__image_load(const char *path, ypr_image *out)
{
    RETURN_IF(!out, YPR_EINVAL, "image_load: NULL output image");
    memset(out, 0, sizeof *out);
    RETURN_IF(!path || !*path, YPR_EINVAL, "image_load: empty file name");
    void *fv;
    uint64_t size;
    TRY(ypr__file_open_regular(path, &fv, &size));
    FILE *fp = fv;
    if (size > YPR_IMAGE_MAX_BYTES) {
        fclose(fp);
        return ypr__error(YPR_ERANGE, "%s: %llu bytes, more than an image may have (%llu)", path,
                          (unsigned long long)size, (unsigned long long)YPR_IMAGE_MAX_BYTES);
    }

    /* Check the signature before reading everything, so that a large file
     * of another kind costs nothing. */
    uint8_t head[8];
    size_t nhead = fread(head, 1, sizeof head, fp);
    if (nhead < sizeof head && ferror(fp)) {
        fclose(fp);
        return ypr__error(YPR_EIO, "%s: read error: %s", path, strerror(errno));
    }
    int known = (nhead >= sizeof png_magic && memcmp(head, png_magic, sizeof png_magic) == 0) ||
                (nhead >= sizeof jpeg_magic && memcmp(head, jpeg_magic, sizeof jpeg_magic) == 0);
    if (!known) {
        fclose(fp);
        return ypr__error(YPR_EFORMAT, "%s: not a JPEG or PNG file (unknown signature)", path);
    }

    /* The size stat gave, plus one byte to notice a file that grew. */
    size_t cap = (size_t)size + 1 > sizeof head ? (size_t)size + 1 : sizeof head;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        return ypr__error(YPR_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
    }
    memcpy(buf, head, nhead);
    size_t len = nhead + fread(buf + nhead, 1, cap - nhead, fp);
    int bad = ferror(fp), e = errno;
    fclose(fp);
    if (bad || len > (size_t)size) {
        free(buf);
        return ypr__error(YPR_EIO, "%s: %s%s", path, bad ? "read error: " : "",
                          bad ? strerror(e) : "file changed while being read");
    }
    int rc = ypr__image_load_mem(buf, len, path, out);
    free(buf);
    return rc;
}

/* --------------------------------------------------------------- write */

typedef struct png_enc {
    png_msgs m;
    png_structp png;
    png_infop info;
    FILE *fp;
    const ypr_image *img;
} png_enc;

static int png_enc_run(png_enc *e, const char *path)
{
    e->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e->m, png_on_error, png_on_warning);
    RETURN_IF(!e->png, YPR_ENOMEM, "%s: cannot create PNG writer", path);
    e->info = png_create_info_struct(e->png);
    RETURN_IF(!e->info, YPR_ENOMEM, "%s: cannot create PNG writer", path);
    if (setjmp(png_jmpbuf(e->png)))
        return ypr__error(YPR_EIO, "%s: PNG write failed: %s", path, e->m.msg);
    const ypr_image *img = e->img;
    png_init_io(e->png, e->fp);
    png_set_IHDR(e->png, e->info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e->png, e->info);
    for (int y = 0; y < img->h; y++)
        png_write_row(e->png, img->rgb + (size_t)y * (size_t)img->w * 3);
    png_write_end(e->png, NULL);
    return YPR_OK;
}

int ypr__png_write(const char *path, const ypr_image *img)
{
    RETURN_IF(!path || !*path, YPR_EINVAL, "png_write: empty file name");
    RETURN_IF(!img || !img->rgb || !dims_ok(img->w, img->h), YPR_EINVAL,
              "%s: invalid image to write", path);
    ypr_atomic_file af;
    TRY(ypr__afile_open(&af, path));
    png_enc e;
    memset(&e, 0, sizeof e);
    e.m.what = path;
    e.fp = af.fp;
    e.img = img;
    int rc = png_enc_run(&e, path);
    if (e.png)
        png_destroy_write_struct(&e.png, e.info ? &e.info : NULL);
    if (rc != YPR_OK) {
        ypr__afile_abort(&af);
        return rc;
    }
    return ypr__afile_commit(&af);
}

/* A destination manager that grows one malloc'd buffer. (jpeg_mem_dest
 * leaks its newest buffer if compression fails part way; this one is
 * always reachable from the context.) */
typedef struct jpeg_growbuf {
    struct jpeg_destination_mgr pub;
    uint8_t *buf;
    size_t cap, len;
} jpeg_growbuf;

static void growbuf_init(j_compress_ptr c)
{
    jpeg_growbuf *g = (jpeg_growbuf *)c->dest;
    g->cap = 1 << 14;
    g->buf = malloc(g->cap);
    if (!g->buf) {
        c->err->msg_code = JERR_OUT_OF_MEMORY;
        c->err->error_exit((j_common_ptr)c);
    }
    g->pub.next_output_byte = g->buf;
    g->pub.free_in_buffer = g->cap;
}

static boolean growbuf_empty(j_compress_ptr c)
{
    jpeg_growbuf *g = (jpeg_growbuf *)c->dest;
    /* called only when the buffer is full: keep it all and double it */
    size_t ncap = g->cap * 2;
    uint8_t *nb = ncap > g->cap ? realloc(g->buf, ncap) : NULL;
    if (!nb) {
        c->err->msg_code = JERR_OUT_OF_MEMORY;
        c->err->error_exit((j_common_ptr)c);
    }
    g->pub.next_output_byte = nb + g->cap;
    g->pub.free_in_buffer = ncap - g->cap;
    g->buf = nb;
    g->cap = ncap;
    return TRUE;
}

static void growbuf_term(j_compress_ptr c)
{
    jpeg_growbuf *g = (jpeg_growbuf *)c->dest;
    g->len = g->cap - g->pub.free_in_buffer;
}

typedef struct jpeg_enc {
    struct jpeg_compress_struct cinfo;
    jpeg_err err;
    jpeg_growbuf dest;
    int created;
    const ypr_image *img;
    int quality;
} jpeg_enc;

static int jpeg_enc_run(jpeg_enc *e)
{
    j_compress_ptr ci = &e->cinfo;
    if (setjmp(e->err.jb))
        return ypr__error(e->err.code == YPR_ENOMEM ? YPR_ENOMEM : YPR_EINTERNAL,
                          "JPEG encoding failed: %s", e->err.msg);
    ci->err = &e->err.pub;
    e->created = 1;
    jpeg_create_compress(ci);
    e->dest.pub.init_destination = growbuf_init;
    e->dest.pub.empty_output_buffer = growbuf_empty;
    e->dest.pub.term_destination = growbuf_term;
    ci->dest = &e->dest.pub;
    ci->image_width = (JDIMENSION)e->img->w;
    ci->image_height = (JDIMENSION)e->img->h;
    ci->input_components = 3;
    ci->in_color_space = JCS_RGB;
    jpeg_set_defaults(ci);
    jpeg_set_quality(ci, e->quality, TRUE);
    jpeg_start_compress(ci, TRUE);
    size_t stride = (size_t)e->img->w * 3;
    while (ci->next_scanline < ci->image_height) {
        /* libjpeg's row type is not const, but it only reads input rows */
        JSAMPROW row = (JSAMPROW)(uintptr_t)(e->img->rgb + (size_t)ci->next_scanline * stride);
        jpeg_write_scanlines(ci, &row, 1);
    }
    jpeg_finish_compress(ci);
    return YPR_OK;
}

int ypr__jpeg_encode(const ypr_image *img, int quality, uint8_t **buf, size_t *len)
{
    RETURN_IF(!buf || !len, YPR_EINVAL, "jpeg_encode: NULL output");
    *buf = NULL;
    *len = 0;
    RETURN_IF(!img || !img->rgb || !dims_ok(img->w, img->h), YPR_EINVAL,
              "jpeg_encode: invalid image");
    RETURN_IF(quality < 1 || quality > 100, YPR_EINVAL,
              "jpeg_encode: quality %d outside 1..100", quality);
    jpeg_enc *e = calloc(1, sizeof *e);
    RETURN_IF(!e, YPR_ENOMEM, "jpeg_encode: out of memory");
    jpeg_err_init(&e->err, "JPEG encoder");
    e->img = img;
    e->quality = quality;
    int rc = jpeg_enc_run(e);
    if (e->created)
        jpeg_destroy_compress(&e->cinfo);
    if (rc == YPR_OK) {
        *buf = e->dest.buf;
        *len = e->dest.len;
    } else {
        free(e->dest.buf);
    }
    free(e);
    return rc;
}
