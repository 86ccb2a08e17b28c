/* safetensors: write/read round trips, F16/BF16/F64 conversion, a fixture
 * written by PyTorch (tests/data/make_safetensors_fixture.py), malformed
 * headers, fuzz-style truncation and bit flips, the atomic writer.
 * White-box; runs in the build's tests/ folder and writes files there. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/core/core.h"
#include "lib/core/json.h"
#include "lib/io/io.h"

/* ---------------------------------------------------------------- helpers */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint64_t rd_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Names of leftover temporary files "<base>.tmp-*" in the current folder. */
static int count_tmp_files(const char *base)
{
    DIR *d = opendir(".");
    assert_non_null(d);
    size_t n = strlen(base);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, base, n) == 0 && strncmp(e->d_name + n, ".tmp-", 5) == 0)
            count++;
    closedir(d);
    return count;
}

/* Every tensor of an opened buffer lies inside it and is consistent. */
static void check_bounds(const ypr_safetensors *st, const unsigned char *buf, size_t len)
{
    static const size_t dsz[YPR_DT_COUNT_] = { 4, 2, 2, 8, 8, 4, 2, 1, 1, 1 };
    for (size_t i = 0; i < ypr__st_count(st); i++) {
        const ypr_st_tensor *t = ypr__st_at(st, i);
        assert_non_null(t);
        assert_true(t->dtype >= 0 && t->dtype < YPR_DT_COUNT_);
        assert_true(t->ndim >= 0 && t->ndim <= YPR_ST_MAX_DIMS);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            assert_true(t->shape[d] >= 0);
            numel *= t->shape[d];
        }
        assert_true(numel == t->numel);
        assert_true((uint64_t)t->numel * dsz[t->dtype] == t->nbytes);
        const unsigned char *p = t->data;
        assert_true(p >= buf + 8 && p <= buf + len);
        assert_true(t->nbytes <= (size_t)(buf + len - p));
        assert_ptr_equal(ypr__st_find(st, t->name), t);
        if (t->dtype <= YPR_DT_F64 && t->numel <= 4096) {
            float tmp[4096];
            assert_int_equal(ypr__st_to_f32(t, tmp), YPR_OK);
        }
    }
}

/* Build "<u64 N><header><data_len bytes>" in an exact-size heap buffer. */
static unsigned char *make_buf(const char *header, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_len; i++)
        b[8 + h + i] = (unsigned char)(i * 37 + 1);
    return b;
}

/* ------------------------------------------------------------ round trip */

