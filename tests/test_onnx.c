/* ONNX in and out: the protobuf wire format against hand-worked bytes (the
 * examples of protobuf's encoding guide), export → import round trips that
 * reproduce outputs bit for bit and keep the net's structure (same tensors,
 * same dependency groups, same pruning), PyTorch 1.13's own exports
 * (tests/data/onnx/make_onnx_fixture.py, opsets 11/13/17, dynamic axes)
 * against torch's outputs (and they prune and train), and hostile files:
 * truncated, unknown ops, inconsistent shapes, external data, huge sizes,
 * deep nesting. YPR_TEST_DATA names tests/data. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io/io.h"
#include "lib/model/model.h"
#include "yolopr.h"
#include "test_util.h"

static char data_dir[1024];

static const char *path_of(const char *name)
{
    static char buf[2][1200];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", data_dir, name);
    return buf[k];
}

/* ---------------------------------------------------------- wire format */

static void test_varints(void **state)
{
    (void)state;
    uint8_t b[20];
    /* protobuf's encoding guide: 1 → 01, 150 → 96 01, 300 → ac 02 */
    assert_int_equal(ypr__pb_varint_encode(1, b), 1);
    assert_int_equal(b[0], 0x01);
    assert_int_equal(ypr__pb_varint_encode(150, b), 2);
    assert_int_equal(b[0], 0x96);
    assert_int_equal(b[1], 0x01);
    assert_int_equal(ypr__pb_varint_encode(300, b), 2);
    assert_int_equal(b[0], 0xac);
    assert_int_equal(b[1], 0x02);
    /* int64 −1: ten bytes, nine ff then 01 */
    assert_int_equal(ypr__pb_varint_encode(UINT64_MAX, b), 10);
    for (int i = 0; i < 9; i++)
        assert_int_equal(b[i], 0xff);
    assert_int_equal(b[9], 0x01);
    /* "field 1 = 150" is 08 96 01; field 2 = "testing" is 12 07 74 65 73 74 69 6e 67 */
    ypr_pbw w;
    ypr__pbw_init(&w);
    ypr__pbw_varint(&w, 1, 150);
    ypr__pbw_str(&w, 2, "testing");
    static const uint8_t want[] = {0x08, 0x96, 0x01, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.buf, want, sizeof want);
    ypr_pb r;
    ypr_pb_field f;
    ypr__pb_init(&r, w.buf, w.len);
    assert_int_equal(ypr__pb_next(&r, &f), 1);
    assert_int_equal(f.num, 1);
    assert_int_equal(f.wire, YPR_PB_VARINT);
    assert_int_equal(f.v, 150);
    assert_int_equal(ypr__pb_next(&r, &f), 1);
    assert_int_equal(f.num, 2);
    assert_int_equal(f.len, 7);
    assert_memory_equal(f.data, "testing", 7);
    assert_int_equal(ypr__pb_next(&r, &f), 0);
    ypr__pbw_free(&w);
    /* packed [3, 270, 86942] is 22 06 03 8e 02 9e a7 05 (field 4) */
    static const uint8_t packed[] = {0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05};
    ypr__pbw_init(&w);
    int64_t v3[3] = {3, 270, 86942}, back[3];
    ypr__pbw_packed_ints(&w, 4, v3, 3);
    assert_memory_equal(w.buf, packed, sizeof packed);
    ypr__pb_init(&r, w.buf, w.len);
    assert_int_equal(ypr__pb_next(&r, &f), 1);
    size_t n;
    assert_int_equal(ypr__pb_count_ints(&f, &n), YPR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ypr__pb_ints(&f, back, 3, &n), YPR_OK);
    assert_memory_equal(back, v3, sizeof v3);
    assert_int_equal(ypr__pb_ints(&f, back, 2, &n), YPR_ERANGE);
    ypr__pbw_free(&w);
    /* a float: 1.5f is 0x3fc00000, little-endian after key (field 2, wire 5) 15 */
    ypr__pbw_init(&w);
    ypr__pbw_float(&w, 2, 1.5f);
    static const uint8_t fl[] = {0x15, 0x00, 0x00, 0xc0, 0x3f};
    assert_memory_equal(w.buf, fl, sizeof fl);
    ypr__pb_init(&r, w.buf, w.len);
    assert_int_equal(ypr__pb_next(&r, &f), 1);
    assert_true(ypr__pb_float(&f) == 1.5f);
    ypr__pbw_free(&w);
}

static int first_status(const uint8_t *b, size_t n)
{
    ypr_pb r;
    ypr_pb_field f;
    ypr__pb_init(&r, b, n);
    return ypr__pb_next(&r, &f);
}

static void test_wire_errors(void **state)
{
    (void)state;
    /* 11 continuation bytes; a 10th byte above 1 (past 64 bits) */
    uint8_t long_varint[12] = {0x08};
    memset(long_varint + 1, 0x80, 11);
    assert_int_equal(first_status(long_varint, sizeof long_varint), YPR_EFORMAT);
    uint8_t over[11] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    assert_int_equal(first_status(over, sizeof over), YPR_EFORMAT);
    /* a length of 2^60 in a 10-byte message; a length one past the end */
    uint8_t huge[] = {0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10};
    assert_int_equal(first_status(huge, sizeof huge), YPR_EFORMAT);
    uint8_t past[] = {0x0a, 0x03, 'a', 'b'};
    assert_int_equal(first_status(past, sizeof past), YPR_EFORMAT);
    /* groups (wire types 3, 4), undefined wire types 6, 7, field number 0 */
    uint8_t grp[] = {0x0b}, wt6[] = {0x0e, 0x00}, zero[] = {0x00, 0x01};
    assert_int_equal(first_status(grp, 1), YPR_EFORMAT);
    assert_int_equal(first_status(wt6, 2), YPR_EFORMAT);
    assert_int_equal(first_status(zero, 2), YPR_EFORMAT);
    /* truncated fixed32 / fixed64 */
    uint8_t f32[] = {0x15, 0x00, 0x00}, f64[] = {0x11, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(first_status(f32, sizeof f32), YPR_EFORMAT);
    assert_int_equal(first_status(f64, sizeof f64), YPR_EFORMAT);
    /* a packed run whose last varint does not end */
    ypr_pb_field f = {.num = 1, .wire = YPR_PB_BYTES, .data = (const uint8_t *)"\x01\x80",
                      .len = 2};
    size_t n;
    assert_int_equal(ypr__pb_count_ints(&f, &n), YPR_EFORMAT);
}

/* ------------------------------------------------------- a graph builder */

typedef struct gb { ypr_pbw g, meta; } gb;

static void gb_init(gb *b)
{
    ypr__pbw_init(&b->g);
    ypr__pbw_init(&b->meta);
}

static void gb_tensor(ypr_pbw *w, uint32_t field, const char *name, int dtype, int ndim,
                      const int64_t *dims, const void *data, size_t nbytes)
{
    ypr_pbw t;
    ypr__pbw_init(&t);
    for (int i = 0; i < ndim; i++)
        ypr__pbw_varint(&t, 1, (uint64_t)dims[i]);
    ypr__pbw_varint(&t, 2, (uint64_t)dtype);
    ypr__pbw_str(&t, 8, name);
    ypr__pbw_bytes(&t, 9, data, nbytes);
    ypr__pbw_msg(w, field, &t);
    ypr__pbw_free(&t);
}

static void gb_floats(gb *b, const char *name, int ndim, const int64_t *dims, float fill)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = fill * (float)((i % 7) - 3);
    gb_tensor(&b->g, 5, name, YPR_ONNX_FLOAT, ndim, dims, v, (size_t)n * sizeof *v);
    free(v);
}

/* A node; attrs is NULL or raw AttributeProto fields (field 5) already encoded. */
static void gb_node(gb *b, const char *op, const char *name, const char *const *in, int nin,
                    const char *out, const ypr_pbw *attrs)
{
    ypr_pbw n;
    ypr__pbw_init(&n);
    for (int i = 0; i < nin; i++)
        ypr__pbw_str(&n, 1, in[i]);
    ypr__pbw_str(&n, 2, out);
    ypr__pbw_str(&n, 3, name);
    ypr__pbw_str(&n, 4, op);
    if (attrs)
        ypr__pbw_raw(&n, attrs->buf, attrs->len);
    ypr__pbw_msg(&b->g, 1, &n);
    ypr__pbw_free(&n);
}

