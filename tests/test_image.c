/* Image I/O and drawing: decoding of every PNG colour type and JPEG colour
 * space, round trips, corrupt and hostile input, clipping. White-box.
 * Test files are written in the working directory (the build's tests/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "lib/io/io.h"

/* ------------------------------------------------------------ helpers */

typedef struct membuf { uint8_t *p; size_t len, cap; } membuf;

static void mb_append(membuf *m, const void *data, size_t n)
{
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap < m->len + n)
            cap *= 2;
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

static void mb_png_write(png_structp png, png_bytep data, size_t n)
{
    mb_append(png_get_io_ptr(png), data, n);
}

static void mb_png_flush(png_structp png)
{
    (void)png;
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = fwrite(data, 1, n, fp);
    return (fclose(fp) == 0 && w == n) ? 0 : -1;
}

static void random_image(ypr_image *img, int w, int h, uint64_t seed)
{
    assert_int_equal(ypr__image_alloc(img, w, h), YPR_OK);
    ypr_rng r;
    ypr__rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        img->rgb[i] = (uint8_t)(ypr__rng_u64(&r) >> 56);
}

/* Smooth, colourful, no sharp edges. */
static void gradient_image(ypr_image *img, int w, int h)
{
    assert_int_equal(ypr__image_alloc(img, w, h), YPR_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(20 + 200 * x / (w - 1));
            p[1] = (uint8_t)(30 + 180 * y / (h - 1));
            p[2] = (uint8_t)(240 - 100 * (x + y) / (w + h - 2));
        }
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += abs((int)a[i] - (int)b[i]);
    return s / (double)n;
}

/* Load from an exactly sized heap copy, so that AddressSanitizer sees any
 * read past the end. */
static int load_copy(const uint8_t *data, size_t len, ypr_image *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, data, len);
    int rc = ypr__image_load_mem(copy, len, "fuzz", out);
    free(copy);
    return rc;
}

/* ------------------------------------------- test-side PNG encoder */

/* Encode samples (one int per channel per pixel) as a PNG of the given bit
 * depth and colour type, packing rows ourselves (MSB first below 8 bits,
 * big-endian at 16). */
typedef struct png_case {
    int w, h, depth, ctype, interlace;
    const png_color *pal;
    int npal;
    const png_byte *trans_alpha;  /* palette tRNS */
    int ntrans;
    const png_color_16 *trans_color;  /* grey / RGB tRNS */
} png_case;

static int channels_of(int ctype)
{
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;              /* palette */
    }
}

static membuf png_encode_samples(const png_case *pc, const int *samples)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    int ch = channels_of(pc->ctype);
    size_t rowbytes = ((size_t)pc->w * ch * pc->depth + 7) / 8;
    uint8_t *rows = calloc(rowbytes * pc->h, 1);
    png_bytep *rp = calloc(pc->h, sizeof *rp);
    assert_non_null(rows);
    assert_non_null(rp);
    for (int y = 0; y < pc->h; y++) {
        uint8_t *row = rows + rowbytes * y;
        rp[y] = row;
        for (int i = 0; i < pc->w * ch; i++) {
            int v = samples[(size_t)y * pc->w * ch + i];
            if (pc->depth == 16) {
                row[2 * i] = (uint8_t)(v >> 8);
                row[2 * i + 1] = (uint8_t)v;
            } else if (pc->depth == 8) {
                row[i] = (uint8_t)v;
            } else {
                int bit = i * pc->depth;
                row[bit / 8] |= (uint8_t)(v << (8 - pc->depth - bit % 8));
            }
        }
    }
    if (setjmp(png_jmpbuf(png)))
        fail_msg("test PNG encoder failed");
    png_set_write_fn(png, &m, mb_png_write, mb_png_flush);
    png_set_IHDR(png, info, (png_uint_32)pc->w, (png_uint_32)pc->h, pc->depth, pc->ctype,
                 pc->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pc->pal)
        png_set_PLTE(png, info, pc->pal, pc->npal);
    if (pc->trans_alpha || pc->trans_color)
        png_set_tRNS(png, info, pc->trans_alpha, pc->ntrans, pc->trans_color);
    png_write_info(png, info);
    png_write_image(png, rp);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(rp);
    return m;
}

/* The 8-bit value a sample of `depth` bits must decode to: low depths are
 * scaled to full range (1 bit: ×255, 2 bits: ×85, 4 bits: ×17), 16-bit
 * values are rounded to nearest, v·255/65535 = v/257 (never a tie). */
static int to8(int v, int depth)
{
    if (depth == 16)
        return (2 * v + 257) / 514;
    return v * 255 / ((1 << depth) - 1);
}

static void check_png_case(int depth, int ctype, int interlace, int trns, uint64_t seed)
{
    ypr_rng r;
    ypr__rng_seed(&r, seed);
    png_case pc = {.w = 13, .h = 11, .depth = depth, .ctype = ctype, .interlace = interlace};
    int ch = channels_of(ctype);
    int maxv = (1 << depth) - 1;
    png_color pal[256];
    png_byte alpha[256];
    png_color_16 tc;
    memset(&tc, 0, sizeof tc);
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        pc.npal = depth == 8 ? 200 : maxv + 1 - (depth > 1);
        for (int i = 0; i < pc.npal; i++) {
            pal[i].red = (png_byte)(ypr__rng_u64(&r) >> 56);
            pal[i].green = (png_byte)(ypr__rng_u64(&r) >> 56);
            pal[i].blue = (png_byte)(ypr__rng_u64(&r) >> 56);
            alpha[i] = (png_byte)(ypr__rng_u64(&r) >> 56);
        }
        pc.pal = pal;
        maxv = pc.npal - 1;
    }
    int n = pc.w * pc.h * ch;
    int *s = calloc((size_t)n, sizeof *s);
    assert_non_null(s);
    for (int i = 0; i < n; i++)
        s[i] = (int)(ypr__rng_u64(&r) % (uint64_t)(maxv + 1));
    if (trns) {
        if (ctype == PNG_COLOR_TYPE_PALETTE) {
            pc.trans_alpha = alpha;
            pc.ntrans = pc.npal > 3 ? pc.npal - 2 : pc.npal;
        } else {
            /* make the first pixel's colour the transparent one */
            tc.gray = (png_uint_16)s[0];
            tc.red = (png_uint_16)s[0];
            tc.green = (png_uint_16)s[ch > 1 ? 1 : 0];
            tc.blue = (png_uint_16)s[ch > 2 ? 2 : 0];
            pc.trans_color = &tc;
        }
    }
    membuf m = png_encode_samples(&pc, s);
    ypr_image img;
    int rc = ypr__image_load_mem(m.p, m.len, "case.png", &img);
    if (rc != YPR_OK)
        fail_msg("depth %d ctype %d interlace %d trns %d: %s", depth, ctype, interlace, trns,
                 ypr_last_error());
    assert_int_equal(img.w, pc.w);
    assert_int_equal(img.h, pc.h);
    for (int p = 0; p < pc.w * pc.h; p++) {
        const int *sp = s + p * ch;
        int want[3];
        switch (ctype) {
        case PNG_COLOR_TYPE_PALETTE:
            want[0] = pal[sp[0]].red;
            want[1] = pal[sp[0]].green;
            want[2] = pal[sp[0]].blue;
            break;
        case PNG_COLOR_TYPE_GRAY:
        case PNG_COLOR_TYPE_GRAY_ALPHA:
            want[0] = want[1] = want[2] = to8(sp[0], depth);
            break;
        default:
            for (int c = 0; c < 3; c++)
                want[c] = to8(sp[c], depth);
        }
        for (int c = 0; c < 3; c++)
            if (img.rgb[p * 3 + c] != want[c])
                fail_msg("depth %d ctype %d interlace %d trns %d: pixel %d channel %d: got %d want %d",
                         depth, ctype, interlace, trns, p, c, img.rgb[p * 3 + c], want[c]);
    }
    ypr__image_free(&img);
    free(m.p);
    free(s);
}