static void test_roundtrip(void **state)
{
    (void)state;
    const float w[6] = { 1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-40f };
    const float scalar = 42.0f;
    const uint16_t h[3] = { 0x3C00, 0xC000, 0x7C00 };
    const int64_t iv[2] = { -5, INT64_MAX };
    const uint8_t u8[5] = { 1, 2, 3, 4, 255 };
    const int64_t sh_w[2] = { 2, 3 }, sh_empty[3] = { 4, 0, 2 }, sh_h[1] = { 3 },
                  sh_i[1] = { 2 }, sh_u8[1] = { 5 };
    const char *odd = "na\"me/\xc3\xa9\\x";
    const ypr_st_entry e[] = {
        { "w", YPR_DT_F32, 2, sh_w, w },
        { "scalar", YPR_DT_F32, 0, NULL, &scalar },
        { "empty", YPR_DT_F32, 3, sh_empty, NULL },
        { "h", YPR_DT_F16, 1, sh_h, h },
        { "u8", YPR_DT_U8, 1, sh_u8, u8 },
        { "i", YPR_DT_I64, 1, sh_i, iv },
        { odd, YPR_DT_BF16, 1, sh_h, h },
    };
    const size_t ne = sizeof e / sizeof e[0];
    const char *meta[] = { "format", "pt", "note", "quote \" and \n newline", "empty", "" };
    unlink("rt.safetensors");
    assert_int_equal(ypr__st_write("rt.safetensors", e, ne, meta, 3), YPR_OK);
    assert_int_equal(count_tmp_files("rt.safetensors"), 0);

    /* on-disk layout: data starts at a multiple of 8, header padded with spaces */
    size_t len;
    unsigned char *raw = read_file("rt.safetensors", &len);
    assert_non_null(raw);
    uint64_t hl = rd_le64(raw);
    assert_int_equal((8 + hl) % 8, 0);
    assert_true(8 + hl <= len);
    ypr_json *hj;
    assert_int_equal(ypr__json_parse((const char *)raw + 8, (size_t)hl, "hdr", &hj), YPR_OK);
    assert_string_equal(ypr__json_key_at(hj, 0), "__metadata__");
    const ypr_json *jw = ypr__json_get(hj, "w");
    assert_string_equal(ypr__json_str(ypr__json_get(jw, "dtype")), "F32");
    ypr__json_free(hj);
    size_t total = 6 * 4 + 4 + 0 + 3 * 2 + 5 + 2 * 8 + 3 * 2;
    assert_int_equal(len, 8 + hl + total);

    ypr_safetensors *st = NULL;
    assert_int_equal(ypr__st_open("rt.safetensors", &st), YPR_OK);
    assert_non_null(st);
    assert_int_equal(ypr__st_count(st), ne);
    for (size_t i = 0; i < ne; i++) {
        const ypr_st_tensor *t = ypr__st_at(st, i);
        assert_string_equal(t->name, e[i].name);                 /* file order */
        assert_ptr_equal(ypr__st_find(st, e[i].name), t);
        assert_int_equal(t->dtype, e[i].dtype);
        assert_int_equal(t->ndim, e[i].ndim);
        int64_t numel = 1;
        for (int d = 0; d < e[i].ndim; d++) {
            assert_true(t->shape[d] == e[i].shape[d]);
            numel *= e[i].shape[d];
        }
        assert_true(t->numel == numel);
        if (t->nbytes)
            assert_memory_equal(t->data, e[i].data, t->nbytes);
    }
    assert_null(ypr__st_at(st, ne));
    assert_null(ypr__st_find(st, "nope"));
    assert_null(ypr__st_find(st, "W"));
    const ypr_st_tensor *t = ypr__st_find(st, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_true(t->numel == 1);
    assert_int_equal(t->nbytes, 4);
    t = ypr__st_find(st, "empty");
    assert_true(t->numel == 0);
    assert_int_equal(t->nbytes, 0);
    float out[6];
    assert_int_equal(ypr__st_to_f32(t, NULL), YPR_OK);        /* nothing to write */
    t = ypr__st_find(st, "w");
    assert_int_equal(ypr__st_to_f32(t, out), YPR_OK);
    assert_memory_equal(out, w, sizeof w);
    t = ypr__st_find(st, "h");
    assert_int_equal(ypr__st_to_f32(t, out), YPR_OK);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && isinf(out[2]) && out[2] > 0);
    t = ypr__st_find(st, "i");
    assert_int_equal(ypr__st_to_f32(t, out), YPR_EUNSUPPORTED);
    assert_non_null(strstr(ypr_last_error(), "'i'"));
    assert_non_null(strstr(ypr_last_error(), "I64"));

    assert_int_equal(ypr__st_meta_count(st), 3);
    assert_string_equal(ypr__st_meta(st, "format"), "pt");
    assert_string_equal(ypr__st_meta(st, "note"), "quote \" and \n newline");
    assert_string_equal(ypr__st_meta(st, "empty"), "");
    assert_null(ypr__st_meta(st, "missing"));
    /* keys come back sorted */
    assert_string_equal(ypr__st_meta_key(st, 0), "empty");
    assert_string_equal(ypr__st_meta_key(st, 1), "format");
    assert_string_equal(ypr__st_meta_key(st, 2), "note");
    assert_null(ypr__st_meta_key(st, 3));
    ypr__st_close(st);

    /* the same bytes through the memory path */
    assert_int_equal(ypr__st_open_mem(raw, len, "mem", &st), YPR_OK);
    assert_int_equal(ypr__st_count(st), ne);
    check_bounds(st, raw, len);
    assert_ptr_equal(ypr__st_find(st, "w")->data, raw + 8 + hl);
    ypr__st_close(st);
    free(raw);
    unlink("rt.safetensors");

    /* no tensors, no metadata */
    assert_int_equal(ypr__st_write("rt0.safetensors", NULL, 0, NULL, 0), YPR_OK);
    assert_int_equal(ypr__st_open("rt0.safetensors", &st), YPR_OK);
    assert_int_equal(ypr__st_count(st), 0);
    assert_int_equal(ypr__st_meta_count(st), 0);
    assert_null(ypr__st_meta(st, "format"));
    ypr__st_close(st);
    ypr__st_close(NULL);
    unlink("rt0.safetensors");
}

/* ------------------------------------------------------------ conversion */

/* Independent reference: the IEEE binary16 value by its definition. */
static float f16_reference(unsigned h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, e - 25);
    return (float)(s ? -v : v);
}

static float bf16_reference(unsigned b)
{
    int s = b >> 15, e = (b >> 7) & 255, m = b & 127;
    double v;
    if (e == 255)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(m, -133);
    else
        v = ldexp(128 + m, e - 134);
    return (float)(s ? -v : v);
}