static void gb_value(ypr_pbw *w, uint32_t field, const char *name, int nd, const int64_t *dims)
{
    ypr_pbw v, t, tt, sh;
    ypr__pbw_init(&v);
    ypr__pbw_init(&t);
    ypr__pbw_init(&tt);
    ypr__pbw_init(&sh);
    for (int i = 0; i < nd; i++) {
        ypr_pbw d;
        ypr__pbw_init(&d);
        ypr__pbw_varint(&d, 1, (uint64_t)dims[i]);
        ypr__pbw_msg(&sh, 1, &d);
        ypr__pbw_free(&d);
    }
    ypr__pbw_varint(&tt, 1, YPR_ONNX_FLOAT);
    ypr__pbw_msg(&tt, 2, &sh);
    ypr__pbw_msg(&t, 1, &tt);
    ypr__pbw_str(&v, 1, name);
    ypr__pbw_msg(&v, 2, &t);
    ypr__pbw_msg(w, field, &v);
    ypr__pbw_free(&v);
    ypr__pbw_free(&t);
    ypr__pbw_free(&tt);
    ypr__pbw_free(&sh);
}

static void gb_meta(gb *b, const char *k, const char *v)
{
    ypr_pbw e;
    ypr__pbw_init(&e);
    ypr__pbw_str(&e, 1, k);
    ypr__pbw_str(&e, 2, v);
    ypr__pbw_msg(&b->meta, 14, &e);
    ypr__pbw_free(&e);
}

/* The ModelProto bytes (opset given); frees the builder. */
static ypr_pbw gb_model(gb *b, int opset)
{
    ypr_pbw m, op;
    ypr__pbw_init(&m);
    ypr__pbw_init(&op);
    ypr__pbw_varint(&m, 1, 7);
    ypr__pbw_str(&op, 1, "");
    ypr__pbw_varint(&op, 2, (uint64_t)opset);
    ypr__pbw_msg(&m, 8, &op);
    ypr__pbw_msg(&m, 7, &b->g);
    ypr__pbw_raw(&m, b->meta.buf, b->meta.len);
    ypr__pbw_free(&op);
    ypr__pbw_free(&b->g);
    ypr__pbw_free(&b->meta);
    return m;
}

static void attr_ints(ypr_pbw *a, const char *name, const int64_t *v, int n)
{
    ypr_pbw t;
    ypr__pbw_init(&t);
    ypr__pbw_str(&t, 1, name);
    ypr__pbw_varint(&t, 20, YPR_ONNX_ATTR_INTS);
    for (int i = 0; i < n; i++)
        ypr__pbw_varint(&t, 8, (uint64_t)v[i]);
    ypr__pbw_msg(a, 5, &t);
    ypr__pbw_free(&t);
}

static size_t varint_len(uint64_t v)
{
    uint8_t b[10];
    return ypr__pb_varint_encode(v, b);
}

/* An attribute field (5) "g" whose graph holds a node whose attribute holds
 * a graph …, `depth` levels: lengths worked out from the inside, then the
 * headers written from the outside (linear, not quadratic). */
static void deep_attr(ypr_pbw *w, int depth)
{
    uint64_t *c = malloc((size_t)depth * sizeof *c);   /* attribute d's content length */
    c[depth - 1] = 3 + 2;                               /* name "g", empty graph */
    for (int d = depth - 2; d >= 0; d--) {
        uint64_t full = 1 + varint_len(c[d + 1]) + c[d + 1];   /* attribute d + 1 = the node */
        uint64_t graph = 1 + varint_len(full) + full;
        c[d] = 3 + 1 + varint_len(graph) + graph;
    }
    uint8_t hdr[20];
    for (int d = 0; d < depth; d++) {
        ypr__pbw_raw(w, hdr, ypr__pb_tag_encode(5, YPR_PB_BYTES, c[d], hdr));
        ypr__pbw_raw(w, "\x0a\x01g", 3);
        if (d + 1 == depth) {
            ypr__pbw_raw(w, hdr, ypr__pb_tag_encode(6, YPR_PB_BYTES, 0, hdr));
            break;
        }
        uint64_t full = 1 + varint_len(c[d + 1]) + c[d + 1];
        ypr__pbw_raw(w, hdr, ypr__pb_tag_encode(6, YPR_PB_BYTES, 1 + varint_len(full) + full, hdr));
        ypr__pbw_raw(w, hdr, ypr__pb_tag_encode(1, YPR_PB_BYTES, full, hdr));
    }
    free(c);
}

/* The smallest detector: images [1,3,32,32] → Conv 8×8 stride 8 (6 = 1
 * anchor × (5 + 1 class)) [→ variant] → output. `variant` adds nodes
 * between; each returns the name of the head map. */
enum { V_PLAIN, V_UNKNOWN_OP, V_BAD_ADD, V_EXTERNAL, V_HUGE_DIMS, V_RAW_SHORT, V_BAD_RESHAPE,
       V_NOT_SORTED, V_DEEP, V_NO_ANCHORS, V_SILU, V_EMPTY_INPUT, V_HUGE_RESHAPE };

static ypr_pbw tiny_detector(int variant)
{
    gb b;
    gb_init(&b);
    int64_t in[4] = {1, 3, 32, 32}, wd[4] = {6, 3, 8, 8}, bd[1] = {6};
    gb_value(&b.g, 11, "images", 4, in);
    gb_floats(&b, "head.weight", 4, wd, 0.01f);
    gb_floats(&b, "head.bias", 1, bd, 0.1f);
    ypr_pbw a;
    ypr__pbw_init(&a);
    int64_t k[2] = {8, 8}, s[2] = {8, 8};
    attr_ints(&a, "kernel_shape", k, 2);
    attr_ints(&a, "strides", s, 2);
    const char *cin[3] = {"images", "head.weight", "head.bias"};
    const char *out = "conv";
    if (variant == V_NOT_SORTED) {   /* the Sigmoid reads conv before the Conv makes it */
        const char *x = "conv";
        gb_node(&b, "Sigmoid", "sig", &x, 1, "sig", NULL);
    }
    gb_node(&b, "Conv", "head", cin, 3, "conv", &a);
    ypr__pbw_free(&a);
    if (variant == V_UNKNOWN_OP || variant == V_SILU) {
        const char *x = "conv", *m[2] = {"conv", "sg"};
        gb_node(&b, variant == V_SILU ? "Sigmoid" : "Softplus", "act/sp", &x, 1, "sg", NULL);
        if (variant == V_SILU)
            gb_node(&b, "Mul", "act", m, 2, "silu", NULL);
        out = variant == V_SILU ? "silu" : "sg";
    }
    if (variant == V_EMPTY_INPUT) {   /* an omitted input where one is required */
        const char *x[2] = {"", "conv"};
        gb_node(&b, "Mul", "halfmul", x, 2, "hm", NULL);
        out = "hm";
    }
    if (variant == V_BAD_ADD) {   /* 6 channels + 3 channels */
        const char *x[2] = {"conv", "images"};
        gb_node(&b, "Add", "badadd", x, 2, "sum", NULL);
        out = "sum";
    }
    if (variant == V_EXTERNAL || variant == V_HUGE_DIMS || variant == V_RAW_SHORT) {
        ypr_pbw t;
        ypr__pbw_init(&t);
        int64_t dims[2] = {1, 6};
        if (variant == V_HUGE_DIMS)
            dims[0] = dims[1] = (int64_t)1 << 40;
        for (int i = 0; i < 2; i++)
            ypr__pbw_varint(&t, 1, (uint64_t)dims[i]);
        ypr__pbw_varint(&t, 2, YPR_ONNX_FLOAT);
        ypr__pbw_str(&t, 8, "extra.scale");
        if (variant == V_EXTERNAL) {
            ypr_pbw e;
            ypr__pbw_init(&e);
            ypr__pbw_str(&e, 1, "location");
            ypr__pbw_str(&e, 2, "weights.bin");
            ypr__pbw_msg(&t, 13, &e);
            ypr__pbw_varint(&t, 14, 1);
            ypr__pbw_free(&e);
        } else {
            float v[6] = {1, 1, 1, 1, 1, 1};
            ypr__pbw_bytes(&t, 9, v, variant == V_RAW_SHORT ? 20 : 24);
        }
        ypr__pbw_msg(&b.g, 5, &t);
        ypr__pbw_free(&t);
    }
    if (variant == V_BAD_RESHAPE || variant == V_HUGE_RESHAPE) {
        /* the map is 4×4, the reshape says 5×5; or anchors × outputs overflow */
        int64_t shp[5] = {1, 1, 6, 5, 5}, sd[1] = {5}, perm[5] = {0, 1, 3, 4, 2};
        if (variant == V_HUGE_RESHAPE)
            shp[1] = shp[2] = (int64_t)1 << 62;
        gb_tensor(&b.g, 5, "shape", YPR_ONNX_INT64, 1, sd, shp, sizeof shp);
        const char *x[2] = {"conv", "shape"}, *r = "r";
        gb_node(&b, "Reshape", "reshape", x, 2, "r", NULL);
        ypr_pbw p;
        ypr__pbw_init(&p);
        attr_ints(&p, "perm", perm, 5);
        gb_node(&b, "Transpose", "transpose", &r, 1, "t", &p);
        ypr__pbw_free(&p);
        out = "t";
    }
    if (variant == V_DEEP) {   /* graph → node → attribute → … 100000 deep, never read */
        ypr_pbw at;
        ypr__pbw_init(&at);
        deep_attr(&at, 100000);
        const char *x = "conv";
        gb_node(&b, "Identity", "deep", &x, 1, "deep", &at);
        ypr__pbw_free(&at);
        out = "deep";
    }
    int64_t od[4] = {1, 6, 4, 4};
    gb_value(&b.g, 12, out, 4, od);
    gb_meta(&b, "na", "1");
    if (variant != V_NO_ANCHORS)
        gb_meta(&b, "anchors", "[[16, 16]]");
    gb_meta(&b, "names", "[\"thing\"]");
    return gb_model(&b, 13);
}