static void test_png_color_types(void **state)
{
    (void)state;
    static const struct { int ctype, depths[5], ndepth; } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}, 5},
        {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}, 2},
        {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}, 4},
        {PNG_COLOR_TYPE_RGB, {8, 16}, 2},
        {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}, 2},
    };
    uint64_t seed = 1000;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int d = 0; d < kinds[k].ndepth; d++)
            for (int il = 0; il < 2; il++)
                for (int trns = 0; trns < 2; trns++) {
                    if (trns && (kinds[k].ctype & PNG_COLOR_MASK_ALPHA))
                        continue;   /* tRNS is not allowed with an alpha channel */
                    check_png_case(kinds[k].depths[d], kinds[k].ctype, il, trns, seed++);
                }
}

/* ------------------------------------------------------------ PNG write */

static int count_tmp_files(const char *prefix)
{
    DIR *d = opendir(".");
    assert_non_null(d);
    int n = 0;
    size_t pl = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, pl) == 0 && strstr(e->d_name + pl, ".tmp-"))
            n++;
    closedir(d);
    return n;
}

static void test_png_roundtrip(void **state)
{
    (void)state;
    const char *path = "test_image_rt.png";
    for (int rep = 0; rep < 2; rep++) {        /* the second write replaces the first */
        ypr_image src, back;
        random_image(&src, 37 + rep, 23, 42 + (uint64_t)rep);
        assert_int_equal(ypr__png_write(path, &src), YPR_OK);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        uint8_t sig[8];
        assert_int_equal(fread(sig, 1, 8, fp), 8);
        fclose(fp);
        static const uint8_t want[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
        assert_memory_equal(sig, want, 8);
        assert_int_equal(count_tmp_files(path), 0);
        assert_int_equal(ypr__image_load(path, &back), YPR_OK);
        assert_int_equal(back.w, src.w);
        assert_int_equal(back.h, src.h);
        assert_memory_equal(back.rgb, src.rgb, (size_t)src.w * src.h * 3);
        ypr__image_free(&back);
        ypr__image_free(&src);
    }
    unlink(path);
}

static void test_png_write_errors(void **state)
{
    (void)state;
    ypr_image img;
    random_image(&img, 4, 4, 7);
    assert_int_equal(ypr__png_write("test_image_no_such_dir/x.png", &img), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "test_image_no_such_dir/x.png"));
    ypr_image bad = {0, 0, NULL};
    assert_int_equal(ypr__png_write("test_image_bad.png", &bad), YPR_EINVAL);
    assert_int_equal(access("test_image_bad.png", F_OK), -1);
    assert_int_equal(count_tmp_files("test_image_bad.png"), 0);
    ypr__image_free(&img);
}

/* ------------------------------------------------------------------ JPEG */

/* Test-side JPEG encoder for colour spaces ypr__jpeg_encode does not make. */
typedef struct jpeg_case {
    int w, h, components;
    J_COLOR_SPACE in_space, jpeg_space;
    int progressive, adobe_marker, quality;
} jpeg_case;

static membuf jpeg_encode_raw(const jpeg_case *jc, const uint8_t *pixels)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    jpeg_mem_dest(&ci, &out, &outlen);
    ci.image_width = (JDIMENSION)jc->w;
    ci.image_height = (JDIMENSION)jc->h;
    ci.input_components = jc->components;
    ci.in_color_space = jc->in_space;
    jpeg_set_defaults(&ci);
    jpeg_set_colorspace(&ci, jc->jpeg_space);
    if (jc->jpeg_space == JCS_CMYK)
        ci.write_Adobe_marker = jc->adobe_marker ? TRUE : FALSE;
    jpeg_set_quality(&ci, jc->quality, TRUE);
    if (jc->progressive)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)ci.next_scanline * jc->w * jc->components);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    membuf m = {out, outlen, outlen};
    return m;
}

static void test_jpeg_roundtrip(void **state)
{
    (void)state;
    ypr_image src, back;
    gradient_image(&src, 64, 48);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ypr__jpeg_encode(&src, 95, &buf, &len), YPR_OK);
    assert_true(len > 100);
    assert_true(buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF);
    assert_true(buf[len - 2] == 0xFF && buf[len - 1] == 0xD9);
    assert_int_equal(ypr__image_load_mem(buf, len, "gradient.jpg", &back), YPR_OK);
    assert_int_equal(back.w, 64);
    assert_int_equal(back.h, 48);
    /* bound: a smooth gradient at quality 95 is within 3 levels on average */
    double mae = mean_abs_diff(src.rgb, back.rgb, 64 * 48 * 3);
    assert_true(mae < 3.0);
    ypr__image_free(&back);
    free(buf);

    /* a larger, noisy image makes the output buffer grow several times */
    ypr_image noise;
    random_image(&noise, 300, 200, 99);
    assert_int_equal(ypr__jpeg_encode(&noise, 100, &buf, &len), YPR_OK);
    assert_int_equal(ypr__image_load_mem(buf, len, "noise.jpg", &back), YPR_OK);
    assert_int_equal(back.w, 300);
    assert_int_equal(back.h, 200);
    ypr__image_free(&back);
    free(buf);
    ypr__image_free(&noise);

    assert_int_equal(ypr__jpeg_encode(&src, 0, &buf, &len), YPR_EINVAL);
    assert_null(buf);
    assert_int_equal(ypr__jpeg_encode(&src, 101, &buf, &len), YPR_EINVAL);
    assert_int_equal(ypr__jpeg_encode(&src, 1, &buf, &len), YPR_OK);
    free(buf);
    ypr__image_free(&src);
}

