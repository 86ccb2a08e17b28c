/* PyTorch .pt checkpoints: the ZIP reader, the restricted unpickler and the
 * YOLOv7 loader. Fixtures from tests/data/pt/make_pt_fixture.py (Debian's
 * python3-torch); hostile inputs are hand-built byte strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "yolopr.h"
#include "test_util.h"
#include "lib/io/io.h"
#include "lib/model/model.h"

static char dir[4096];

static const char *fx(const char *name)
{
    static char buf[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void expect_error(int rc, int code, const char *needle)
{
    if (rc != code || !strstr(ypr_last_error(), needle))
        print_error("rc %d (want %d), message '%s' (want '%s')\n", rc, code, ypr_last_error(),
                    needle);
    assert_int_equal(rc, code);
    assert_non_null(strstr(ypr_last_error(), needle));
}

/* ---------------------------------------------------------- hand-built ZIPs */

typedef struct zb { unsigned char b[8192]; size_t n; } zb;

static void put16(zb *z, unsigned v) { z->b[z->n++] = v & 255; z->b[z->n++] = (v >> 8) & 255; }
static void put32(zb *z, uint32_t v) { put16(z, v & 0xFFFF); put16(z, v >> 16); }
static void put(zb *z, const void *p, size_t n) { memcpy(z->b + z->n, p, n); z->n += n; }

typedef struct zent {
    const char *name;
    const unsigned char *data;   /* as stored (compressed for method 8) */
    size_t csize, usize;
    uint32_t crc;
    int method;
} zent;

/* A single-disk archive; `flags` in the local headers (8: sizes deferred to
 * a data descriptor, as torch writes them; none is written here). */
static void build_zip(zb *z, const zent *e, int n, unsigned flags)
{
    uint32_t off[8];
    z->n = 0;
    for (int i = 0; i < n; i++) {
        off[i] = (uint32_t)z->n;
        put32(z, 0x04034b50); put16(z, 20); put16(z, flags); put16(z, (unsigned)e[i].method);
        put16(z, 0); put16(z, 0); put32(z, e[i].crc);
        put32(z, (uint32_t)e[i].csize); put32(z, (uint32_t)e[i].usize);
        put16(z, (unsigned)strlen(e[i].name)); put16(z, 0);
        put(z, e[i].name, strlen(e[i].name));
        put(z, e[i].data, e[i].csize);
    }
    uint32_t cd = (uint32_t)z->n;
    for (int i = 0; i < n; i++) {
        put32(z, 0x02014b50); put16(z, 20); put16(z, 20); put16(z, 0);
        put16(z, (unsigned)e[i].method); put16(z, 0); put16(z, 0); put32(z, e[i].crc);
        put32(z, (uint32_t)e[i].csize); put32(z, (uint32_t)e[i].usize);
        put16(z, (unsigned)strlen(e[i].name)); put16(z, 0); put16(z, 0); put16(z, 0);
        put16(z, 0); put32(z, 0); put32(z, off[i]);
        put(z, e[i].name, strlen(e[i].name));
    }
    uint32_t cdsize = (uint32_t)z->n - cd;
    put32(z, 0x06054b50); put16(z, 0); put16(z, 0); put16(z, (unsigned)n); put16(z, (unsigned)n);
    put32(z, cdsize); put32(z, cd); put16(z, 0);
}

static size_t deflate_raw(const void *src, size_t n, unsigned char *dst, size_t cap)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = (Bytef *)src;
    s.avail_in = (uInt)n;
    s.next_out = dst;
    s.avail_out = (uInt)cap;
    assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t out = s.total_out;
    deflateEnd(&s);
    return out;
}

static const char text[] = "hello hello hello hello hello hello, zip";