static void convert16(int dtype, const uint16_t *bits, size_t n, float *out)
{
    /* little-endian bytes at an odd address: data may be unaligned */
    unsigned char *buf = malloc(2 * n + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) {
        buf[1 + 2 * i] = (unsigned char)(bits[i] & 0xFF);
        buf[2 + 2 * i] = (unsigned char)(bits[i] >> 8);
    }
    ypr_st_tensor t = { .name = "t", .dtype = dtype, .ndim = 1, .shape = { (int64_t)n },
                        .numel = (int64_t)n, .data = buf + 1, .nbytes = 2 * n };
    assert_int_equal(ypr__st_to_f32(&t, out), YPR_OK);
    free(buf);
}

static void test_f16(void **state)
{
    (void)state;
    const struct { uint16_t h; float want; } known[] = {
        { 0x3C00, 1.0f }, { 0xBC00, -1.0f }, { 0x7BFF, 65504.0f }, { 0xFBFF, -65504.0f },
        { 0x0001, 0x1p-24f }, { 0x8001, -0x1p-24f }, { 0x03FF, 0x3FFp-24f },
        { 0x0400, 0x1p-14f }, { 0x0200, 0x1p-15f }, { 0x3555, 0x1.554p-2f },
        { 0xC000, -2.0f }, { 0x3800, 0.5f }, { 0x4248, 3.140625f }, { 0x0000, 0.0f },
        { 0x7C00, INFINITY }, { 0xFC00, -INFINITY },
    };
    const size_t nk = sizeof known / sizeof known[0];
    uint16_t bits[32];
    float out[32];
    for (size_t i = 0; i < nk; i++)
        bits[i] = known[i].h;
    bits[nk] = 0x8000;
    bits[nk + 1] = 0x7E00;
    bits[nk + 2] = 0x7C01;      /* signalling NaN: must stay NaN, not inf */
    bits[nk + 3] = 0xFE00;
    convert16(YPR_DT_F16, bits, nk + 4, out);
    for (size_t i = 0; i < nk; i++)
        if (f32_bits(out[i]) != f32_bits(known[i].want))
            fail_msg("f16 0x%04x -> %a, want %a", known[i].h, (double)out[i],
                     (double)known[i].want);
    assert_true(out[nk] == 0.0f && signbit(out[nk]));
    assert_true(isnan(out[nk + 1]) && !signbit(out[nk + 1]));
    assert_true(isnan(out[nk + 2]));
    assert_true(isnan(out[nk + 3]) && signbit(out[nk + 3]));

    /* all 65536 patterns against the definition */
    uint16_t *all = malloc(65536 * sizeof *all);
    float *res = malloc(65536 * sizeof *res);
    assert_non_null(all);
    assert_non_null(res);
    for (unsigned i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    convert16(YPR_DT_F16, all, 65536, res);
    for (unsigned i = 0; i < 65536; i++) {
        float want = f16_reference(i);
        if (isnan(want) ? !isnan(res[i]) || !!signbit(res[i]) != !!(i & 0x8000)
                        : f32_bits(res[i]) != f32_bits(want))
            fail_msg("f16 0x%04x -> %a, want %a", i, (double)res[i], (double)want);
    }
    free(all);
    free(res);
}

static void test_bf16_f64(void **state)
{
    (void)state;
    const struct { uint16_t h; float want; } known[] = {
        { 0x3F80, 1.0f }, { 0xBF80, -1.0f }, { 0xC000, -2.0f }, { 0x4049, 3.140625f },
        { 0x7F7F, 0x1.FEp127f }, { 0x0080, 0x1p-126f }, { 0x0001, 0x1p-133f },
        { 0x7F80, INFINITY }, { 0xFF80, -INFINITY }, { 0x3E80, 0.25f },
    };
    const size_t nk = sizeof known / sizeof known[0];
    uint16_t bits[16];
    float out[16];
    for (size_t i = 0; i < nk; i++)
        bits[i] = known[i].h;
    bits[nk] = 0x8000;
    bits[nk + 1] = 0x7FC0;
    convert16(YPR_DT_BF16, bits, nk + 2, out);
    for (size_t i = 0; i < nk; i++)
        if (f32_bits(out[i]) != f32_bits(known[i].want))
            fail_msg("bf16 0x%04x -> %a, want %a", known[i].h, (double)out[i],
                     (double)known[i].want);
    assert_true(out[nk] == 0.0f && signbit(out[nk]));
    assert_true(isnan(out[nk + 1]));

    uint16_t *all = malloc(65536 * sizeof *all);
    float *res = malloc(65536 * sizeof *res);
    assert_non_null(all);
    assert_non_null(res);
    for (unsigned i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    convert16(YPR_DT_BF16, all, 65536, res);
    for (unsigned i = 0; i < 65536; i++) {
        float want = bf16_reference(i);
        if (isnan(want) ? !isnan(res[i]) : f32_bits(res[i]) != f32_bits(want))
            fail_msg("bf16 0x%04x -> %a, want %a", i, (double)res[i], (double)want);
    }
    free(all);
    free(res);

    /* F64 rounds to nearest float; F32 passes through */
    const double d[6] = { 1.5, 1e300, -1e-50, 0.1, -3.0, NAN };
    unsigned char buf[6 * 8 + 1];
    for (int i = 0; i < 6; i++) {
        uint64_t u;
        memcpy(&u, &d[i], 8);
        for (int k = 0; k < 8; k++)
            buf[1 + 8 * i + k] = (unsigned char)(u >> (8 * k));
    }
    ypr_st_tensor t = { .name = "d", .dtype = YPR_DT_F64, .ndim = 1, .shape = { 6 },
                        .numel = 6, .data = buf + 1, .nbytes = 48 };
    assert_int_equal(ypr__st_to_f32(&t, out), YPR_OK);
    assert_true(out[0] == 1.5f);
    assert_true(isinf(out[1]) && out[1] > 0);
    assert_true(out[2] == 0.0f && signbit(out[2]));
    assert_true(out[3] == 0.1f);
    assert_true(out[4] == -3.0f);
    assert_true(isnan(out[5]));

    t.dtype = YPR_DT_U8;
    assert_int_equal(ypr__st_to_f32(&t, out), YPR_EUNSUPPORTED);
    assert_non_null(strstr(ypr_last_error(), "'d'"));
    assert_int_equal(ypr__st_to_f32(NULL, out), YPR_EINVAL);
}

/* ---------------------------------------------------------------- fixture */

/* The source folder's tests/data: from $YPR_TEST_DATA_DIR, or found next to
 * this source file (meson compiles it by a path relative to the build root,
 * and the test runs in <build>/tests). */
static int find_data(const char *file, char *out, size_t cap)
{
    char dir[4096];
    const char *env = getenv("YPR_TEST_DATA_DIR");
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    size_t dl = slash ? (size_t)(slash - src) : 0;
    const char *cands[4] = { NULL, NULL, NULL, NULL };
    char c1[4096], c2[4096];
    if (env)
        cands[0] = env;
    snprintf(c1, sizeof c1, "%.*s%sdata", (int)dl, src, slash ? "/" : "");
    cands[1] = c1;
    snprintf(c2, sizeof c2, "../%.*s%sdata", (int)dl, src, slash ? "/" : "");
    cands[2] = c2;
    cands[3] = "../../tests/data";
    for (int i = 0; i < 4; i++) {
        if (!cands[i])
            continue;
        snprintf(dir, sizeof dir, "%s/%s", cands[i], file);
        if (access(dir, R_OK) == 0) {
            snprintf(out, cap, "%s", dir);
            return 0;
        }
    }
    return -1;
}

static void test_fixture(void **state)
{
    (void)state;
    char path[4096], binpath[4096];
    if (find_data("yolo_fixture.safetensors", path, sizeof path) != 0 ||
        find_data("yolo_fixture_f32.bin", binpath, sizeof binpath) != 0)
        fail_msg("tests/data fixture not found (set YPR_TEST_DATA_DIR)");
    size_t blen;
    unsigned char *bin = read_file(binpath, &blen);
    assert_non_null(bin);

    /* what make_safetensors_fixture.py writes, in sorted-name order */
    const struct { const char *name; int dtype; int ndim; int64_t shape[4]; } want[] = {
        { "model.0.bn.num_batches_tracked", YPR_DT_I64, 0, { 0 } },
        { "model.0.bn.running_var", YPR_DT_F32, 1, { 4 } },
        { "model.0.bn.weight", YPR_DT_BF16, 1, { 4 } },
        { "model.0.conv.weight", YPR_DT_F16, 4, { 4, 3, 3, 3 } },
        { "model.105.anchors", YPR_DT_F32, 3, { 3, 3, 2 } },
        { "model.105.ia.0.implicit", YPR_DT_F64, 4, { 1, 4, 1, 1 } },
        { "model.105.m.0.bias", YPR_DT_F16, 1, { 10 } },
        { "model.105.m.1.weight", YPR_DT_BF16, 3, { 2, 0, 3 } },
    };
    const size_t nw = sizeof want / sizeof want[0];
    ypr_safetensors *st;
    if (ypr__st_open(path, &st) != YPR_OK)
        fail_msg("%s", ypr_last_error());
    assert_int_equal(ypr__st_count(st), nw);
    assert_string_equal(ypr__st_meta(st, "format"), "pt");
    size_t at = 0;                                   /* floats consumed from bin */
    float vals[128];
    for (size_t i = 0; i < nw; i++) {
        const ypr_st_tensor *t = ypr__st_at(st, i);
        assert_string_equal(t->name, want[i].name);
        assert_int_equal(t->dtype, want[i].dtype);
        assert_int_equal(t->ndim, want[i].ndim);
        int64_t numel = 1;
        for (int d = 0; d < want[i].ndim; d++) {
            assert_true(t->shape[d] == want[i].shape[d]);
            numel *= want[i].shape[d];
        }
        assert_true(t->numel == numel);
        if (t->dtype == YPR_DT_I64) {
            assert_true(rd_le64(t->data) == 1234);
            continue;
        }
        assert_true(numel <= 128);
        assert_int_equal(ypr__st_to_f32(t, vals), YPR_OK);
        assert_true((at + (size_t)numel) * 4 <= blen);
        for (int64_t k = 0; k < numel; k++) {
            float ref;
            memcpy(&ref, bin + 4 * (at + (size_t)k), 4);   /* little-endian host */
            if (isnan(ref) ? !isnan(vals[k]) : f32_bits(ref) != f32_bits(vals[k]))
                fail_msg("%s[%lld] = %a, torch says %a", t->name, (long long)k,
                         (double)vals[k], (double)ref);
        }
        at += (size_t)numel;
    }
    assert_int_equal(at * 4, blen);                  /* every expected value used */
    /* the special F16 values really are in the fixture */
    const ypr_st_tensor *b = ypr__st_find(st, "model.105.m.0.bias");
    assert_int_equal(ypr__st_to_f32(b, vals), YPR_OK);
    assert_true(vals[0] == 1.0f && vals[1] == 65504.0f && vals[2] == 0x1p-24f);
    assert_true(vals[3] == 0.0f && signbit(vals[3]) && isinf(vals[4]) && isnan(vals[6]));
    ypr__st_close(st);
    free(bin);
}

/* ------------------------------------------------------------ bad headers */

static void expect_bad(const char *header, size_t data_len, const char *problem)
{
    size_t len;
    unsigned char *b = make_buf(header, data_len, &len);
    ypr_safetensors *st = (ypr_safetensors *)0x1;
    ypr__clear_error();
    int rc = ypr__st_open_mem(b, len, "fx.safetensors", &st);
    if (rc != YPR_EFORMAT)
        fail_msg("header %s (data %zu) gave %d, want YPR_EFORMAT", header, data_len, rc);
    assert_null(st);
    const char *msg = ypr_last_error();
    if (!strstr(msg, "fx.safetensors") || !strstr(msg, problem))
        fail_msg("header %s: message '%s' lacks 'fx.safetensors' or '%s'", header, msg, problem);
    free(b);
}

static void expect_good(const char *header, size_t data_len, size_t count)
{
    size_t len;
    unsigned char *b = make_buf(header, data_len, &len);
    ypr_safetensors *st = NULL;
    if (ypr__st_open_mem(b, len, "fx", &st) != YPR_OK)
        fail_msg("header %s: %s", header, ypr_last_error());
    assert_int_equal(ypr__st_count(st), count);
    check_bounds(st, b, len);
    ypr__st_close(st);
    free(b);
}

#define T_A "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

static void test_bad_headers(void **state)
{
    (void)state;
    expect_good("{" T_A "}", 4, 1);
    expect_good("{" T_A "}      ", 4, 1);                      /* space padding */
    expect_good("{}", 0, 0);
    expect_good("{\"__metadata__\":{}}", 0, 0);
    expect_good("{\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
                "\"y\":{\"dtype\":\"BOOL\",\"shape\":[0,5],\"data_offsets\":[0,0]}," T_A
                ",\"x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[4,5],\"extra\":[1]}}", 5, 4);

    /* size field and file length */
    unsigned char tiny[5] = { 2, 0, 0, 0, 0 };
    ypr_safetensors *st = (ypr_safetensors *)0x1;
    assert_int_equal(ypr__st_open_mem(tiny, 5, "fx.safetensors", &st), YPR_EFORMAT);
    assert_null(st);
    assert_non_null(strstr(ypr_last_error(), "fx.safetensors: file too short"));
    assert_int_equal(ypr__st_open_mem(tiny, 0, "fx.safetensors", &st), YPR_EFORMAT);
    unsigned char big[16] = { 0 };
    big[3] = 0x10;                                   /* 256 MiB */
    assert_int_equal(ypr__st_open_mem(big, 16, "fx.safetensors", &st), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "absurd"));
    memset(big, 0xFF, 8);                            /* 2^64 - 1 */
    assert_int_equal(ypr__st_open_mem(big, 16, "fx.safetensors", &st), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "absurd"));
    memset(big, 0, 16);
    big[0] = 9;                                      /* 9 > 16 - 8 */
    assert_int_equal(ypr__st_open_mem(big, 16, "fx.safetensors", &st), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "exceeds the file"));
    assert_int_equal(ypr__st_open_mem(NULL, 8, "fx", &st), YPR_EINVAL);

    /* JSON level */
    expect_bad("", 0, "invalid JSON");
    expect_bad("{\"a\":", 0, "invalid JSON");
    expect_bad("{\"a\":{}} x", 0, "invalid JSON: trailing characters");
    expect_bad("[]", 0, "header is not a JSON object");
    expect_bad("{\"a\":1}", 0, "tensor 'a': entry is not an object");

    /* dtype */
    expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing or non-string \"dtype\"");
    expect_bad("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\"");
    expect_bad("{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 'a': unknown dtype 'F8'");
    expect_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'f32'");
    expect_bad("{\"a\":{\"dtype\":\"F32\\u0000\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");

    /* shape */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing or non-array \"shape\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "non-array \"shape\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': shape[0] is negative");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1.5],\"data_offsets\":[0,4]}}", 4, "shape[1] is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape[0] is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "9 dimensions");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4, "tensor 'a': shape overflows");
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", 4, "byte size overflows");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e400],\"data_offsets\":[0,4]}}", 4, "number out of range");

    /* offsets */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a': \"data_offsets\" must be an array of 2");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "\"data_offsets\" must be");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "tensor 'a': invalid \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "invalid \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4, "invalid \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4, "invalid \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "tensor 'a': data_offsets span 4 bytes but F32 × shape needs 8");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a': data_offsets [4, 8] leave a gap");
    expect_bad("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, "tensor 'b': data_offsets [2, 6] overlap");
    expect_bad("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "overlap");
    expect_bad("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "tensor 'b': data_offsets [8, 12] leave a gap");
    expect_bad("{" T_A "}", 2, "tensor 'a': data_offsets [0, 4] beyond the data (2 bytes)");
    expect_bad("{" T_A "}", 8, "tensors cover 4 bytes but the data region has 8");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775804,9223372036854775808]}}", 4, "invalid \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[9223372036854775803,9223372036854775807]}}", 4, "gap");

    /* names and metadata */
    expect_bad("{" T_A "," T_A "}", 4, "duplicate tensor name 'a'");
    expect_bad("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "holds a NUL byte");
    expect_bad("{\"__metadata__\":[]," T_A "}", 4, "\"__metadata__\" is not an object");
    expect_bad("{\"__metadata__\":{\"k\":1}," T_A "}", 4, "metadata 'k' is not a string");
    expect_bad("{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\":{}," T_A "}", 4, "duplicate \"__metadata__\"");
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}," T_A "}", 4, "duplicate metadata key 'k'");
    expect_bad("{\"__metadata__\":{\"k\":\"v\\u0000\"}," T_A "}", 4, "NUL");

    /* the exact message, once */
    size_t len;
    unsigned char *b = make_buf("{\"model.0.conv.weight\":{\"dtype\":\"Q4\",\"shape\":[1],"
                                "\"data_offsets\":[0,1]}}", 1, &len);
    assert_int_equal(ypr__st_open_mem(b, len, "yolov7.safetensors", &st), YPR_EFORMAT);
    assert_string_equal(ypr_last_error(), "YPR_EFORMAT: yolov7.safetensors: tensor "
                        "'model.0.conv.weight': unknown dtype 'Q4'");
    free(b);
}