static void test_jpeg_grey_progressive(void **state)
{
    (void)state;
    enum { W = 40, H = 24 };
    uint8_t grey[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            grey[y * W + x] = (uint8_t)(10 + 5 * x + 2 * y);
    jpeg_case jc = {W, H, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0, 0, 95};
    for (int prog = 0; prog < 2; prog++) {
        jc.progressive = prog;
        membuf m = jpeg_encode_raw(&jc, grey);
        ypr_image img;
        assert_int_equal(ypr__image_load_mem(m.p, m.len, "grey.jpg", &img), YPR_OK);
        assert_int_equal(img.w, W);
        assert_int_equal(img.h, H);
        uint8_t g[W * H];
        for (int i = 0; i < W * H; i++) {
            assert_int_equal(img.rgb[3 * i], img.rgb[3 * i + 1]);
            assert_int_equal(img.rgb[3 * i], img.rgb[3 * i + 2]);
            g[i] = img.rgb[3 * i];
        }
        assert_true(mean_abs_diff(g, grey, W * H) < 3.0);
        ypr__image_free(&img);
        free(m.p);
    }

    /* progressive colour */
    ypr_image src, back;
    gradient_image(&src, 50, 30);
    jpeg_case pc = {50, 30, 3, JCS_RGB, JCS_YCbCr, 1, 0, 95};
    membuf m = jpeg_encode_raw(&pc, src.rgb);
    assert_int_equal(ypr__image_load_mem(m.p, m.len, "prog.jpg", &back), YPR_OK);
    assert_true(mean_abs_diff(src.rgb, back.rgb, 50 * 30 * 3) < 3.0);
    ypr__image_free(&back);
    /* a progressive file cut after its first scans still decodes in libjpeg
     * (blurry); we must refuse it */
    assert_int_equal(ypr__image_load_mem(m.p, m.len / 2, "prog.jpg", &back), YPR_EFORMAT);
    assert_null(back.rgb);
    free(m.p);
    ypr__image_free(&src);
}

/* CMYK as Photoshop writes it (Adobe marker, inverted ink values), YCCK,
 * and plain CMYK without the marker. Flat 16×16 blocks so lossy coding
 * barely touches them. Expected: R = 255·(1−C)(1−K), etc. */
static void test_jpeg_cmyk(void **state)
{
    (void)state;
    static const uint8_t inks[4][4] = {     /* C, M, Y, K as amounts of ink */
        {0, 0, 0, 0}, {255, 0, 0, 0}, {40, 200, 100, 60}, {10, 20, 30, 200},
    };
    enum { W = 64, H = 16 };
    for (int variant = 0; variant < 3; variant++) {
        int inverted = variant != 2;
        uint8_t px[W * H * 4];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 4; c++) {
                    int v = inks[x / 16][c];
                    px[(y * W + x) * 4 + c] = (uint8_t)(inverted ? 255 - v : v);
                }
        jpeg_case jc = {W, H, 4, JCS_CMYK, variant == 1 ? JCS_YCCK : JCS_CMYK, 0,
                        variant != 2, 100};
        membuf m = jpeg_encode_raw(&jc, px);
        ypr_image img;
        assert_int_equal(ypr__image_load_mem(m.p, m.len, "cmyk.jpg", &img), YPR_OK);
        for (int b = 0; b < 4; b++) {
            int want[3];
            for (int c = 0; c < 3; c++)
                want[c] = (255 - inks[b][c]) * (255 - inks[b][3]) / 255;
            const uint8_t *p = img.rgb + ((size_t)8 * W + b * 16 + 8) * 3;  /* block centre */
            for (int c = 0; c < 3; c++)
                if (abs(p[c] - want[c]) > 4)
                    fail_msg("variant %d block %d channel %d: got %d want %d", variant, b, c,
                             p[c], want[c]);
        }
        ypr__image_free(&img);
        free(m.p);
    }
}

/* --------------------------------------------------------------- corrupt */

static membuf sample_png(void)
{
    ypr_image src;
    gradient_image(&src, 30, 20);
    assert_int_equal(ypr__png_write("test_image_sample.png", &src), YPR_OK);
    ypr__image_free(&src);
    FILE *fp = fopen("test_image_sample.png", "rb");
    assert_non_null(fp);
    membuf m = {0};
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        mb_append(&m, chunk, n);
    fclose(fp);
    unlink("test_image_sample.png");
    return m;
}

static membuf sample_jpeg(int progressive)
{
    ypr_image src;
    gradient_image(&src, 40, 32);
    membuf m = {0};
    if (progressive) {
        jpeg_case jc = {40, 32, 3, JCS_RGB, JCS_YCbCr, 1, 0, 90};
        m = jpeg_encode_raw(&jc, src.rgb);
    } else {
        assert_int_equal(ypr__jpeg_encode(&src, 90, &m.p, &m.len), YPR_OK);
    }
    ypr__image_free(&src);
    return m;
}

static void check_truncations(const membuf *m, const char *kind)
{
    ypr_image img;
    assert_int_equal(load_copy(m->p, m->len, &img), YPR_OK);
    ypr__image_free(&img);
    for (size_t len = 0; len < m->len; len += 7) {
        int rc = load_copy(m->p, len, &img);
        if (rc != YPR_EFORMAT)
            fail_msg("%s truncated to %zu of %zu bytes: got %s", kind, len, m->len,
                     ypr_err_name(rc));
        assert_null(img.rgb);
    }
    for (size_t cut = 1; cut <= 3; cut++) {            /* the very end too */
        assert_int_equal(load_copy(m->p, m->len - cut, &img), YPR_EFORMAT);
    }
}