static void read_entry(const ypr_zip *z, const char *name, const char *want)
{
    long i = ypr__zip_find(z, name);
    assert_true(i >= 0);
    const void *d;
    size_t len;
    void *owned;
    assert_int_equal(ypr__zip_read(z, (size_t)i, &d, &len, &owned), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
    free(owned);
}

static void test_zip_good(void **state)
{
    (void)state;
    unsigned char comp[256];
    size_t cn = deflate_raw(text, strlen(text), comp, sizeof comp);
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)text, (uInt)strlen(text));
    zent e[2] = {{"a/stored", (const unsigned char *)text, strlen(text), strlen(text), crc, 0},
                 {"a/deflated", comp, cn, strlen(text), crc, 8}};
    zb z;
    build_zip(&z, e, 2, 0);
    ypr_zip *zip;
    assert_int_equal(ypr__zip_open_mem(z.b, z.n, "t.zip", &zip), 0);
    assert_int_equal(ypr__zip_count(zip), 2);
    read_entry(zip, "a/stored", text);
    read_entry(zip, "a/deflated", text);
    assert_int_equal(ypr__zip_find(zip, "a/none"), -1);
    ypr__zip_close(zip);
}

static void zip_fails(const zb *z, int code, const char *needle)
{
    ypr_zip *zip = NULL;
    int rc = ypr__zip_open_mem(z->b, z->n, "bad.zip", &zip);
    if (rc == 0) {   /* some damage only shows when the entries are read */
        for (size_t i = 0; rc == 0 && i < ypr__zip_count(zip); i++) {
            const void *d;
            size_t len;
            void *owned;
            rc = ypr__zip_read(zip, i, &d, &len, &owned);
            free(owned);
        }
        ypr__zip_close(zip);
    }
    expect_error(rc, code, needle);
    assert_non_null(strstr(ypr_last_error(), "bad.zip"));
}

static void test_zip_bad(void **state)
{
    (void)state;
    unsigned char comp[256];
    size_t cn = deflate_raw(text, strlen(text), comp, sizeof comp);
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)text, (uInt)strlen(text));
    zent st = {"x/data.pkl", (const unsigned char *)text, strlen(text), strlen(text), crc, 0};
    zent df = {"x/data/0", comp, cn, strlen(text), crc, 8};
    zb z;

    build_zip(&z, &st, 1, 0);
    z.n -= 5;                                                     /* truncated */
    zip_fails(&z, YPR_EFORMAT, "without its end record");
    memcpy(z.b, "GIF89a", 6);
    zip_fails(&z, YPR_EFORMAT, "not a ZIP archive");

    zent bad = st;
    bad.crc ^= 1;                                                 /* bad CRC */
    build_zip(&z, &bad, 1, 0);
    zip_fails(&z, YPR_EFORMAT, "CRC-32");

    build_zip(&z, &st, 1, 0);                                     /* flipped data byte */
    z.b[30 + strlen(st.name) + 3] ^= 0x20;
    zip_fails(&z, YPR_EFORMAT, "CRC-32");

    /* the central directory's size of the deflated entry lies */
    size_t usz = 22 + 46 + strlen(df.name) - 24;                  /* from the end */
    build_zip(&z, &df, 1, 0);
    z.b[z.n - usz] += 4;
    zip_fails(&z, YPR_EFORMAT, "local header sizes");
    build_zip(&z, &df, 1, 8);
    z.b[z.n - usz] += 4;
    zip_fails(&z, YPR_EFORMAT, "inflates to only 40 of its declared 44 bytes");
    build_zip(&z, &df, 1, 8);
    z.b[z.n - usz] -= 4;
    zip_fails(&z, YPR_EFORMAT, "more than its declared");
    bad = df;
    bad.usize = 1u << 30;                                         /* absurd ratio */
    build_zip(&z, &bad, 1, 8);
    zip_fails(&z, YPR_EFORMAT, "more than deflate can produce");
    build_zip(&z, &st, 1, 8);                                     /* data past the end */
    z.b[z.n - usz - 4] = 0xA0;
    z.b[z.n - usz] = 0xA0;
    zip_fails(&z, YPR_EFORMAT, "run past");

    zent two[2] = {st, st};                                       /* duplicate name */
    build_zip(&z, two, 2, 0);
    zip_fails(&z, YPR_EFORMAT, "appears twice");
    bad = st;
    bad.method = 12;                                              /* bzip2 */
    build_zip(&z, &bad, 1, 0);
    zip_fails(&z, YPR_EUNSUPPORTED, "compression method 12");

    /* zip64 beyond our limits: an end record saturated to 0xFFFF entries
     * and a zip64 record announcing 2^20 */
    build_zip(&z, &st, 1, 0);
    size_t eocd = z.n - 22;
    zb y;
    memcpy(y.b, z.b, eocd);
    y.n = eocd;
    uint32_t cdsize = (uint32_t)(eocd - (30 + strlen(st.name) + st.csize));
    size_t z64 = y.n;
    put32(&y, 0x06064b50); put32(&y, 44); put32(&y, 0); put16(&y, 45); put16(&y, 45);
    put32(&y, 0); put32(&y, 0); put32(&y, 1u << 20); put32(&y, 0); put32(&y, 1u << 20);
    put32(&y, 0); put32(&y, cdsize); put32(&y, 0);
    put32(&y, (uint32_t)(30 + strlen(st.name) + st.csize)); put32(&y, 0);
    put32(&y, 0x07064b50); put32(&y, 0); put32(&y, (uint32_t)z64); put32(&y, 0); put32(&y, 1);
    put32(&y, 0x06054b50); put16(&y, 0); put16(&y, 0); put16(&y, 0xFFFF); put16(&y, 0xFFFF);
    put32(&y, cdsize); put32(&y, (uint32_t)(30 + strlen(st.name) + st.csize)); put16(&y, 0);
    zip_fails(&y, YPR_EUNSUPPORTED, "zip64 archive of 1048576 entries");
}