static void test_open_errors(void **state)
{
    (void)state;
    ypr_safetensors *st = (ypr_safetensors *)0x1;
    assert_int_equal(ypr__st_open("no_such_dir/none.safetensors", &st), YPR_EIO);
    assert_null(st);
    assert_non_null(strstr(ypr_last_error(), "no_such_dir/none.safetensors"));
    mkdir("st_dir.safetensors", 0755);
    assert_int_equal(ypr__st_open("st_dir.safetensors", &st), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "st_dir.safetensors"));
    assert_non_null(strstr(ypr_last_error(), "not a regular file (a directory)"));
    rmdir("st_dir.safetensors");
    /* a FIFO is refused without blocking in open() (the alarm turns a hang
     * into a failure) */
    unlink("st_fifo.safetensors");
    assert_int_equal(mkfifo("st_fifo.safetensors", 0600), 0);
    alarm(20);
    assert_int_equal(ypr__st_open("st_fifo.safetensors", &st), YPR_EIO);
    alarm(0);
    assert_null(st);
    assert_non_null(strstr(ypr_last_error(), "st_fifo.safetensors: not a regular file (a FIFO)"));
    unlink("st_fifo.safetensors");
    write_file("st_empty.safetensors", "", 0);
    assert_int_equal(ypr__st_open("st_empty.safetensors", &st), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "st_empty.safetensors: file too short"));
    write_file("st_trunc.safetensors", "\x10\0\0\0\0\0\0\0{}", 10);
    assert_int_equal(ypr__st_open("st_trunc.safetensors", &st), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "st_trunc.safetensors: header size 16 exceeds"));
    unlink("st_empty.safetensors");
    unlink("st_trunc.safetensors");
    assert_int_equal(ypr__st_open(NULL, &st), YPR_EINVAL);
}