static void test_truncated(void **state)
{
    (void)state;
    membuf png = sample_png(), jpg = sample_jpeg(0), prog = sample_jpeg(1);
    check_truncations(&png, "PNG");
    check_truncations(&jpg, "JPEG");
    check_truncations(&prog, "progressive JPEG");
    free(png.p);
    free(jpg.p);
    free(prog.p);
}

static void check_bitflips(const membuf *m, uint64_t seed, int rounds)
{
    ypr_rng r;
    ypr__rng_seed(&r, seed);
    uint8_t *buf = malloc(m->len);
    assert_non_null(buf);
    int ok = 0;
    for (int i = 0; i < rounds; i++) {
        memcpy(buf, m->p, m->len);
        int flips = 1 + (int)(ypr__rng_u64(&r) % 3);
        for (int f = 0; f < flips; f++) {
            size_t pos = (size_t)(ypr__rng_u64(&r) % m->len);
            buf[pos] ^= (uint8_t)(1u << (ypr__rng_u64(&r) % 8));
        }
        ypr_image img;
        int rc = load_copy(buf, m->len, &img);
        if (rc == YPR_OK) {
            ok++;
            assert_true(img.w >= 1 && img.w <= 32768 && img.h >= 1 && img.h <= 32768);
            assert_non_null(img.rgb);
            ypr__image_free(&img);
        } else if (rc != YPR_EFORMAT && rc != YPR_ERANGE) {
            fail_msg("bit flip round %d: unexpected %s: %s", i, ypr_err_name(rc),
                     ypr_last_error());
        } else {
            assert_null(img.rgb);
        }
    }
    free(buf);
    (void)ok;
}

/* The library must never print: stderr goes to a file for the duration of
 * the fuzzing and must stay empty (the file is kept if it is not). */
static int stderr_saved = -1;
static const char stderr_file[] = "test_image_stderr.txt";

static void stderr_capture(void)
{
    fflush(stderr);
    stderr_saved = dup(2);
    assert_true(stderr_saved >= 0);
    assert_non_null(freopen(stderr_file, "w", stderr));
}

static long stderr_release(void)
{
    fflush(stderr);
    fflush(stdout);
    FILE *fp = fopen(stderr_file, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    dup2(stderr_saved, 2);
    close(stderr_saved);
    stderr_saved = -1;
    clearerr(stderr);
    if (n == 0)
        unlink(stderr_file);
    return n;
}

static void test_bitflips(void **state)
{
    (void)state;
    membuf png = sample_png(), jpg = sample_jpeg(0), prog = sample_jpeg(1);
    stderr_capture();
    check_bitflips(&png, 11, 400);
    check_bitflips(&jpg, 12, 400);
    check_bitflips(&prog, 13, 400);
    check_truncations(&jpg, "JPEG");
    check_truncations(&png, "PNG");
    long printed = stderr_release();
    if (printed)
        fail_msg("the decoders wrote %ld bytes to stderr (see %s)", printed, stderr_file);
    free(png.p);
    free(jpg.p);
    free(prog.p);
}

typedef struct log_capture { int debug, other; char last[256]; } log_capture;

static void capture_log(void *user, int level, const char *msg)
{
    log_capture *c = user;
    if (level == YPR_LOG_DEBUG)
        c->debug++;
    else
        c->other++;
    snprintf(c->last, sizeof c->last, "%s", msg);
}

/* Recoverable damage (junk bytes before a marker) decodes, with the
 * library's warning routed to the log at debug level only. */
static void test_warnings_logged(void **state)
{
    (void)state;
    membuf j = sample_jpeg(0);
    size_t sos = 0;
    for (size_t i = 2; i + 1 < j.len; i++)
        if (j.p[i] == 0xFF && j.p[i + 1] == 0xDA) {
            sos = i;
            break;
        }
    assert_true(sos > 0);
    membuf m = {0};
    mb_append(&m, j.p, sos);
    mb_append(&m, "junk", 4);
    mb_append(&m, j.p + sos, j.len - sos);
    log_capture c = {0};
    ypr_set_log_callback(capture_log, &c, YPR_LOG_DEBUG);
    ypr_image img, ref;
    int rc = ypr__image_load_mem(m.p, m.len, "junk.jpg", &img);
    ypr_set_log_callback(NULL, NULL, YPR_LOG_WARN);
    assert_int_equal(rc, YPR_OK);
    assert_int_equal(ypr__image_load_mem(j.p, j.len, "clean.jpg", &ref), YPR_OK);
    assert_memory_equal(img.rgb, ref.rgb, (size_t)ref.w * ref.h * 3);
    assert_true(c.debug >= 1);
    assert_int_equal(c.other, 0);
    assert_non_null(strstr(c.last, "junk.jpg"));
    ypr__image_free(&img);
    ypr__image_free(&ref);
    free(m.p);
    free(j.p);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void add_chunk(membuf *m, const char *type, const uint8_t *data, uint32_t n)
{
    uint8_t be[4];
    put_be32(be, n);
    mb_append(m, be, 4);
    mb_append(m, type, 4);
    if (n)
        mb_append(m, data, n);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (n)
        crc = crc32(crc, data, n);
    put_be32(be, (uint32_t)crc);
    mb_append(m, be, 4);
}

/* A well-formed PNG whose header claims w×h RGB8 and whose IDAT holds a
 * single row; decoding it must stop at the header. */
static membuf png_claiming(uint32_t w, uint32_t h)
{
    membuf m = {0};
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    mb_append(&m, sig, 8);
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = 2;
    add_chunk(&m, "IHDR", ihdr, 13);
    uint8_t raw[4] = {0}, z[64];
    uLongf zl = sizeof z;
    assert_int_equal(compress(z, &zl, raw, sizeof raw), Z_OK);
    add_chunk(&m, "IDAT", z, (uint32_t)zl);
    add_chunk(&m, "IEND", NULL, 0);
    return m;
}

static void test_limits(void **state)
{
    (void)state;
    ypr_image img;
    /* a genuine tiny image built by the same helper decodes... */
    membuf ok = png_claiming(1, 1);
    assert_int_equal(ypr__image_load_mem(ok.p, ok.len, "tiny.png", &img), YPR_OK);
    assert_int_equal(img.w, 1);
    ypr__image_free(&img);
    free(ok.p);
    /* ...and these headers are refused before any pixel buffer exists (the
     * IDAT is far too short, so decoding first would give YPR_EFORMAT) */
    static const uint32_t dims[][2] = {
        {100000, 100000}, {32769, 1}, {1, 32769}, {20000, 20000}, {16385, 16385},
        {2000000, 1}, {0x7fffffffu, 0x7fffffffu},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        membuf m = png_claiming(dims[i][0], dims[i][1]);
        assert_int_equal(ypr__image_load_mem(m.p, m.len, "huge.png", &img), YPR_ERANGE);
        assert_null(img.rgb);
        assert_non_null(strstr(ypr_last_error(), "huge.png"));
        if (i == 0) {
            assert_int_equal(write_file("test_image_huge.png", m.p, m.len), 0);
            assert_int_equal(ypr__image_load("test_image_huge.png", &img), YPR_ERANGE);
            unlink("test_image_huge.png");
        }
        free(m.p);
    }

    /* JPEG: patch the SOF0 frame size of a real file */
    membuf j = sample_jpeg(0);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < j.len; i++)
        if (j.p[i] == 0xFF && j.p[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    assert_true(sof > 0);
    static const uint16_t jd[][2] = {{60000, 60000}, {40000, 8}, {8, 40000}, {20000, 20000}};
    for (size_t i = 0; i < sizeof jd / sizeof jd[0]; i++) {
        uint8_t *c = malloc(j.len);
        assert_non_null(c);
        memcpy(c, j.p, j.len);
        c[sof + 5] = (uint8_t)(jd[i][1] >> 8);    /* height */
        c[sof + 6] = (uint8_t)jd[i][1];
        c[sof + 7] = (uint8_t)(jd[i][0] >> 8);    /* width */
        c[sof + 8] = (uint8_t)jd[i][0];
        assert_int_equal(ypr__image_load_mem(c, j.len, "huge.jpg", &img), YPR_ERANGE);
        assert_non_null(strstr(ypr_last_error(), "huge.jpg"));
        free(c);
    }
    free(j.p);
}

static void test_bad_files(void **state)
{
    (void)state;
    ypr_image img;
    static const char gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    assert_int_equal(write_file("test_image_fake.png", gif, sizeof gif - 1), 0);
    assert_int_equal(ypr__image_load("test_image_fake.png", &img), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "test_image_fake.png"));
    assert_null(img.rgb);
    /* an empty file, and one holding only the JPEG signature */
    assert_int_equal(write_file("test_image_fake.png", "", 0), 0);
    assert_int_equal(ypr__image_load("test_image_fake.png", &img), YPR_EFORMAT);
    assert_int_equal(write_file("test_image_fake.png", "\xFF\xD8\xFF", 3), 0);
    assert_int_equal(ypr__image_load("test_image_fake.png", &img), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "test_image_fake.png"));
    unlink("test_image_fake.png");

    assert_int_equal(ypr__image_load(".", &img), YPR_EIO);        /* a directory */
    assert_int_equal(ypr__image_load("test_image_missing.jpg", &img), YPR_ENOTFOUND);
    assert_non_null(strstr(ypr_last_error(), "test_image_missing.jpg"));
    assert_null(img.rgb);

    /* the extension is irrelevant: a PNG named .jpg loads */
    ypr_image src;
    random_image(&src, 5, 3, 5);
    assert_int_equal(ypr__png_write("test_image_png.jpg", &src), YPR_OK);
    assert_int_equal(ypr__image_load("test_image_png.jpg", &img), YPR_OK);
    assert_memory_equal(img.rgb, src.rgb, 5 * 3 * 3);
    ypr__image_free(&img);
    unlink("test_image_png.jpg");
    ypr__image_free(&src);

    assert_int_equal(ypr__image_load_mem("BM\0\0\0\0", 6, NULL, &img), YPR_EFORMAT);
    assert_int_equal(ypr__image_load_mem(NULL, 0, "nothing", &img), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "nothing"));
}