/* -------------------------------------------------------------- pickles */

static int parse(const void *b, size_t n, ypr_pickle **p)
{
    return ypr__pickle_parse(b, n, "t.pkl", p);
}

#define PK(s) (const unsigned char *)(s), sizeof(s) - 1

static void test_pickle_values(void **state)
{
    (void)state;
    /* {'a': [1, -2, 3.5, None, True], 'b': ('x', b'yz')} protocol 2 with memo */
    static const char src[] =
        "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01]q\x02(K\x01J\xfe\xff\xff\xff"
        "G@\x0c\x00\x00\x00\x00\x00\x00N\x88" "eX\x01\x00\x00\x00" "bX\x01\x00\x00\x00x"
        "C\x02yz\x86u.";
    ypr_pickle *p;
    assert_int_equal(parse(PK(src), &p), 0);
    const ypr_pk *r = ypr__pickle_root(p);
    assert_int_equal(r->type, YPR_PK_DICT);
    const ypr_pk *a = ypr__pk_get(r, "a"), *b = ypr__pk_get(r, "b");
    assert_int_equal(a->type, YPR_PK_LIST);
    assert_int_equal(a->n, 5);
    assert_int_equal(a->items[0]->i, 1);
    assert_int_equal(a->items[1]->i, -2);
    assert_true(a->items[2]->f == 3.5);
    assert_int_equal(a->items[3]->type, YPR_PK_NONE);
    assert_int_equal(a->items[4]->type, YPR_PK_BOOL);
    assert_int_equal(b->type, YPR_PK_TUPLE);
    assert_string_equal(b->items[0]->s, "x");
    assert_int_equal(b->items[1]->type, YPR_PK_BYTES);
    assert_string_equal(b->items[1]->s, "yz");
    ypr__pickle_free(p);
}

static void pickle_fails(const unsigned char *b, size_t n, int code, const char *needle)
{
    ypr_pickle *p = NULL;
    int rc = parse(b, n, &p);
    ypr__pickle_free(p);
    expect_error(rc, code, needle);
    assert_non_null(strstr(ypr_last_error(), "t.pkl"));
}

/* A pickle that Python's own pickle.loads would turn into os.system(cmd):
 * refused, and the command (creating a file) never runs. */
static void test_pickle_malicious(void **state)
{
    (void)state;
    char path[64], cmd[128];
    snprintf(path, sizeof path, "/tmp/ypr_pwned_%d", (int)getpid());
    unlink(path);
    snprintf(cmd, sizeof cmd, "touch %s", path);
    unsigned char b[256];
    size_t n = 0, cl = strlen(cmd);
    memcpy(b, "\x80\x02" "cos\nsystem\nX", 14);
    n = 14;
    b[n++] = (unsigned char)cl; b[n++] = 0; b[n++] = 0; b[n++] = 0;
    memcpy(b + n, cmd, cl);
    n += cl;
    memcpy(b + n, "\x85R.", 3);
    n += 3;
    pickle_fails(b, n, YPR_EUNSUPPORTED, "REDUCE would call os.system");
    /* the same with STACK_GLOBAL (protocol 4) and the protocol 0 form */
    pickle_fails(PK("\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R."), YPR_EUNSUPPORTED,
                 "os.system");
    pickle_fails(PK("cos\nsystem\n(S'true'\ntR."), YPR_EUNSUPPORTED, "no PROTO");
    pickle_fails(PK("\x80\x02" "cbuiltins\neval\nX\x01\x00\x00\x00" "1\x85R."), YPR_EUNSUPPORTED,
                 "builtins.eval");
    pickle_fails(PK("\x80\x02(cos\nsystem\nX\x01\x00\x00\x00xi."), YPR_EUNSUPPORTED, "INST");
    assert_int_equal(access(path, F_OK), -1);
}