/* ------------------------------------------------------------------- fuzz */

static unsigned char *fuzz_seed(size_t *len)
{
    const float w[6] = { 1, 2, 3, 4, 5, 6 };
    const uint16_t h[4] = { 0x3C00, 0x7BFF, 0x0001, 0x7E00 };
    const int64_t s1[2] = { 2, 3 }, s2[1] = { 4 }, s3[3] = { 1, 0, 2 };
    const ypr_st_entry e[] = {
        { "model.0.conv.weight", YPR_DT_F32, 2, s1, w },
        { "model.0.bn.bias", YPR_DT_F16, 1, s2, h },
        { "z", YPR_DT_BF16, 3, s3, NULL },
        { "s", YPR_DT_F32, 0, NULL, w },
        { "u", YPR_DT_U8, 1, s2, w },
    };
    const char *meta[] = { "format", "pt" };
    assert_int_equal(ypr__st_write("fuzz.safetensors", e, 5, meta, 1), YPR_OK);
    unsigned char *b = read_file("fuzz.safetensors", len);
    assert_non_null(b);
    unlink("fuzz.safetensors");
    return b;
}

static void fuzz_one(const unsigned char *src, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);         /* exact size for ASan */
    assert_non_null(b);
    memcpy(b, src, len);
    ypr_safetensors *st = NULL;
    int rc = ypr__st_open_mem(b, len, "fuzz", &st);
    if (rc == YPR_OK) {
        check_bounds(st, b, len);
        ypr__st_close(st);
    } else if (rc != YPR_EFORMAT) {
        fail_msg("open_mem returned %d: %s", rc, ypr_last_error());
    } else {
        assert_null(st);
        assert_non_null(strstr(ypr_last_error(), "fuzz"));
    }
    free(b);
}