static int import_bytes(const ypr_pbw *w, ypr_model **m)
{
    ypr_onnx *o;
    *m = NULL;
    int rc = ypr__onnx_parse(w->buf, w->len, "test.onnx", &o);
    if (rc < 0)
        return rc;
    rc = ypr__onnx_import(o, "test.onnx", m);
    ypr__onnx_free(o);
    return rc;
}

static void expect_error(int variant, int code, const char *needle)
{
    ypr_pbw w = tiny_detector(variant);
    ypr_model *m;
    int rc = import_bytes(&w, &m);
    if (rc != code || !strstr(ypr_last_error(), needle))
        fail_msg("variant %d: got %d '%s', expected %d with '%s'", variant, rc, ypr_last_error(),
                 code, needle);
    assert_null(m);
    ypr__pbw_free(&w);
}

static void test_tiny_detector(void **state)
{
    (void)state;
    ypr_pbw w = tiny_detector(V_PLAIN);
    ypr_model *m;
    assert_int_equal(import_bytes(&w, &m), YPR_OK);
    assert_int_equal(ypr_model_num_classes(m), 1);
    assert_int_equal(ypr_model_num_levels(m), 1);
    assert_int_equal(m->input_size, 32);
    assert_string_equal(m->names[0], "thing");
    const ypr_node *d = &m->net.nodes[m->net.nnodes - 1];
    assert_true(d->strides[0] == 8.0f);
    assert_true(m->net.params[d->p[0]].data[0] == 2.0f);   /* 16 px / stride 8 */
    assert_true(ypr__net_find_param(&m->net, "head.weight") >= 0);
    /* the conv by hand at one output: bias + Σ w·x over the 8×8×3 window */
    float *x = malloc(3 * 32 * 32 * sizeof *x);
    for (int i = 0; i < 3 * 32 * 32; i++)
        x[i] = (float)((i * 37) % 101) / 100.0f;
    assert_int_equal(ypr_model_forward(m, x, 1, 32, 32), YPR_OK);
    float out[6 * 16];
    int64_t s[5];
    assert_int_equal(ypr_model_output(m, 0, out, s), YPR_OK);
    assert_int_equal(s[4], 6);
    for (int oc = 0; oc < 6; oc++) {   /* output cell (1, 2): rows 8..15, columns 16..23 */
        double acc = 0.1 * ((oc % 7) - 3);
        for (int ic = 0; ic < 3; ic++)
            for (int ky = 0; ky < 8; ky++)
                for (int kx = 0; kx < 8; kx++) {
                    int wi = ((oc * 3 + ic) * 8 + ky) * 8 + kx;
                    acc += 0.01 * ((wi % 7) - 3) * x[(ic * 32 + 8 + ky) * 32 + 16 + kx];
                }
        assert_true(fabs(out[(1 * 4 + 2) * 6 + oc] - acc) < 1e-4);
    }
    free(x);
    ypr_model_free(m);
    ypr__pbw_free(&w);
    /* SiLU from Sigmoid + Mul: one act node named after the Mul */
    w = tiny_detector(V_SILU);
    assert_int_equal(import_bytes(&w, &m), YPR_OK);
    assert_int_equal(m->net.nnodes, 4);   /* input, conv, act, detect */
    assert_int_equal(m->net.nodes[2].act, YPR_ACT_SILU);
    assert_string_equal(m->net.nodes[2].name, "act");
    ypr_model_free(m);
    ypr__pbw_free(&w);
}

static void test_bad_graphs(void **state)
{
    (void)state;
    expect_error(V_UNKNOWN_OP, YPR_EUNSUPPORTED,
                 "'act/sp' (Softplus): op Softplus is not supported");
    expect_error(V_BAD_ADD, YPR_ESHAPE, "cannot add");
    expect_error(V_EXTERNAL, YPR_EUNSUPPORTED,
                 "tensor extra.scale keeps its data in an external file");
    expect_error(V_HUGE_DIMS, YPR_EFORMAT, "size negative or too large");
    expect_error(V_RAW_SHORT, YPR_EFORMAT, "20 bytes of data for 6 elements");
    expect_error(V_BAD_RESHAPE, YPR_ESHAPE, "reshaped to 5x5 but the map is 4x4");
    expect_error(V_HUGE_RESHAPE, YPR_ESHAPE, "reshape of 6 channels into 4611686018427387904");
    expect_error(V_NOT_SORTED, YPR_EFORMAT, "'sig' (Sigmoid): input 'conv' is not defined");
    expect_error(V_EMPTY_INPUT, YPR_EFORMAT, "'halfmul' (Mul): input 0 is required");
    expect_error(V_NO_ANCHORS, YPR_EFORMAT, "no 'anchors' in metadata_props");
    /* nesting is skipped, never recursed into: the model loads. First make
     * sure the builder nests for real: walk attribute → graph → node → … */
    ypr_pbw w;
    ypr__pbw_init(&w);
    deep_attr(&w, 100000);
    ypr_pb r;
    ypr_pb_field f;
    int depth = 0;
    const uint8_t *p = w.buf;
    size_t n = w.len;
    for (;;) {
        ypr__pb_init(&r, p, n);
        assert_int_equal(ypr__pb_next(&r, &f), 1);   /* the attribute */
        assert_int_equal(f.num, 5);
        assert_int_equal(r.p, r.end);
        depth++;
        ypr__pb_init(&r, f.data, f.len);
        assert_int_equal(ypr__pb_next(&r, &f), 1);   /* its name */
        assert_int_equal(ypr__pb_next(&r, &f), 1);   /* its graph */
        assert_int_equal(f.num, 6);
        if (f.len == 0)
            break;
        ypr__pb_init(&r, f.data, f.len);
        assert_int_equal(ypr__pb_next(&r, &f), 1);   /* the graph's node = the next attribute */
        assert_int_equal(f.num, 1);
        p = f.data;
        n = f.len;
    }
    assert_int_equal(depth, 100000);
    ypr__pbw_free(&w);
    w = tiny_detector(V_DEEP);
    ypr_model *m;
    assert_int_equal(import_bytes(&w, &m), YPR_OK);
    ypr_model_free(m);
    ypr__pbw_free(&w);
    /* not a model at all */
    ypr_onnx *o;
    assert_int_equal(ypr__onnx_parse("\x08\x07", 2, "x.onnx", &o), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "no graph"));
    assert_int_equal(ypr__onnx_parse("hello world", 11, "x.onnx", &o), YPR_EFORMAT);
    assert_int_equal(ypr_model_load("no/such/file.onnx", &m), YPR_ENOTFOUND);
}