static void test_pickle_bad(void **state)
{
    (void)state;
    pickle_fails(PK("\x80\x02h\x05."), YPR_EFORMAT, "memo index 5 was never set");
    pickle_fails(PK("\x80\x02N\x72\xff\xff\xff\x7f."), YPR_ERANGE, "memo index 2147483647");
    pickle_fails(PK("\x80\x02]q\x00h\x00" "a."), YPR_EFORMAT, "contains itself");
    pickle_fails(PK("\x80\x02X\xff\x00\x00\x00" "ab"), YPR_EFORMAT, "truncated");
    pickle_fails(PK("\x80\x02N"), YPR_EFORMAT, "no STOP");
    pickle_fails(PK("\x80\x02\xff."), YPR_EFORMAT, "unknown opcode 0xff");
    pickle_fails(PK("\x80\x06N."), YPR_EUNSUPPORTED, "protocol 6");
    pickle_fails(PK("\x80\x02" "a."), YPR_EFORMAT, "underflow");
    pickle_fails(PK("\x80\x02NN."), YPR_EFORMAT, "STOP with 2 values");
    pickle_fails(PK("\x80\x02K\x01N\x86}b."), YPR_EUNSUPPORTED, "BUILD on a tuple");
    pickle_fails(PK("\x80\x02(X\x07\x00\x00\x00storagecos\nsystem\nX\x01\x00\x00\x00" "0"
                    "X\x03\x00\x00\x00" "cpuK\x01tQ."), YPR_EUNSUPPORTED, "storage type global os.system");
    /* nesting 200 lists deep */
    unsigned char deep[512];
    size_t n = 0;
    deep[n++] = 0x80; deep[n++] = 2;
    for (int i = 0; i < 200; i++)
        deep[n++] = ']';
    for (int i = 0; i < 199; i++)
        deep[n++] = 'a';
    deep[n++] = '.';
    pickle_fails(deep, n, YPR_EFORMAT, "nested deeper than 100");
}

/* _rebuild_tensor_v2 over a FloatStorage of `numel` elements with the given
 * size and stride tuples (sn bytes of opcodes); in_dict: as {'t': tensor}. */