/* --------------------------------------------- hostile files and limits */

/* This process's resident memory in KiB. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    long size = 0, rss = 0;
    assert_int_equal(fscanf(f, "%ld %ld", &size, &rss), 2);
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Decode buf in a child process and return how far the child's peak
 * resident memory rose above ours (KiB): the child starts as a copy of this
 * process, so the rise is what the decoder allocated and touched. The
 * decoder's status comes back through *rc. */
static long decode_rss_rise(const uint8_t *buf, size_t len, int *rc)
{
    fflush(NULL);
    long before = rss_kib();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ypr_image img;
        int r = ypr__image_load_mem(buf, len, "child", &img);
        ypr__image_free(&img);
        _exit(r < 0 && r > -100 ? -r : r == 0 ? 0 : 100);
    }
    int st = 0;
    struct rusage ru;
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    assert_true(WIFEXITED(st));
    *rc = -WEXITSTATUS(st);
    return ru.ru_maxrss - before;
}

#define RSS_RISE_MAX_KIB (64 * 1024)

/* FIFOs and directories are refused at open, without blocking (alarm: a
 * blocking open fails the test instead of hanging it). */
static void test_special_files(void **state)
{
    (void)state;
    char dir[] = "test_image_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/pipe.jpg", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(20);
    ypr_image img;
    int w = -1, h = -1;
    assert_int_equal(ypr__image_load(fifo, &img), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "pipe.jpg: not a regular file (a FIFO)"));
    assert_null(img.rgb);
    assert_int_equal(ypr__image_size(fifo, &w, &h), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "pipe.jpg: not a regular file (a FIFO)"));
    assert_int_equal(w, 0);
    assert_int_equal(ypr__image_load(dir, &img), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "not a regular file (a directory)"));
    assert_int_equal(ypr__image_size(dir, &w, &h), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "not a regular file (a directory)"));
    char none[64];
    snprintf(none, sizeof none, "%s/none.png", dir);
    assert_int_equal(ypr__image_size(none, &w, &h), YPR_ENOTFOUND);
    alarm(0);
    unlink(fifo);
    rmdir(dir);
}

/* The 44-byte PNG of issue #9: a 1×1 header, then a tEXt chunk claiming
 * 0x7fffffff bytes. libpng used to allocate 2 GiB for it. */