static void test_fuzz(void **state)
{
    (void)state;
    size_t len;
    unsigned char *good = fuzz_seed(&len);
    ypr_safetensors *st;
    assert_int_equal(ypr__st_open_mem(good, len, "fuzz", &st), YPR_OK);
    ypr__st_close(st);

    /* every truncation is an error */
    for (size_t n = 0; n < len; n++) {
        unsigned char *b = malloc(n ? n : 1);
        assert_non_null(b);
        memcpy(b, good, n);
        st = (ypr_safetensors *)0x1;
        if (ypr__st_open_mem(b, n, "fuzz", &st) != YPR_EFORMAT)
            fail_msg("truncation to %zu bytes was accepted", n);
        assert_null(st);
        free(b);
    }

    uint64_t hl = rd_le64(good);
    unsigned char *m = malloc(len);
    assert_non_null(m);
    ypr_rng rng;
    ypr__rng_seed(&rng, 12345);
    /* random bit flips, mostly in the size field and the header */
    int accepted = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(m, good, len);
        int flips = 1 + (int)(ypr__rng_u64(&rng) % 3);
        for (int f = 0; f < flips; f++) {
            uint64_t r = ypr__rng_u64(&rng);
            size_t pos = (r & 7) == 0 ? (size_t)(r >> 8) % len
                                      : (size_t)((r >> 8) % (8 + hl));
            m[pos] ^= (unsigned char)(1u << ((r >> 3) & 7));
        }
        size_t n = len;
        if (ypr__rng_u64(&rng) % 8 == 0)
            n = (size_t)(ypr__rng_u64(&rng) % (len + 1));
        ypr_safetensors *s2 = NULL;
        if (ypr__st_open_mem(m, n, "x", &s2) == YPR_OK) {
            accepted++;
            ypr__st_close(s2);
        }
        fuzz_one(m, n);
    }
    /* structural substitutions: digits, brackets and quotes in the header */
    const char alphabet[] = "0123456789-+.eE\"[]{},: \\u";
    for (int it = 0; it < 4000; it++) {
        memcpy(m, good, len);
        int subs = 1 + (int)(ypr__rng_u64(&rng) % 2);
        for (int f = 0; f < subs; f++) {
            uint64_t r = ypr__rng_u64(&rng);
            size_t pos = 8 + (size_t)(r % hl);
            m[pos] = (unsigned char)alphabet[(r >> 32) % (sizeof alphabet - 1)];
        }
        fuzz_one(m, len);
    }
    /* some variants must still be valid (e.g. flips in the data or padding) */
    assert_true(accepted > 0);
    free(m);
    free(good);
}