/* ------------------------------------------------------------ round trip */

static ypr_model *mini(void)
{
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg(path_of("model/mini.yaml"), 0, 0, 0, 7, &m), YPR_OK);
    assert_int_equal(ypr_model_load_weights(m, path_of("model/mini.safetensors"), 1), YPR_OK);
    assert_int_equal(ypr_model_set_threads(m, 1), YPR_OK);
    return m;
}

static float *input_image(int h, int w)
{
    float *x = malloc((size_t)3 * h * w * sizeof *x);
    for (int i = 0; i < 3 * h * w; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    return x;
}

/* Outputs of both models on one image are bit-identical. */
static void same_outputs(ypr_model *a, ypr_model *b, int size)
{
    float *x = input_image(size, size);
    assert_int_equal(ypr_model_forward(a, x, 1, size, size), YPR_OK);
    assert_int_equal(ypr_model_forward(b, x, 1, size, size), YPR_OK);
    assert_int_equal(ypr_model_num_levels(a), ypr_model_num_levels(b));
    for (int l = 0; l < ypr_model_num_levels(a); l++) {
        int64_t sa[5], sb[5];
        assert_int_equal(ypr_model_output(a, l, NULL, sa), YPR_OK);
        assert_int_equal(ypr_model_output(b, l, NULL, sb), YPR_OK);
        assert_memory_equal(sa, sb, sizeof sa);
        size_t n = (size_t)(sa[0] * sa[1] * sa[2] * sa[3] * sa[4]);
        float *ya = malloc(n * sizeof *ya), *yb = malloc(n * sizeof *yb);
        assert_int_equal(ypr_model_output(a, l, ya, sa), YPR_OK);
        assert_int_equal(ypr_model_output(b, l, yb, sb), YPR_OK);
        assert_memory_equal(ya, yb, n * sizeof *ya);
        free(ya);
        free(yb);
    }
    free(x);
}

static void same_tensors(const ypr_model *a, const ypr_model *b)
{
    assert_int_equal(a->net.nparams, b->net.nparams);
    assert_int_equal(a->net.nnodes, b->net.nnodes);
    for (int i = 0; i < a->net.nparams; i++) {
        const ypr_param *p = &a->net.params[i];
        int j = ypr__net_find_param(&b->net, p->name);
        if (j < 0)
            fail_msg("tensor %s lost in the round trip", p->name);
        assert_int_equal(b->net.params[j].numel, p->numel);
        assert_int_equal(b->net.params[j].is_buffer, p->is_buffer);
        assert_memory_equal(b->net.params[j].data, p->data, (size_t)p->numel * sizeof(float));
    }
    for (int i = 0; i < a->net.nnodes; i++) {
        assert_int_equal(a->net.nodes[i].kind, b->net.nodes[i].kind);
        assert_string_equal(a->net.nodes[i].name, b->net.nodes[i].name);
        assert_string_equal(a->net.nodes[i].module, b->net.nodes[i].module);
    }
}

static int num_groups(ypr_model *m)
{
    ypr_depgraph *g;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    int n = ypr_depgraph_num_groups(g);
    ypr_depgraph_free(g);
    return n;
}

static void prune_quarter(ypr_model *m)
{
    ypr_depgraph *g;
    ypr_pruner *p;
    assert_int_equal(ypr_depgraph_build(m, &g), YPR_OK);
    assert_int_equal(ypr_pruner_create(g, &p), YPR_OK);
    assert_int_equal(ypr_pruner_set_float(p, YPR_PRUNE_RATIO, 0.25), YPR_OK);
    assert_int_equal(ypr_pruner_step(p), YPR_OK);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *file = "onnx_round_trip.onnx";
    for (int fused = 0; fused < 2; fused++) {
        ypr_model *a = mini(), *b = NULL;
        if (fused)
            assert_int_equal(ypr_model_fuse(a), YPR_OK);
        assert_int_equal(ypr_model_set_int(a, YPR_MODEL_INPUT_SIZE, 64), YPR_OK);
        assert_int_equal(ypr_model_export_onnx(a, file), YPR_OK);
        assert_int_equal(ypr_model_load(file, &b), YPR_OK);
        assert_int_equal(ypr_model_set_threads(b, 1), YPR_OK);
        same_tensors(a, b);
        same_outputs(a, b, 64);
        same_outputs(a, b, 96);   /* the imported net is not tied to the export's size */
        assert_int_equal(b->input_size, 64);
        assert_int_equal(num_groups(a), num_groups(b));
        if (!fused) {   /* YOLOv7's own files from both: byte for byte the same */
            assert_int_equal(ypr_model_export_yolov7(a, "rt_a.yaml", "rt_a.safetensors"), YPR_OK);
            assert_int_equal(ypr_model_export_yolov7(b, "rt_b.yaml", "rt_b.safetensors"), YPR_OK);
            static const char *const pairs[2][2] = {{"rt_a.yaml", "rt_b.yaml"},
                                                    {"rt_a.safetensors", "rt_b.safetensors"}};
            for (int k = 0; k < 2; k++) {
                size_t la, lb;
                char *fa = test_slurp(pairs[k][0], &la), *fb = test_slurp(pairs[k][1], &lb);
                assert_non_null(fa);
                assert_non_null(fb);
                assert_int_equal(la, lb);
                assert_memory_equal(fa, fb, la);
                free(fa);
                free(fb);
                unlink(pairs[k][0]);
                unlink(pairs[k][1]);
            }
        }
        if (!fused) {   /* the same pruning on both: the same smaller net */
            prune_quarter(a);
            prune_quarter(b);
            assert_true(ypr_model_num_params(b) < ypr_model_num_params(b) + 1);
            assert_int_equal(ypr_model_num_params(a), ypr_model_num_params(b));
            same_tensors(a, b);
            same_outputs(a, b, 64);
            /* and the pruned net exports and imports again */
            ypr_model *c;
            assert_int_equal(ypr_model_export_onnx(b, file), YPR_OK);
            assert_int_equal(ypr_model_load(file, &c), YPR_OK);
            same_outputs(b, c, 64);
            ypr_model_free(c);
        }
        ypr_model_free(a);
        ypr_model_free(b);
    }
    unlink(file);
}

/* What our export declares: opset, IR version, outputs, metadata. */
static void test_export_contents(void **state)
{
    (void)state;
    ypr_model *a = mini();
    assert_int_equal(ypr_model_set_int(a, YPR_MODEL_INPUT_SIZE, 64), YPR_OK);
    assert_int_equal(ypr_model_export_onnx(a, "onnx_contents.onnx"), YPR_OK);
    ypr_onnx *o;
    assert_int_equal(ypr__onnx_read("onnx_contents.onnx", &o), YPR_OK);
    assert_int_equal(o->opset, 13);
    assert_int_equal(o->ir_version, 7);
    assert_string_equal(o->producer, "libyolopr");
    assert_int_equal(o->ninputs, 1);
    assert_string_equal(o->inputs[0].name, "images");
    assert_int_equal(o->inputs[0].ndim, 4);
    assert_int_equal(o->inputs[0].dims[0], -1);   /* symbolic batch */
    assert_int_equal(o->inputs[0].dims[2], 64);
    assert_int_equal(o->noutputs, 2);
    /* mini.yaml: nc 3, 3 anchors, levels at strides 4 and 8 */
    int64_t want[2][5] = {{-1, 3, 16, 16, 8}, {-1, 3, 8, 8, 8}};
    for (int l = 0; l < 2; l++) {
        assert_int_equal(o->outputs[l].ndim, 5);
        assert_memory_equal(o->outputs[l].dims, want[l], sizeof want[l]);
    }
    assert_string_equal(ypr__onnx_meta(o, "anchors"),
                        "[[10,13,16,30,33,23],[30,61,62,45,59,119]]");
    assert_string_equal(ypr__onnx_meta(o, "strides"), "[4,8]");
    assert_string_equal(ypr__onnx_meta(o, "nc"), "3");
    int silu = 0, sig = 0, bn = 0;
    for (int i = 0; i < o->nnodes; i++) {
        sig += strcmp(o->nodes[i].op, "Sigmoid") == 0;
        silu += strcmp(o->nodes[i].op, "Mul") == 0;
        bn += strcmp(o->nodes[i].op, "BatchNormalization") == 0;
        assert_string_equal(o->nodes[i].domain, "");
    }
    assert_true(sig > 0 && silu >= sig && bn > 0);
    ypr__onnx_free(o);
    ypr_model_free(a);
    unlink("onnx_contents.onnx");
}

/* ------------------------------------------------------------ QDQ (INT8) */

/* The mini model quantized on two synthetic images (dpu: SiLU → hard-swish,
 * so both activation kinds of the schemes are exercised). */
/* The same tensors by value: a weight rounded to −0 comes back as +0 (an
 * integer has no sign of zero). */
static void same_values(const ypr_model *a, const ypr_model *b)
{
    assert_int_equal(a->net.nparams, b->net.nparams);
    for (int i = 0; i < a->net.nparams; i++) {
        const ypr_param *p = &a->net.params[i];
        int j = ypr__net_find_param(&b->net, p->name);
        if (j < 0)
            fail_msg("tensor %s lost in the round trip", p->name);
        assert_int_equal(b->net.params[j].numel, p->numel);
        for (int64_t k = 0; k < p->numel; k++)
            if (!(b->net.params[j].data[k] == p->data[k]))
                fail_msg("tensor %s[%lld]: %g came back as %g", p->name, (long long)k,
                         (double)p->data[k], (double)b->net.params[j].data[k]);
    }
    for (int i = 0; i < a->net.nnodes; i++) {
        assert_int_equal(a->net.nodes[i].kind, b->net.nodes[i].kind);
        assert_string_equal(a->net.nodes[i].name, b->net.nodes[i].name);
    }
}

static ypr_model *quantized_mini(int scheme)
{
    ypr_model *m = mini(), *out = NULL;
    ypr_dataset *ds;
    ypr_quantizer *q;
    assert_int_equal(ypr_dataset_synth(4, 64, 3, 1, &ds), YPR_OK);
    assert_int_equal(ypr_quantizer_create(m, ds, &q), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SCHEME, scheme), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_CALIB_IMAGES, 2), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_INPUT_SIZE, 64), YPR_OK);
    assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_SQNR_IMAGES, 0), YPR_OK);
    if (scheme == YPR_QSCHEME_DPU)
        assert_int_equal(ypr_quantizer_set_int(q, YPR_QUANT_HARD_ACT, 1), YPR_OK);
    assert_int_equal(ypr_quantizer_quantize(q, &out), YPR_OK);
    ypr_quantizer_free(q);
    ypr_dataset_free(ds);
    ypr_model_free(m);
    assert_int_equal(ypr_model_set_threads(out, 1), YPR_OK);
    assert_int_equal(ypr_model_set_int(out, YPR_MODEL_INPUT_SIZE, 64), YPR_OK);
    return out;
}