static void test_png_chunk_bomb(void **state)
{
    (void)state;
    membuf m = {0};
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    mb_append(&m, sig, 8);
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, 1);
    put_be32(ihdr + 4, 1);
    ihdr[8] = 8;
    ihdr[9] = 2;
    add_chunk(&m, "IHDR", ihdr, 13);
    uint8_t be[4];
    put_be32(be, 0x7fffffffu);
    mb_append(&m, be, 4);
    mb_append(&m, "tEXtabc", 7);
    assert_int_equal(m.len, 44);
    ypr_image img;
    assert_int_equal(load_copy(m.p, m.len, &img), YPR_EFORMAT);
    assert_null(img.rgb);
    int rc = 0;
    long rise = decode_rss_rise(m.p, m.len, &rc);
    assert_int_equal(rc, YPR_EFORMAT);
    if (rise > RSS_RISE_MAX_KIB)
        fail_msg("decoding a 44-byte PNG raised resident memory by %ld KiB", rise);
    free(m.p);

    /* ancillary chunks larger than the allocation cap, with their data
     * present, are skipped: the picture decodes */
    membuf ok = {0};
    mb_append(&ok, sig, 8);
    add_chunk(&ok, "IHDR", ihdr, 13);
    size_t big = YPR_PNG_MAX_ALLOC + 4096;
    uint8_t *text = malloc(big);
    assert_non_null(text);
    memset(text, 'a', big);
    text[0] = 'k';
    text[1] = 0;                      /* keyword "k", then the text */
    add_chunk(&ok, "tEXt", text, (uint32_t)big);
    add_chunk(&ok, "zzZz", text, (uint32_t)big);   /* an unknown ancillary chunk */
    free(text);
    uint8_t raw[4] = {0, 10, 20, 30}, z[64];
    uLongf zl = sizeof z;
    assert_int_equal(compress(z, &zl, raw, sizeof raw), Z_OK);
    add_chunk(&ok, "IDAT", z, (uint32_t)zl);
    add_chunk(&ok, "IEND", NULL, 0);
    assert_int_equal(ypr__image_load_mem(ok.p, ok.len, "big-text.png", &img), YPR_OK);
    assert_int_equal(img.w, 1);
    assert_int_equal(img.rgb[0], 10);
    assert_int_equal(img.rgb[2], 30);
    ypr__image_free(&img);
    free(ok.p);
}

/* A PNG header within the absolute limits (16384² = 2^28 pixels) over a few
 * bytes of data is refused before the 768 MiB pixel buffer exists. */
static void test_png_forged_header(void **state)
{
    (void)state;
    membuf m = png_claiming(16384, 16384);
    ypr_image img;
    assert_int_equal(load_copy(m.p, m.len, &img), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "truncated or forged header"));
    int rc = 0;
    long rise = decode_rss_rise(m.p, m.len, &rc);
    assert_int_equal(rc, YPR_EFORMAT);
    if (rise > RSS_RISE_MAX_KIB)
        fail_msg("a forged 16384x16384 PNG raised resident memory by %ld KiB", rise);
    /* the header sniffer refuses it too */
    assert_int_equal(write_file("test_image_forged.png", m.p, m.len), 0);
    int w, h;
    assert_int_equal(ypr__image_size("test_image_forged.png", &w, &h), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "test_image_forged.png"));
    unlink("test_image_forged.png");
    free(m.p);
    /* the bound itself: 1000 rows of 1 + 333·3 = 1000 bytes inflate from
     * at least 10^6 / 1032 → 969 bytes (968·1032 = 998976 < 10^6) */
    assert_int_equal(ypr__image_check_header("x", YPR_IMG_PNG, 333, 1000, 24, 968),
                     YPR_EFORMAT);
    assert_int_equal(ypr__image_check_header("x", YPR_IMG_PNG, 333, 1000, 24, 969), YPR_OK);
    /* JPEG: 1024 pixels per byte; arithmetic coding has no such bound */
    assert_int_equal(ypr__image_check_header("x", YPR_IMG_JPEG, 1024, 1000, 0, 999),
                     YPR_EFORMAT);
    assert_int_equal(ypr__image_check_header("x", YPR_IMG_JPEG, 1024, 1000, 0, 1000), YPR_OK);
    assert_int_equal(ypr__image_check_header("x", YPR_IMG_JPEG_ARITH, 16384, 16384, 0, 100),
                     YPR_OK);
    assert_int_equal(ypr__image_check_header("x", YPR_IMG_JPEG_ARITH, 16385, 16384, 0, 1 << 30),
                     YPR_ERANGE);
}

static size_t find_marker(const membuf *m, uint8_t code)
{
    for (size_t i = 2; i + 1 < m->len; i++)
        if (m->p[i] == 0xFF && m->p[i + 1] == code)
            return i;
    fail_msg("marker FF%02X not found", code);
    return 0;
}

static membuf jpeg_with_size(const membuf *src, size_t sof, int w, int h)
{
    membuf m = {0};
    mb_append(&m, src->p, src->len);
    m.p[sof + 5] = (uint8_t)(h >> 8);
    m.p[sof + 6] = (uint8_t)h;
    m.p[sof + 7] = (uint8_t)(w >> 8);
    m.p[sof + 8] = (uint8_t)w;
    return m;
}

/* Issue #9: a JPEG whose SOF claims more than its data holds, or whose scan
 * is cut, used to decode to a grey picture. */
static void test_jpeg_forged_and_cut(void **state)
{
    (void)state;
    ypr_image src, img;
    random_image(&src, 160, 120, 21);
    membuf j = {0};
    assert_int_equal(ypr__jpeg_encode(&src, 75, &j.p, &j.len), YPR_OK);
    ypr__image_free(&src);
    size_t sof = find_marker(&j, 0xC0), sos = find_marker(&j, 0xDA);

    /* 16384×16384 over ~10 kB: refused from the header */
    membuf big = jpeg_with_size(&j, sof, 16384, 16384);
    assert_int_equal(load_copy(big.p, big.len, &img), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "truncated or forged header"));
    assert_null(img.rgb);
    int rc = 0;
    long rise = decode_rss_rise(big.p, big.len, &rc);
    assert_int_equal(rc, YPR_EFORMAT);
    if (rise > RSS_RISE_MAX_KIB)
        fail_msg("a forged 16384x16384 JPEG raised resident memory by %ld KiB", rise);
    assert_int_equal(write_file("test_image_forged.jpg", big.p, big.len), 0);
    int w, h;
    assert_int_equal(ypr__image_size("test_image_forged.jpg", &w, &h), YPR_EFORMAT);
    assert_int_equal(ypr__image_load("test_image_forged.jpg", &img), YPR_EFORMAT);
    unlink("test_image_forged.jpg");
    free(big.p);

    /* 400×400 passes the size bound, but the data ends after 160×120 worth
     * of blocks: libjpeg's "premature end of data segment" is an error */
    assert_true(400 * 400 <= (size_t)YPR_JPEG_MAX_PIXELS_PER_BYTE * j.len);
    membuf mid = jpeg_with_size(&j, sof, 400, 400);
    assert_int_equal(load_copy(mid.p, mid.len, &img), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "premature end of data segment"));
    free(mid.p);

    /* the scan cut in the middle, with and without an EOI after the cut */
    size_t cut = sos + (j.len - sos) / 2;
    assert_int_equal(load_copy(j.p, cut, &img), YPR_EFORMAT);
    membuf eoi = {0};
    mb_append(&eoi, j.p, cut);
    mb_append(&eoi, "\xFF\xD9", 2);
    assert_int_equal(load_copy(eoi.p, eoi.len, &img), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "premature end of data segment"));
    free(eoi.p);
    free(j.p);
}