static size_t tensor_pickle_in(unsigned char *b, int numel, const char *size, size_t sn,
                               int in_dict)
{
    static const char head[] =
        "ctorch._utils\n_rebuild_tensor_v2\n("
        "(X\x07\x00\x00\x00" "storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0"
        "X\x03\x00\x00\x00" "cpuK";
    size_t n = 0;
    memcpy(b, "\x80\x02}X\x01\x00\x00\x00t", 9);
    n = in_dict ? 9 : 2;
    memcpy(b + n, head, sizeof head - 1);
    n += sizeof head - 1;
    b[n++] = (unsigned char)numel;
    memcpy(b + n, "tQK\x00", 4);
    n += 4;
    memcpy(b + n, size, sn);
    n += sn;
    static const char tail[] = "\x89" "ccollections\nOrderedDict\n)RtR";
    memcpy(b + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    if (in_dict)
        b[n++] = 's';
    b[n++] = '.';
    return n;
}

static size_t tensor_pickle(unsigned char *b, int numel, const char *size, size_t sn)
{
    return tensor_pickle_in(b, numel, size, sn, 0);
}

static void test_pickle_tensor(void **state)
{
    (void)state;
    unsigned char b[512];
    size_t n = tensor_pickle(b, 6, "K\x02K\x03\x86K\x03K\x01\x86", 10);
    ypr_pickle *p;
    assert_int_equal(parse(b, n, &p), 0);
    const ypr_pk *t = ypr__pickle_root(p);
    assert_int_equal(t->type, YPR_PK_TENSOR);
    assert_int_equal(t->t->numel, 6);
    assert_int_equal(t->t->storage->dtype, YPR_DT_F32);
    assert_int_equal(ypr__pickle_storage_count(p), 1);
    ypr__pickle_free(p);
    n = tensor_pickle(b, 5, "K\x02K\x03\x86K\x03K\x01\x86", 10);
    pickle_fails(b, n, YPR_EFORMAT, "needs elements up to 6 but storage 0 holds 5");
    /* sizes 2^40 × 2^40 overflow int64 */
    n = tensor_pickle(b, 6, "\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x06\x00\x00\x00\x00\x00\x01\x86" "K\x03K\x01\x86", 22);
    pickle_fails(b, n, YPR_EFORMAT, "overflow");
}

/* -------------------------------------------------- torch.save fixtures */

static void test_pt_views(void **state)
{
    (void)state;
    ypr_pt *pt;
    assert_int_equal(ypr__pt_open(fx("views.pt"), &pt), 0);
    ypr_safetensors *st;
    assert_int_equal(ypr__pt_state_dict(pt, ypr__pt_root(pt), &st), 0);
    assert_int_equal(ypr__st_count(st), 5);
    float f[8];
    const ypr_st_tensor *t = ypr__st_find(st, "a");      /* arange(12).view(3, 4)[:, 1] */
    assert_int_equal(t->ndim, 1);
    assert_int_equal(ypr__st_to_f32(t, f), 0);
    assert_true(f[0] == 1 && f[1] == 5 && f[2] == 9);
    t = ypr__st_find(st, "b");                            /* arange(6).view(2, 3).t(), half */
    assert_int_equal(t->dtype, YPR_DT_F16);
    assert_true(t->shape[0] == 3 && t->shape[1] == 2);
    assert_int_equal(ypr__st_to_f32(t, f), 0);
    static const float bt[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(f, bt, sizeof bt);
    t = ypr__st_find(st, "c");
    assert_int_equal(t->dtype, YPR_DT_BF16);
    assert_int_equal(ypr__st_to_f32(t, f), 0);
    assert_true(f[0] == -2.0f && f[1] == 0.5f);
    t = ypr__st_find(st, "d");
    assert_int_equal(t->dtype, YPR_DT_F64);
    assert_int_equal(ypr__st_to_f32(t, f), 0);
    assert_true(f[0] == 1.25f);
    t = ypr__st_find(st, "e");
    assert_int_equal(t->dtype, YPR_DT_I64);
    int64_t e;
    memcpy(&e, t->data, 8);
    assert_int_equal(e, 7);
    ypr__st_close(st);
    ypr__pt_close(pt);
}

/* Every tensor of a equals b's exactly (same names, same bits). */
static void same_tensors(const ypr_model *a, const ypr_model *b)
{
    assert_int_equal(ypr_model_num_tensors(a), ypr_model_num_tensors(b));
    for (int i = 0; i < ypr_model_num_tensors(a); i++) {
        const char *na, *nb;
        int da, db;
        int64_t sa[6], sb[6];
        const float *xa, *xb;
        assert_int_equal(ypr_model_tensor(a, i, &na, &da, sa, &xa), 0);
        assert_int_equal(ypr_model_tensor(b, i, &nb, &db, sb, &xb), 0);
        assert_string_equal(na, nb);
        assert_int_equal(da, db);
        int64_t n = 1;
        for (int d = 0; d < da; d++) {
            assert_int_equal(sa[d], sb[d]);
            n *= sa[d];
        }
        if (memcmp(xa, xb, (size_t)n * sizeof(float)) != 0)
            fail_msg("tensor %s differs", na);
    }
}

static ypr_model *cfg_with(const char *weights)
{
    ypr_model *m;
    assert_int_equal(ypr_model_from_cfg(fx("tiny.yaml"), 0, 0, 0, 0, &m), 0);
    assert_int_equal(ypr_model_load_weights(m, weights, 1), 0);
    return m;
}

static float *read_f32(const char *path, size_t n)
{
    size_t len;
    char *b = test_slurp(path, &len);
    assert_non_null(b);
    assert_int_equal(len, n * sizeof(float));
    return (float *)b;
}

/* The checkpoint's model, its forward outputs equal to the same weights
 * loaded from safetensors, and to PyTorch's within float tolerance. */
static void check_ema_model(ypr_model *m)
{
    ypr_model *ref = cfg_with(fx("ema.safetensors"));
    same_tensors(m, ref);
    assert_int_equal(ypr_model_num_classes(m), 3);
    assert_non_null(m->names);
    assert_string_equal(m->names[0], "person");
    assert_string_equal(m->names[2], "dog");
    float *x = read_f32(fx("input.bin"), 3 * 32 * 32);
    assert_int_equal(ypr_model_forward(m, x, 1, 32, 32), 0);
    assert_int_equal(ypr_model_forward(ref, x, 1, 32, 32), 0);
    for (int l = 0; l < 2; l++) {
        int64_t shape[5];
        assert_int_equal(ypr_model_output(m, l, NULL, shape), 0);
        size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3] * shape[4]);
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        assert_int_equal(ypr_model_output(m, l, a, shape), 0);
        assert_int_equal(ypr_model_output(ref, l, b, shape), 0);
        assert_memory_equal(a, b, n * sizeof *a);
        float *want = read_f32(fx(l ? "ema_out1.bin" : "ema_out0.bin"), n);
        for (size_t i = 0; i < n; i++)
            if (fabsf(a[i] - want[i]) > 1e-4f * (1 + fabsf(want[i])))
                fail_msg("level %d element %zu: %g, PyTorch %g", l, i, a[i], want[i]);
        free(a);
        free(b);
        free(want);
    }
    free(x);
    ypr_model_free(ref);
}