static void same_step(const ypr_qparam *a, const ypr_qparam *b, const char *node)
{
    if (a->scale != b->scale || a->zero != b->zero || a->qmin != b->qmin ||
        a->qmax != b->qmax || a->round != b->round || a->per_channel != b->per_channel)
        fail_msg("node %s: step [%g %d %d %d %d %d] came back as [%g %d %d %d %d %d]", node,
                 (double)a->scale, (int)a->zero, (int)a->qmin, (int)a->qmax, a->round,
                 a->per_channel, (double)b->scale, (int)b->zero, (int)b->qmin, (int)b->qmax,
                 b->round, b->per_channel);
}

static int count_op(const ypr_onnx *o, const char *op)
{
    int n = 0;
    for (int i = 0; i < o->nnodes; i++)
        n += strcmp(o->nodes[i].op, op) == 0;
    return n;
}

static float *floats_of(const ypr_onnx_tensor *t)
{
    assert_non_null(t);
    float *v = malloc((size_t)t->numel * sizeof *v);
    assert_int_equal(ypr__onnx_tensor_f32(t, v), YPR_OK);
    return v;
}

static const ypr_onnx_tensor *find_init(const ypr_onnx *o, const char *name)
{
    for (int i = 0; i < o->ninits; i++)
        if (strcmp(o->inits[i].name, name) == 0)
            return &o->inits[i];
    return NULL;
}

/* Export → import of both schemes: the same tensors, the same steps, the
 * same outputs bit for bit; the file holds QDQ pairs on every quantized
 * value, INT8 weights (per channel along axis 0 for per-channel) and INT32
 * biases on their grid s_w·s_x (DequantizeLinear's arithmetic, checked
 * here independently from the float weights). */
static void test_qdq_round_trip(void **state)
{
    (void)state;
    const char *file = "onnx_qdq.onnx";
    for (int scheme = 0; scheme < 2; scheme++) {
        int sch = scheme ? YPR_QSCHEME_PER_CHANNEL : YPR_QSCHEME_DPU;
        ypr_model *a = quantized_mini(sch), *b = NULL;
        assert_int_equal(ypr_model_export_onnx(a, file), YPR_OK);
        assert_int_equal(ypr_model_load(file, &b), YPR_OK);
        assert_int_equal(ypr_model_set_threads(b, 1), YPR_OK);
        same_values(a, b);
        const ypr_net *na = &a->net, *nb = &b->net;
        int steps = 0, convs = 0;
        for (int i = 0; i < na->nnodes; i++) {
            same_step(&na->nodes[i].aq, &nb->nodes[i].aq, na->nodes[i].name);
            same_step(&na->nodes[i].wq, &nb->nodes[i].wq, na->nodes[i].name);
            same_step(&na->nodes[i].bq, &nb->nodes[i].bq, na->nodes[i].name);
            steps += na->nodes[i].aq.scale > 0;
            convs += na->nodes[i].wq.scale > 0;
        }
        assert_true(steps > 5 && convs > 3);
        same_outputs(a, b, 64);
        if (!test_quick())
            same_outputs(a, b, 96);
        /* what the file says */
        ypr_onnx *o;
        assert_int_equal(ypr__onnx_read(file, &o), YPR_OK);
        assert_true(count_op(o, "QuantizeLinear") >= steps);
        int nq = count_op(o, "QuantizeLinear"), ndq = count_op(o, "DequantizeLinear");
        assert_true(ndq >= nq + convs && ndq <= nq + 2 * convs);   /* + INT32 biases */
        assert_non_null(ypr__onnx_meta(o, "quantization"));
        for (int i = 0; i < na->nnodes; i++) {
            const ypr_node *nd = &na->nodes[i];
            if (nd->wq.scale <= 0)
                continue;
            const ypr_param *w = &na->params[nd->p[0]];
            char name[256];
            snprintf(name, sizeof name, "%s_quantized", w->name);
            const ypr_onnx_tensor *qt = find_init(o, name);
            assert_non_null(qt);
            assert_int_equal(qt->dtype, YPR_ONNX_INT8);
            assert_int_equal(qt->numel, w->numel);
            snprintf(name, sizeof name, "%s_scale", w->name);
            const ypr_onnx_tensor *st = find_init(o, name);
            assert_non_null(st);
            assert_int_equal(st->numel, scheme ? nd->c : 1);
            float *s = floats_of(st);   /* raw data need not be aligned */
            int64_t per = w->numel / nd->c;
            for (int64_t k = 0; k < w->numel; k++) {
                float sc = s[scheme ? k / per : 0], back = (float)(int8_t)qt->data[k] * sc;
                assert_true(back == w->data[k]);
                if (!scheme)   /* dpu: a power of two, narrow range */
                    assert_true(frexpf(sc, &(int){0}) == 0.5f && qt->data[k] != 0x80);
            }
            if (scheme && nd->p[1] >= 0) {   /* INT32 bias at s_w[c]·s_x */
                const ypr_param *bp = &na->params[nd->p[1]];
                snprintf(name, sizeof name, "%s_quantized", bp->name);
                const ypr_onnx_tensor *bt = find_init(o, name);
                if (!bt) {   /* not exactly on that grid: the float bias */
                    assert_non_null(find_init(o, bp->name));
                    free(s);
                    continue;
                }
                assert_int_equal(bt->dtype, YPR_ONNX_INT32);
                snprintf(name, sizeof name, "%s_scale", bp->name);
                float *bs = floats_of(find_init(o, name));
                int src = nd->inputs[0];
                while (na->nodes[src].kind == YPR_NODE_MAXPOOL ||   /* they pass the step on */
                       na->nodes[src].kind == YPR_NODE_UPSAMPLE ||
                       na->nodes[src].kind == YPR_NODE_REORG)
                    src = na->nodes[src].inputs[0];
                for (int64_t c = 0; c < nd->c; c++) {
                    int32_t v;
                    memcpy(&v, bt->data + 4 * c, 4);
                    assert_true(bs[c] == s[c] * na->nodes[src].aq.scale);
                    assert_true((float)v * bs[c] == bp->data[c]);
                }
                free(bs);
            }
            free(s);
        }
        ypr__onnx_free(o);
        if (scheme) {   /* the flags: float form of a quantized model; INT8 form required */
            assert_int_equal(ypr_model_export_onnx_flags(a, file, YPR_EXPORT_FLOAT), YPR_OK);
            assert_int_equal(ypr__onnx_read(file, &o), YPR_OK);
            assert_int_equal(count_op(o, "QuantizeLinear") + count_op(o, "DequantizeLinear"), 0);
            assert_null(ypr__onnx_meta(o, "quantization"));
            ypr__onnx_free(o);
            ypr_model *c;
            assert_int_equal(ypr_model_load(file, &c), YPR_OK);
            same_values(a, c);
            for (int i = 0; i < c->net.nnodes; i++)
                assert_true(c->net.nodes[i].aq.scale == 0 && c->net.nodes[i].wq.scale == 0);
            ypr_model_free(c);
            assert_int_equal(ypr_model_export_onnx_flags(a, file, YPR_EXPORT_INT8), YPR_OK);
            assert_int_equal(ypr_model_export_onnx_flags(a, file, 3), YPR_EINVAL);
            ypr_model *f = mini();
            assert_int_equal(ypr_model_export_onnx_flags(f, file, YPR_EXPORT_INT8), YPR_EINVAL);
            assert_non_null(strstr(ypr_last_error(), "no quantization steps"));
            ypr_model_free(f);
        }
        ypr_model_free(a);
        ypr_model_free(b);
    }
    unlink(file);
}