static void test_file_size_limit(void **state)
{
    (void)state;
    /* a sparse file just above the limit: refused from its size, unread */
    int fd = open("test_image_huge.jpg", O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\xFF\xD8\xFF", 3), 3);
    assert_int_equal(ftruncate(fd, (off_t)YPR_IMAGE_MAX_BYTES + 1), 0);
    close(fd);
    ypr_image img;
    assert_int_equal(ypr__image_load("test_image_huge.jpg", &img), YPR_ERANGE);
    assert_non_null(strstr(ypr_last_error(), "test_image_huge.jpg"));
    unlink("test_image_huge.jpg");
}

static void test_image_alloc(void **state)
{
    (void)state;
    ypr_image img;
    assert_int_equal(ypr__image_alloc(&img, 7, 3), YPR_OK);
    assert_int_equal(img.w, 7);
    assert_int_equal(img.h, 3);
    for (int i = 0; i < 7 * 3 * 3; i++)
        assert_int_equal(img.rgb[i], 0);
    ypr__image_free(&img);
    assert_null(img.rgb);
    assert_int_equal(img.w, 0);
    ypr__image_free(&img);                  /* twice is harmless */
    ypr__image_free(NULL);
    assert_int_equal(ypr__image_alloc(&img, 0, 5), YPR_ERANGE);
    assert_int_equal(ypr__image_alloc(&img, -3, 5), YPR_ERANGE);
    assert_int_equal(ypr__image_alloc(&img, 32769, 1), YPR_ERANGE);
    assert_int_equal(ypr__image_alloc(&img, 20000, 20000), YPR_ERANGE);
    assert_int_equal(ypr__image_alloc(&img, INT_MAX, INT_MAX), YPR_ERANGE);
    assert_null(img.rgb);
}

/* --------------------------------------------------------------- drawing */

static const uint8_t BG[3] = {10, 20, 30};
static const uint8_t RED[3] = {250, 0, 0};
static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t BLUE[3] = {0, 0, 200};

static void fill_bg(ypr_image *img)
{
    for (int i = 0; i < img->w * img->h; i++)
        memcpy(img->rgb + 3 * i, BG, 3);
}

static int px_is(const ypr_image *img, int x, int y, const uint8_t c[3])
{
    return memcmp(img->rgb + ((size_t)y * img->w + x) * 3, c, 3) == 0;
}

/* Every pixel is either `color` (exactly where the outline predicate holds)
 * or untouched background. */
static void check_rect(const ypr_image *img, int64_t x1, int64_t y1, int64_t x2, int64_t y2,
                       int64_t t)
{
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            int inside = x >= x1 && x <= x2 && y >= y1 && y <= y2;
            int border = inside && (x - x1 < t || x2 - x < t || y - y1 < t || y2 - y < t);
            if (!px_is(img, x, y, border ? RED : BG))
                fail_msg("rect (%lld,%lld)-(%lld,%lld) t=%lld: pixel (%d,%d) wrong",
                         (long long)x1, (long long)y1, (long long)x2, (long long)y2,
                         (long long)t, x, y);
        }
}

static void test_draw_rect(void **state)
{
    (void)state;
    ypr_image img;
    assert_int_equal(ypr__image_alloc(&img, 20, 16), YPR_OK);
    static const struct { int x1, y1, x2, y2, t; int64_t et; } cases[] = {
        {3, 4, 12, 10, 1, 1},
        {3, 4, 12, 10, 2, 2},
        {3, 4, 12, 10, 0, 1},               /* thickness < 1 means 1 */
        {3, 4, 12, 10, 100, 100},           /* fills the box, nothing outside */
        {5, 5, 5, 5, 1, 1},                 /* one pixel */
        {0, 0, 19, 15, 1, 1},               /* the image border */
        {-1000000, -5, 1000000, 7, 3, 3},   /* only the bottom band shows */
        {-4, -4, 4, 4, 2, 2},
        {15, 12, 40, 30, 2, 2},
        {INT_MIN, INT_MIN, INT_MAX, INT_MAX, INT_MAX, INT_MAX},
        {INT_MIN, 2, INT_MAX, 9, 1, 1},
        {30, 30, 40, 40, 1, 1},             /* entirely outside */
        {-40, -40, -30, -30, 5, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fill_bg(&img);
        ypr__draw_rect(&img, cases[i].x1, cases[i].y1, cases[i].x2, cases[i].y2, RED, cases[i].t);
        check_rect(&img, cases[i].x1, cases[i].y1, cases[i].x2, cases[i].y2, cases[i].et);
    }
    /* corners given in the other order draw the same rectangle */
    fill_bg(&img);
    ypr__draw_rect(&img, 12, 10, 3, 4, RED, 2);
    check_rect(&img, 3, 4, 12, 10, 2);

    /* filled rectangles: the whole box */
    static const int fills[][4] = {
        {2, 3, 7, 9}, {INT_MIN, INT_MIN, INT_MAX, INT_MAX}, {19, 15, 19, 15},
        {100, 100, 200, 200}, {-5, -5, -1, -1}, {-3, 14, 2, 1000},
    };
    for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
        fill_bg(&img);
        ypr__fill_rect(&img, fills[i][0], fills[i][1], fills[i][2], fills[i][3], RED);
        check_rect(&img, fills[i][0], fills[i][1], fills[i][2], fills[i][3], INT64_MAX / 4);
    }
    ypr__image_free(&img);
}

/* Renders one character at scale 1 at (0,0) of a 6×8 image. */
static void render_char(char c, ypr_image *cell)
{
    fill_bg(cell);
    char s[2] = {c, 0};
    ypr__draw_text(cell, 0, 0, s, 1, WHITE, NULL);
}