static void test_best_pt(void **state)
{
    (void)state;
    ypr_model *m;
    int rc = ypr_model_load(fx("best.pt"), &m);
    if (rc)
        fail_msg("%s", ypr_last_error());
    check_ema_model(m);
    ypr_model_free(m);
}

static void test_last_pt(void **state)
{
    (void)state;
    ypr_model *m;
    assert_int_equal(ypr_model_load(fx("last.pt"), &m), 0);   /* picks 'ema' */
    check_ema_model(m);
    /* the weights of a model object also load into a cfg-built model */
    ypr_model *c = cfg_with(fx("last.pt"));
    same_tensors(m, c);
    ypr_model_free(c);
    /* and our checkpoint written from it loads back the same */
    char out[64];
    snprintf(out, sizeof out, "pt_convert_%d.safetensors", (int)getpid());
    assert_int_equal(ypr_model_save(m, out), 0);
    ypr_model *back;
    assert_int_equal(ypr_model_load(out, &back), 0);
    same_tensors(m, back);
    ypr_model_free(back);
    unlink(out);
    ypr_model_free(m);
}

static void test_state_dict_pt(void **state)
{
    (void)state;
    ypr_model *m = NULL;
    expect_error(ypr_model_load(fx("sd.pt"), &m), YPR_EFORMAT, "bare state_dict");
    assert_null(m);
    ypr_model *ref = cfg_with(fx("model.safetensors"));
    ypr_model *a = cfg_with(fx("sd.pt")), *b = cfg_with(fx("sd_deflate.pt"));
    same_tensors(a, ref);
    same_tensors(b, ref);
    ypr_model_free(a);
    ypr_model_free(b);
    ypr_model_free(ref);
}

/* A damaged best.pt: each fault named, the model untouched. */
static void pt_mem_fails(const void *b, size_t n, int code, const char *needle)
{
    ypr_pt *pt = NULL;
    int rc = ypr__pt_open_mem(b, n, "dam.pt", &pt);
    if (rc == 0) {
        ypr_safetensors *st = NULL;
        rc = ypr__pt_state_dict(pt, ypr__pt_pick_model(pt), &st);
        ypr__st_close(st);
        ypr__pt_close(pt);
    }
    expect_error(rc, code, needle);
}