/* A QDQ detector as ONNX Runtime's quantizer and PyTorch write one:
 * images → QuantizeLinear (UINT8, zero point 10) → DequantizeLinear → Conv
 * 8×8/8 (INT8 weights per output channel along axis 0, INT32 bias at
 * s_x·s_w[c]) → QuantizeLinear (INT8) → DequantizeLinear → output. Each
 * variant breaks one thing. */
enum { Q_PLAIN, Q_ZERO_SCALE, Q_NAN_SCALE, Q_AXIS1, Q_COUNT, Q_MIXED, Q_REQUANT, Q_ZP_DIFF,
       Q_INT16, Q_SILU, Q_WEIGHT_FLOAT };

#define QX_SCALE 0.01f
#define QX_ZERO 10
#define QY_SCALE 0.05f

static float qw_scale(int c) { return 0.001f * (float)(c + 1); }
static int8_t qw_value(int k) { return (int8_t)((k * 37) % 255 - 127); }
static int32_t qb_value(int c) { return c * 100 - 250; }

static void gb_scalar(gb *b, const char *name, int dtype, const void *v)
{
    gb_tensor(&b->g, 5, name, dtype, 0, NULL, v, ypr__onnx_dtype_size(dtype));
}

static void gb_q(gb *b, const char *op, const char *name, const char *x, const char *s,
                 const char *z, const char *out, int64_t axis)
{
    const char *in[3] = {x, s, z};
    ypr_pbw a;
    ypr__pbw_init(&a);
    if (axis != 1) {
        ypr_pbw t;
        ypr__pbw_init(&t);
        ypr__pbw_str(&t, 1, "axis");
        ypr__pbw_varint(&t, 20, YPR_ONNX_ATTR_INT);
        ypr__pbw_varint(&t, 3, (uint64_t)axis);
        ypr__pbw_msg(&a, 5, &t);
        ypr__pbw_free(&t);
    }
    gb_node(b, op, name, in, z ? 3 : 2, out, axis != 1 ? &a : NULL);
    ypr__pbw_free(&a);
}

static ypr_pbw qdq_detector(int variant)
{
    gb b;
    gb_init(&b);
    int64_t in[4] = {1, 3, 32, 32}, wd[4] = {6, 3, 8, 8}, bd[1] = {6}, n = 6 * 3 * 8 * 8;
    gb_value(&b.g, 11, "images", 4, in);
    float sx = variant == Q_NAN_SCALE ? NAN : QX_SCALE, sy = QY_SCALE;
    uint8_t zx = QX_ZERO;
    int8_t zy = 0;
    gb_scalar(&b, "x_scale", YPR_ONNX_FLOAT, &sx);
    gb_scalar(&b, "x_zero", YPR_ONNX_UINT8, &zx);
    gb_scalar(&b, "y_scale", YPR_ONNX_FLOAT, &sy);
    if (variant == Q_INT16) {
        int16_t z16 = 0;
        gb_scalar(&b, "y_zero", YPR_ONNX_INT16, &z16);
    } else {
        gb_scalar(&b, "y_zero", YPR_ONNX_INT8, &zy);
    }
    int8_t *w = malloc((size_t)n);
    float ws[6], bs[6];
    int8_t wz[6] = {0};
    int32_t bq[6], bz[6] = {0};
    for (int64_t k = 0; k < n; k++)
        w[k] = qw_value((int)k);
    for (int c = 0; c < 6; c++) {
        ws[c] = variant == Q_ZERO_SCALE && c == 2 ? 0.0f : qw_scale(c);
        bs[c] = QX_SCALE * qw_scale(c);
        bq[c] = qb_value(c);
    }
    if (variant == Q_ZP_DIFF)
        wz[3] = 1;
    int64_t nsc[1] = {variant == Q_COUNT ? 5 : variant == Q_AXIS1 ? 3 : 6};
    gb_tensor(&b.g, 5, "w_q", YPR_ONNX_INT8, 4, wd, w, (size_t)n);
    gb_tensor(&b.g, 5, "w_scale", YPR_ONNX_FLOAT, 1, nsc, ws, (size_t)nsc[0] * 4);
    gb_tensor(&b.g, 5, "w_zero", YPR_ONNX_INT8, 1, nsc, wz, (size_t)nsc[0]);
    gb_tensor(&b.g, 5, "b_q", YPR_ONNX_INT32, 1, bd, bq, sizeof bq);
    gb_tensor(&b.g, 5, "b_scale", YPR_ONNX_FLOAT, 1, bd, bs, sizeof bs);
    gb_tensor(&b.g, 5, "b_zero", YPR_ONNX_INT32, 1, bd, bz, sizeof bz);
    free(w);
    gb_q(&b, "QuantizeLinear", "x/q", "images", "x_scale", "x_zero", "xq", 1);
    gb_q(&b, "DequantizeLinear", "x/dq", "xq", "x_scale", "x_zero", "xd", 1);
    if (variant == Q_WEIGHT_FLOAT) {   /* PyTorch's fake quantization: Q then DQ of a float weight */
        gb_q(&b, "DequantizeLinear", "w/dq0", "w_q", "w_scale", "w_zero", "w_f", 0);
        gb_q(&b, "QuantizeLinear", "w/q", "w_f", "w_scale", "w_zero", "w_q2", 0);
        gb_q(&b, "DequantizeLinear", "w/dq", "w_q2", "w_scale", "w_zero", "w", 0);
    } else {
        gb_q(&b, "DequantizeLinear", "w/dq", "w_q", "w_scale", "w_zero", "w",
             variant == Q_AXIS1 ? 1 : 0);
    }
    gb_q(&b, "DequantizeLinear", "b/dq", "b_q", "b_scale", "b_zero", "bias", 0);
    ypr_pbw a;
    ypr__pbw_init(&a);
    int64_t k[2] = {8, 8}, s[2] = {8, 8};
    attr_ints(&a, "kernel_shape", k, 2);
    attr_ints(&a, "strides", s, 2);
    const char *cin[3] = {"xd", "w", "bias"};
    gb_node(&b, "Conv", "head", cin, 3, "conv", &a);
    ypr__pbw_free(&a);
    const char *y = "conv", *out = "yd";
    if (variant == Q_SILU) {   /* a step between Sigmoid and Mul */
        gb_node(&b, "Sigmoid", "sig", &y, 1, "sg", NULL);
        gb_q(&b, "QuantizeLinear", "sg/q", "sg", "y_scale", "y_zero", "sgq", 1);
        gb_q(&b, "DequantizeLinear", "sg/dq", "sgq", "y_scale", "y_zero", "sgd", 1);
        const char *m[2] = {"conv", "sgd"};
        gb_node(&b, "Mul", "silu", m, 2, "silu", NULL);
        y = "silu";
    }
    float sy2 = 2 * QY_SCALE;
    gb_scalar(&b, "y_scale2", YPR_ONNX_FLOAT, &sy2);
    gb_q(&b, "QuantizeLinear", "y/q", y, "y_scale", "y_zero", "yq", 1);
    gb_q(&b, "DequantizeLinear", "y/dq", "yq", variant == Q_REQUANT ? "y_scale2" : "y_scale",
         "y_zero", "yd", 1);
    if (variant == Q_MIXED) {   /* the float value is also read as it is */
        const char *x[2] = {"yd", "conv"};
        gb_node(&b, "Add", "mixed", x, 2, "sum", NULL);
        out = "sum";
    }
    int64_t od[4] = {1, 6, 4, 4};
    gb_value(&b.g, 12, out, 4, od);
    gb_meta(&b, "na", "1");
    gb_meta(&b, "anchors", "[[16, 16]]");
    return gb_model(&b, 13);
}