static void test_font(void **state)
{
    (void)state;
    ypr_image cell, glyphs[95];
    assert_int_equal(ypr__image_alloc(&cell, 6, 8), YPR_OK);
    for (int c = 32; c <= 126; c++) {
        render_char((char)c, &cell);
        int on = 0;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 6; x++) {
                int white = px_is(&cell, x, y, WHITE);
                assert_true(white || px_is(&cell, x, y, BG));
                if (white && (x == 5 || y == 7))
                    fail_msg("glyph '%c' touches the spacing column/row", c);
                on += white;
            }
        if (c == ' ')
            assert_int_equal(on, 0);
        else if (on == 0)
            fail_msg("glyph '%c' is empty", c);
        assert_int_equal(ypr__image_alloc(&glyphs[c - 32], 6, 8), YPR_OK);
        memcpy(glyphs[c - 32].rgb, cell.rgb, 6 * 8 * 3);
    }
    for (int a = 0; a < 95; a++)
        for (int b = a + 1; b < 95; b++)
            if (memcmp(glyphs[a].rgb, glyphs[b].rgb, 6 * 8 * 3) == 0)
                fail_msg("glyphs '%c' and '%c' are identical", a + 32, b + 32);
    /* a non-printable byte renders like '?' */
    render_char('\x01', &cell);
    assert_memory_equal(cell.rgb, glyphs['?' - 32].rgb, 6 * 8 * 3);
    render_char('\xC3', &cell);
    assert_memory_equal(cell.rgb, glyphs['?' - 32].rgb, 6 * 8 * 3);

    /* scale 3: every font pixel becomes a 3×3 block */
    ypr_image big;
    assert_int_equal(ypr__image_alloc(&big, 18, 24), YPR_OK);
    fill_bg(&big);
    ypr__draw_text(&big, 0, 0, "&", 3, WHITE, NULL);
    const ypr_image *g = &glyphs['&' - 32];
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 18; x++)
            assert_int_equal(px_is(&big, x, y, WHITE), px_is(g, x / 3, y / 3, WHITE));
    ypr__image_free(&big);
    for (int i = 0; i < 95; i++)
        ypr__image_free(&glyphs[i]);
    ypr__image_free(&cell);
}

/* Text "Hi!" at (x, y): foreground only inside the 3 cells, background box
 * exactly the cells when requested, everything else untouched. */
static void check_text(int x, int y, int scale, int with_bg)
{
    ypr_image img;
    assert_int_equal(ypr__image_alloc(&img, 40, 30), YPR_OK);
    fill_bg(&img);
    ypr__draw_text(&img, x, y, "Hi!", scale, WHITE, with_bg ? BLUE : NULL);
    int64_t s = scale < 1 ? 1 : scale;
    int64_t bx1 = x, by1 = y, bx2 = (int64_t)x + 3 * 6 * s, by2 = (int64_t)y + 8 * s;
    int fg = 0, visible_cells = 0;
    for (int py = 0; py < img.h; py++)
        for (int px = 0; px < img.w; px++) {
            int in = px >= bx1 && px < bx2 && py >= by1 && py < by2;
            visible_cells |= in;
            if (px_is(&img, px, py, WHITE)) {
                if (!in)
                    fail_msg("text at (%d,%d) scale %d: ink outside its cells at (%d,%d)",
                             x, y, scale, px, py);
                fg++;
            } else if (in && with_bg) {
                assert_true(px_is(&img, px, py, BLUE));
            } else {
                assert_true(px_is(&img, px, py, BG));
            }
        }
    if (visible_cells && x >= 0 && y >= 0)
        assert_true(fg > 0);
    ypr__image_free(&img);
}

static void test_draw_text(void **state)
{
    (void)state;
    check_text(2, 3, 1, 0);
    check_text(2, 3, 1, 1);
    check_text(5, 1, 2, 1);
    check_text(0, 0, 0, 0);                 /* scale < 1 means 1 */
    check_text(-7, -3, 1, 1);
    check_text(30, 25, 2, 1);               /* runs off the bottom right */
    check_text(-100000, 5, 3, 1);
    check_text(INT_MAX - 3, INT_MAX - 3, 1, 1);
    check_text(INT_MIN, INT_MIN, INT_MAX, 1);
    check_text(0, 0, INT_MAX, 1);
    check_text(3, -20, 4, 1);
    /* long strings and a NULL string are safe */
    ypr_image img;
    assert_int_equal(ypr__image_alloc(&img, 16, 8), YPR_OK);
    char longtext[2000];
    memset(longtext, 'W', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    ypr__draw_text(&img, -5000, 0, longtext, 1, WHITE, BLUE);
    ypr__draw_text(&img, 0, 0, NULL, 1, WHITE, BLUE);
    ypr__draw_text(&img, 0, 0, longtext, INT_MAX / 2, WHITE, BLUE);
    ypr__image_free(&img);
}

static void test_class_colors(void **state)
{
    (void)state;
    uint8_t c[20][3];
    for (int i = 0; i < 20; i++) {
        ypr__class_color(i, c[i]);
        uint8_t again[3];
        ypr__class_color(i, again);
        assert_memory_equal(c[i], again, 3);
    }
    /* pairwise distinct, with an L1 distance of at least 40 levels */
    for (int a = 0; a < 20; a++)
        for (int b = a + 1; b < 20; b++) {
            int d = abs(c[a][0] - c[b][0]) + abs(c[a][1] - c[b][1]) + abs(c[a][2] - c[b][2]);
            if (d < 40)
                fail_msg("class colours %d and %d too close (L1 %d)", a, b, d);
        }
    uint8_t any[3];
    ypr__class_color(-1, any);
    ypr__class_color(INT_MAX, any);
    ypr__class_color(INT_MIN, any);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_alloc),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_png_write_errors),
        cmocka_unit_test(test_png_color_types),
        cmocka_unit_test(test_jpeg_roundtrip),
        cmocka_unit_test(test_jpeg_grey_progressive),
        cmocka_unit_test(test_jpeg_cmyk),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bitflips),
        cmocka_unit_test(test_warnings_logged),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_special_files),
        cmocka_unit_test(test_png_chunk_bomb),
        cmocka_unit_test(test_png_forged_header),
        cmocka_unit_test(test_jpeg_forged_and_cut),
        cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_draw_rect),
        cmocka_unit_test(test_font),
        cmocka_unit_test(test_draw_text),
        cmocka_unit_test(test_class_colors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