/* ---------------------------------------------------------- atomic writer */

static void test_atomic_write(void **state)
{
    (void)state;
    const float a[2] = { 1, 2 }, bvals[3] = { 7, 8, 9 };
    const int64_t s2[1] = { 2 }, s3[1] = { 3 };
    const ypr_st_entry ea = { "a", YPR_DT_F32, 1, s2, a };
    const ypr_st_entry eb = { "b", YPR_DT_F32, 1, s3, bvals };
    unlink("aw.safetensors");
    write_file("aw.safetensors", "old contents", 12);
    assert_int_equal(ypr__st_write("aw.safetensors", &ea, 1, NULL, 0), YPR_OK);
    assert_int_equal(ypr__st_write("aw.safetensors", &eb, 1, NULL, 0), YPR_OK);
    assert_int_equal(count_tmp_files("aw.safetensors"), 0);
    ypr_safetensors *st;
    assert_int_equal(ypr__st_open("aw.safetensors", &st), YPR_OK);
    assert_int_equal(ypr__st_count(st), 1);
    assert_null(ypr__st_find(st, "a"));
    const ypr_st_tensor *t = ypr__st_find(st, "b");
    assert_non_null(t);
    assert_memory_equal(t->data, bvals, sizeof bvals);
    ypr__st_close(st);

    /* a missing directory */
    int rc = ypr__st_write("no_such_dir/x.safetensors", &ea, 1, NULL, 0);
    assert_int_equal(rc, YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "no_such_dir/x.safetensors"));

    /* invalid entries: EINVAL naming them; the old file stays, no temporaries */
    size_t before_len;
    unsigned char *before = read_file("aw.safetensors", &before_len);
    const int64_t neg[1] = { -1 }, huge[3] = { INT64_MAX / 2, 4, 4 };
    const ypr_st_entry bad[][2] = {
        { { NULL, YPR_DT_F32, 1, s2, a }, { 0 } },
        { { "", YPR_DT_F32, 1, s2, a }, { 0 } },
        { { "bad_dtype", 42, 1, s2, a }, { 0 } },
        { { "bad_ndim", YPR_DT_F32, 9, huge, a }, { 0 } },
        { { "no_shape", YPR_DT_F32, 1, NULL, a }, { 0 } },
        { { "neg_dim", YPR_DT_F32, 1, neg, a }, { 0 } },
        { { "overflow", YPR_DT_F32, 3, huge, a }, { 0 } },
        { { "no_data", YPR_DT_F32, 1, s2, NULL }, { 0 } },
        { { "__metadata__", YPR_DT_F32, 1, s2, a }, { 0 } },
        { { "dup", YPR_DT_F32, 1, s2, a }, { "dup", YPR_DT_F32, 1, s3, bvals } },
    };
    const char *names[] = { "entry 0", "entry 0", "bad_dtype", "bad_ndim", "no_shape",
                            "neg_dim", "overflow", "no_data", "reserved", "duplicate tensor name 'dup'" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = bad[i][1].name ? 2 : 1;
        rc = ypr__st_write("aw.safetensors", bad[i], n, NULL, 0);
        if (rc != YPR_EINVAL || !strstr(ypr_last_error(), names[i]))
            fail_msg("bad entry %zu: rc %d, '%s'", i, rc, ypr_last_error());
        assert_non_null(strstr(ypr_last_error(), "aw.safetensors"));
    }
    const char *nullval[] = { "k", NULL };
    assert_int_equal(ypr__st_write("aw.safetensors", &ea, 1, nullval, 1), YPR_EINVAL);
    const char *dupmeta[] = { "k", "1", "k", "2" };
    assert_int_equal(ypr__st_write("aw.safetensors", &ea, 1, dupmeta, 2), YPR_EINVAL);
    assert_non_null(strstr(ypr_last_error(), "duplicate metadata key 'k'"));
    assert_int_equal(ypr__st_write("aw.safetensors", NULL, 1, NULL, 0), YPR_EINVAL);
    assert_int_equal(ypr__st_write(NULL, &ea, 1, NULL, 0), YPR_EINVAL);
    size_t after_len;
    unsigned char *after = read_file("aw.safetensors", &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    assert_int_equal(count_tmp_files("aw.safetensors"), 0);
    free(before);
    free(after);
    unlink("aw.safetensors");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_f16),
        cmocka_unit_test(test_bf16_f64),
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