static void expect_qdq_error(int variant, int code, const char *needle)
{
    ypr_pbw w = qdq_detector(variant);
    ypr_model *m;
    int rc = import_bytes(&w, &m);
    if (rc != code || !strstr(ypr_last_error(), needle))
        fail_msg("QDQ variant %d: got %d '%s', expected %d with '%s'", variant, rc,
                 ypr_last_error(), code, needle);
    assert_null(m);
    ypr__pbw_free(&w);
}

/* The QDQ detector imports as a quantized net whose output is the
 * fake-quantized conv worked out here in double from the ONNX operator
 * definitions; a weight quantized in the graph (Q of a float constant)
 * gives the same; every variant fails naming what it cannot represent. */
static void test_qdq_import(void **state)
{
    (void)state;
    float *x = malloc(3 * 32 * 32 * sizeof *x);
    for (int i = 0; i < 3 * 32 * 32; i++)
        x[i] = (float)((i * 37) % 101) / 100.0f;
    for (int v = 0; v < 2; v++) {
        ypr_pbw w = qdq_detector(v ? Q_WEIGHT_FLOAT : Q_PLAIN);
        ypr_model *m;
        assert_int_equal(import_bytes(&w, &m), YPR_OK);
        ypr__pbw_free(&w);
        const ypr_net *net = &m->net;
        assert_int_equal(net->nnodes, 3);   /* input, conv, detect */
        const ypr_qparam *ax = &net->nodes[0].aq, *ay = &net->nodes[1].aq;
        const ypr_qparam *wq = &net->nodes[1].wq, *bq = &net->nodes[1].bq;
        assert_true(ax->scale == QX_SCALE && ax->zero == QX_ZERO && ax->qmin == 0 &&
                    ax->qmax == 255 && ax->round == YPR_ROUND_HALF_EVEN);
        assert_true(ay->scale == QY_SCALE && ay->zero == 0 && ay->qmin == -128 && ay->qmax == 127);
        assert_true(wq->per_channel && wq->scale == qw_scale(5) && wq->qmin == -128);
        assert_true(bq->per_channel && bq->scale == QX_SCALE * qw_scale(5));
        assert_int_equal(ypr_model_forward(m, x, 1, 32, 32), YPR_OK);
        float out[6 * 16];
        int64_t s[5];
        assert_int_equal(ypr_model_output(m, 0, out, s), YPR_OK);
        int equal = 0;
        for (int cell = 0; cell < 16; cell++)
            for (int oc = 0; oc < 6; oc++) {
                double acc = (double)qb_value(oc) * ((double)QX_SCALE * qw_scale(oc));
                int cy = cell / 4, cx = cell % 4;
                for (int ic = 0; ic < 3; ic++)
                    for (int ky = 0; ky < 8; ky++)
                        for (int kx = 0; kx < 8; kx++) {
                            int wi = ((oc * 3 + ic) * 8 + ky) * 8 + kx;
                            double xv = x[(ic * 32 + cy * 8 + ky) * 32 + cx * 8 + kx];
                            double xq = fmin(fmax(nearbyint(xv / QX_SCALE) + QX_ZERO, 0), 255);
                            acc += (xq - QX_ZERO) * QX_SCALE * qw_value(wi) * (double)qw_scale(oc);
                        }
                double yq = fmin(fmax(nearbyint(acc / QY_SCALE), -128), 127) * QY_SCALE;
                double got = out[cell * 6 + oc];
                assert_true(fabs(got - yq) <= QY_SCALE * 1.001);   /* a tie may round apart */
                equal += fabs(got - yq) < 1e-6;
            }
        assert_true(equal >= 90);
        ypr_model_free(m);
    }
    free(x);
    expect_qdq_error(Q_ZERO_SCALE, YPR_ERANGE, "'w/dq' (DequantizeLinear): scale w_scale: value 2 "
                     "is 0, not a positive finite number");
    expect_qdq_error(Q_NAN_SCALE, YPR_ERANGE, "'x/q' (QuantizeLinear): scale x_scale: value 0 is");
    expect_qdq_error(Q_AXIS1, YPR_EUNSUPPORTED, "'w/dq' (DequantizeLinear): per-channel axis 1 of "
                     "w_q: only axis 0");
    expect_qdq_error(Q_COUNT, YPR_ESHAPE, "'w/dq' (DequantizeLinear): 5 scales for the 6 channels");
    expect_qdq_error(Q_MIXED, YPR_EUNSUPPORTED, "'y/q' (QuantizeLinear): 'conv' is also read "
                     "unquantized");
    expect_qdq_error(Q_REQUANT, YPR_EUNSUPPORTED, "'y/dq' (DequantizeLinear): scale or zero point "
                     "differ");
    expect_qdq_error(Q_ZP_DIFF, YPR_EUNSUPPORTED, "zero point w_zero differs between channels");
    expect_qdq_error(Q_INT16, YPR_EUNSUPPORTED, "zero point y_zero has element type 5");
    expect_qdq_error(Q_SILU, YPR_EUNSUPPORTED, "'silu' (Mul): a quantization step on the Sigmoid "
                     "inside SiLU");
}

/* PyTorch's export of fake quantization (tests/data/onnx/make_qdq_fixture.py):
 * QuantizeLinear/DequantizeLinear of the input (UINT8, zero point 3), of the
 * float weights per channel and of each value, against torch's own output
 * in units of its step: PyTorch multiplies by 1/scale where ONNX divides,
 * and sums in another order, so a value on the edge of a tie may round
 * apart; at most 1 % of the values may, by one step. */
static void test_qdq_torch(void **state)
{
    (void)state;
    ypr_safetensors *st;
    assert_int_equal(ypr__st_open(path_of("onnx/qdq_torch_expected.safetensors"), &st), YPR_OK);
    const ypr_st_tensor *x = ypr__st_find(st, "images"), *e = ypr__st_find(st, "output0");
    const ypr_st_tensor *sp = ypr__st_find(st, "step");
    ypr_model *m;
    if (ypr_model_load(path_of("onnx/qdq_torch.onnx"), &m) != YPR_OK)
        fail_msg("%s", ypr_last_error());
    const ypr_net *net = &m->net;
    assert_true(net->nodes[0].aq.zero == 3 && net->nodes[0].aq.qmin == 0 &&
                net->nodes[0].aq.qmax == 255);
    int convs = 0;
    for (int i = 0; i < net->nnodes; i++)
        convs += net->nodes[i].kind == YPR_NODE_CONV && net->nodes[i].wq.per_channel;
    assert_int_equal(convs, 2);
    assert_true(ypr__net_find_param(net, "c0.weight") >= 0);
    float *in = malloc((size_t)x->numel * sizeof *in), *ref = malloc((size_t)e->numel * 4);
    float *y = malloc((size_t)e->numel * sizeof *y), step;
    assert_int_equal(ypr__st_to_f32(x, in), YPR_OK);
    assert_int_equal(ypr__st_to_f32(e, ref), YPR_OK);
    assert_int_equal(ypr__st_to_f32(sp, &step), YPR_OK);
    assert_int_equal(ypr_model_forward(m, in, 1, 32, 32), YPR_OK);
    int64_t s[5];
    assert_int_equal(ypr_model_output(m, 0, y, s), YPR_OK);
    assert_memory_equal(s, e->shape, sizeof s);
    int64_t apart = 0;
    for (int64_t i = 0; i < e->numel; i++) {
        double d = fabs(y[i] - ref[i]) / step;
        assert_true(d <= 1.001);
        apart += d > 1e-3;
    }
    assert_true(apart * 100 <= e->numel);
    free(in);
    free(ref);
    free(y);
    ypr_model_free(m);
    ypr__st_close(st);
}