static void test_damaged_pt(void **state)
{
    (void)state;
    size_t len;
    char *b = test_slurp(fx("best.pt"), &len);
    assert_non_null(b);
    pt_mem_fails(b, len - 100, YPR_EFORMAT, "without its end record");
    pt_mem_fails(b, len / 2, YPR_EFORMAT, "dam.pt");
    /* a byte of the last storage record (data/N precede the version record) */
    ypr_zip *z;
    assert_int_equal(ypr__zip_open_mem(b, len, "dam.pt", &z), 0);
    size_t at = 0;
    for (size_t i = 0; i < ypr__zip_count(z); i++)
        if (strstr(ypr__zip_at(z, i)->name, "/data/") && ypr__zip_at(z, i)->usize > 2)
            at = (size_t)ypr__zip_at(z, i)->data_off + 1;
    ypr__zip_close(z);
    assert_true(at > 0);
    b[at] ^= 0x40;
    pt_mem_fails(b, len, YPR_EFORMAT, "CRC-32");
    b[at] ^= 0x40;
    pt_mem_fails("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15, YPR_EUNSUPPORTED,
                 "legacy");
    free(b);
}

/* A hand-built torch.save archive: {'t': tensor} and its storage record. */
static int handmade_pt(const unsigned char *pkl, size_t pn, const unsigned char *data, size_t dn,
                       const char *data_name, ypr_safetensors **st, ypr_pt **pt)
{
    zent e[2] = {{"a/data.pkl", pkl, pn, pn, (uint32_t)crc32(0, pkl, (uInt)pn), 0},
                 {data_name, data, dn, dn, (uint32_t)crc32(0, data, (uInt)dn), 0}};
    static zb z;
    build_zip(&z, e, 2, 8);
    *st = NULL;
    int rc = ypr__pt_open_mem(z.b, z.n, "hand.pt", pt);
    if (rc == 0)
        rc = ypr__pt_state_dict(*pt, ypr__pt_pick_model(*pt), st);
    return rc;
}

static void test_pt_handmade(void **state)
{
    (void)state;
    unsigned char pkl[512], data[24] = {0};
    ypr_safetensors *st;
    ypr_pt *pt;
    float one = 1.0f;
    memcpy(data + 20, &one, 4);                                  /* element 5 = 1 */
    size_t n = tensor_pickle_in(pkl, 6, "K\x02K\x03\x86K\x03K\x01\x86", 10, 1);
    assert_int_equal(handmade_pt(pkl, n, data, 24, "a/data/0", &st, &pt), 0);
    const ypr_st_tensor *t = ypr__st_find(st, "t");
    assert_non_null(t);
    float f[6];
    assert_int_equal(ypr__st_to_f32(t, f), 0);
    assert_true(f[5] == 1.0f && f[0] == 0.0f);
    ypr__st_close(st);
    ypr__pt_close(pt);
    /* the record is shorter than the storage the pickle declares */
    expect_error(handmade_pt(pkl, n, data, 20, "a/data/0", &st, &pt), YPR_EFORMAT,
                 "holds 20 bytes; the pickle declares 6 elements of 4 bytes");
    ypr__pt_close(pt);
    expect_error(handmade_pt(pkl, n, data, 24, "a/data/1", &st, &pt), YPR_EFORMAT,
                 "record a/data/0 is missing");
    ypr__pt_close(pt);
    /* an empty tensor with huge sizes: no overflow (UBSan) and no data */
    static const char shape[] = "K\x00\x8a\x06\x00\x00\x00\x00\x00\x01"
                                "\x8a\x06\x00\x00\x00\x00\x00\x01\x87"
                                "K\x01K\x01K\x01\x87";
    n = tensor_pickle_in(pkl, 6, shape, sizeof shape - 1, 1);
    assert_int_equal(handmade_pt(pkl, n, data, 24, "a/data/0", &st, &pt), 0);
    t = ypr__st_find(st, "t");
    assert_int_equal(t->numel, 0);
    assert_int_equal(t->ndim, 3);
    ypr__st_close(st);
    ypr__pt_close(pt);
}

int main(void)
{
    const char *d = getenv("YPR_TEST_DATA");
    snprintf(dir, sizeof dir, "%s/pt", d ? d : "tests/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zip_good),
        cmocka_unit_test(test_zip_bad),
        cmocka_unit_test(test_pickle_values),
        cmocka_unit_test(test_pickle_malicious),
        cmocka_unit_test(test_pickle_bad),
        cmocka_unit_test(test_pickle_tensor),
        cmocka_unit_test(test_pt_views),
        cmocka_unit_test(test_pt_handmade),
        cmocka_unit_test(test_best_pt),
        cmocka_unit_test(test_last_pt),
        cmocka_unit_test(test_state_dict_pt),
        cmocka_unit_test(test_damaged_pt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