/* Every cut of an exported file inside its graph is refused, naming the file. */
static void test_truncated(void **state)
{
    (void)state;
    ypr_model *a = mini();
    assert_int_equal(ypr_model_export_onnx(a, "onnx_trunc.onnx"), YPR_OK);
    ypr_model_free(a);
    size_t len;
    char *buf = test_slurp("onnx_trunc.onnx", &len);
    assert_non_null(buf);
    unlink("onnx_trunc.onnx");
    /* where the graph field (7) starts and ends */
    ypr_pb r;
    ypr_pb_field f;
    size_t g0 = 0, g1 = 0;
    ypr__pb_init(&r, buf, len);
    while (ypr__pb_next(&r, &f) > 0)
        if (f.num == 7) {
            g0 = (size_t)(f.data - (const uint8_t *)buf);
            g1 = g0 + f.len;
        }
    assert_true(g1 > g0 + 1000);
    size_t step = test_quick() ? 997 : 61, tried = 0;
    for (size_t cut = g0 - 1; cut < g1; cut += step, tried++) {
        ypr_onnx *o = NULL;
        int rc = ypr__onnx_parse(buf, cut, "cut.onnx", &o);
        if (rc != YPR_EFORMAT ||
            !strstr(ypr_last_error(), "cut.onnx: ONNX: malformed or truncated"))
            fail_msg("cut at %zu: %d %s", cut, rc, ypr_last_error());
        assert_null(o);
    }
    assert_true(tried > 50);
    /* an op renamed in place (same length): refused naming node and op */
    char *p = NULL;
    for (size_t i = 0; i + 7 < len && !p; i++)
        if (memcmp(buf + i, "MaxPool", 7) == 0)
            p = buf + i;
    assert_non_null(p);
    memcpy(p, "MaxPoop", 7);
    ypr_onnx *o;
    assert_int_equal(ypr__onnx_parse(buf, len, "ren.onnx", &o), YPR_OK);
    ypr_model *m;
    assert_int_equal(ypr__onnx_import(o, "ren.onnx", &m), YPR_EUNSUPPORTED);
    assert_non_null(strstr(ypr_last_error(), "(MaxPoop): op MaxPoop is not supported"));
    assert_non_null(strstr(ypr_last_error(), "ren.onnx: ONNX node 'model."));
    ypr__onnx_free(o);
    free(buf);
}

/* ------------------------------------------------------ PyTorch's exports */

static void test_torch_exports(void **state)
{
    (void)state;
    ypr_safetensors *st;
    assert_int_equal(ypr__st_open(path_of("onnx/tiny_expected.safetensors"), &st), YPR_OK);
    const ypr_st_tensor *x = ypr__st_find(st, "images");
    assert_non_null(x);
    static const int opsets[4] = {11, 13, 17, 13};
    for (int k = 0; k < 4; k++) {
        char name[64];
        snprintf(name, sizeof name,
                 k == 3 ? "onnx/tiny_dynamic_opset%d.onnx" : "onnx/tiny_opset%d.onnx", opsets[k]);
        ypr_model *m;
        if (ypr_model_load(path_of(name), &m) != YPR_OK)
            fail_msg("%s: %s", name, ypr_last_error());
        assert_int_equal(ypr_model_num_classes(m), 3);
        /* state_dict names where PyTorch kept them, the module path otherwise */
        assert_true(ypr__net_find_param(&m->net, "model.10.ia.0.implicit") >= 0);
        assert_true(ypr__net_find_param(&m->net, "model.10.m.1.weight") >= 0);
        assert_true(ypr__net_find_param(&m->net, "model.0.conv.weight") >= 0);
        assert_true(ypr__net_find_param(&m->net, "model.9.conv.bias") >= 0);
        if (opsets[k] != 11)
            assert_string_equal(m->names[2], "bird");
        const ypr_node *d = &m->net.nodes[m->net.nnodes - 1];
        assert_string_equal(d->name, "model.10");
        assert_true(d->strides[0] == 4.0f && d->strides[1] == 8.0f);
        float *in = malloc((size_t)x->numel * sizeof *in);
        assert_int_equal(ypr__st_to_f32(x, in), YPR_OK);
        assert_int_equal(ypr_model_forward(m, in, 1, 32, 32), YPR_OK);
        free(in);
        for (int l = 0; l < 2; l++) {
            char on[16];
            snprintf(on, sizeof on, "output%d", l);
            const ypr_st_tensor *e = ypr__st_find(st, on);
            int64_t s[5];
            assert_int_equal(ypr_model_output(m, l, NULL, s), YPR_OK);
            assert_int_equal(e->ndim, 5);
            assert_memory_equal(s, e->shape, sizeof s);
            float *y = malloc((size_t)e->numel * sizeof *y), *ref = malloc((size_t)e->numel * 4);
            assert_int_equal(ypr_model_output(m, l, y, s), YPR_OK);
            assert_int_equal(ypr__st_to_f32(e, ref), YPR_OK);
            double worst = 0, scale = 0;
            for (int64_t i = 0; i < e->numel; i++)
                scale = fmax(scale, fabs(ref[i]));
            for (int64_t i = 0; i < e->numel; i++)
                worst = fmax(worst, fabs(y[i] - ref[i]) / scale);
            if (!(worst <= 1e-4))
                fail_msg("%s level %d: relative error %g", name, l, worst);
            free(y);
            free(ref);
        }
        if (k == 2) {   /* the imported net trains: one batch, loss going down */
            ypr_dataset *ds;
            ypr_trainer *t;
            assert_int_equal(ypr_dataset_synth(4, 64, 3, 1, &ds), YPR_OK);
            assert_int_equal(ypr_trainer_create(m, ds, NULL, &t), YPR_OK);
            float *img = input_image(64, 64);
            const float tg[2][6] = {{0, 1, 0.5f, 0.5f, 0.3f, 0.4f},
                                    {0, 2, 0.25f, 0.3f, 0.2f, 0.2f}};
            double first[4], loss[4];
            for (int it = 0; it < 12; it++)
                assert_int_equal(ypr_trainer_step(t, img, 1, 64, &tg[0][0], 2, it ? loss : first),
                                 YPR_OK);
            if (!(loss[3] < first[3]))
                fail_msg("loss %g after 12 steps, %g at the first", loss[3], first[3]);
            free(img);
            ypr_trainer_free(t);
            ypr_dataset_free(ds);
        }
        if (k == 1) {   /* the imported net prunes and runs */
            int before = (int)ypr_model_num_params(m);
            prune_quarter(m);
            assert_true(ypr_model_num_params(m) < before);
            float *z = input_image(32, 32);
            assert_int_equal(ypr_model_forward(m, z, 1, 32, 32), YPR_OK);
            free(z);
        }
        ypr_model_free(m);
    }
    ypr__st_close(st);
}

int main(void)
{
    const char *d = getenv("YPR_TEST_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", d ? d : "tests/data");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_wire_errors),
        cmocka_unit_test(test_tiny_detector),
        cmocka_unit_test(test_bad_graphs),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_export_contents),
        cmocka_unit_test(test_qdq_round_trip),
        cmocka_unit_test(test_qdq_import),
        cmocka_unit_test(test_qdq_torch),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_torch_exports),
    };
    test_threads_from_env();
    const char *only = getenv("YPR_TEST_ONLY");   /* one case, for timing */
    if (only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
