/* ONNX ModelProto decoding (the schema of onnx.proto, fields by number) over
 * the hand-written protobuf reader. Repeated fields are read in two passes
 * (count, then fill) so every array is allocated once at its final size,
 * after its count has been checked against the limits in io.h. Strings and
 * arrays live in one arena freed with the model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* ------------------------------------------------------------------ arena */

typedef struct block { struct block *next; size_t used, cap; max_align_t data[]; } block;

static void *arena_alloc(ypr_onnx *o, size_t n)
{
    block *b = o->arena_;
    n = (n + 15) & ~(size_t)15;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && n > 65536) {   /* keep filling the current block */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            o->arena_ = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

typedef struct ctx {
    ypr_onnx *o;
    const char *what;
} ctx;

static int bad(const ctx *c, const char *where)
{
    return ypr__error(YPR_EFORMAT, "%s: ONNX: malformed or truncated protobuf in %s", c->what,
                      where);
}

static int oom(const ctx *c)
{
    return ypr__error(YPR_ENOMEM, "%s: out of memory", c->what);
}

/* A NUL-terminated copy of a BYTES field (names, strings). */
static int str_of(const ctx *c, const ypr_pb_field *f, const char *where, const char **out)
{
    size_t max = strcmp(where, "metadata value") == 0 || strcmp(where, "attribute string") == 0
                 ? YPR_ONNX_MAX_META : YPR_ONNX_MAX_NAME;
    RETURN_IF(f->wire != YPR_PB_BYTES, YPR_EFORMAT, "%s: ONNX: %s is not a string", c->what,
              where);
    RETURN_IF(f->len > max, YPR_ERANGE, "%s: ONNX: %s is %zu bytes long (at most %zu)",
              c->what, where, f->len, max);
    RETURN_IF(memchr(f->data, 0, f->len) != NULL, YPR_EFORMAT,
              "%s: ONNX: %s holds a NUL byte", c->what, where);
    char *s = arena_alloc(c->o, f->len + 1);
    if (!s)
        return oom(c);
    memcpy(s, f->data, f->len);
    *out = s;
    return YPR_OK;
}

/* How many fields numbered `num` a message holds. */
static int count_fields(const ctx *c, const uint8_t *data, size_t len, uint32_t num,
                        const char *where, size_t *n)
{
    ypr_pb r;
    ypr_pb_field f;
    int k;
    size_t cnt = 0;
    ypr__pb_init(&r, data, len);
    while ((k = ypr__pb_next(&r, &f)) > 0)
        cnt += f.num == num;
    if (k < 0)
        return bad(c, where);
    *n = cnt;
    return YPR_OK;
}

size_t ypr__onnx_dtype_size(int dtype)
{
    switch (dtype) {
    case YPR_ONNX_FLOAT: case YPR_ONNX_INT32: case YPR_ONNX_UINT32: return 4;
    case YPR_ONNX_UINT8: case YPR_ONNX_INT8: case YPR_ONNX_BOOL: return 1;
    case YPR_ONNX_UINT16: case YPR_ONNX_INT16: case YPR_ONNX_FLOAT16:
    case YPR_ONNX_BFLOAT16: return 2;
    case YPR_ONNX_INT64: case YPR_ONNX_DOUBLE: case YPR_ONNX_UINT64: return 8;
    default: return 0;
    }
}

/* ----------------------------------------------------------------- tensor */

/* Typed (non-raw) data: float_data (4), int32_data (5), int64_data (7),
 * double_data (10), uint64_data (11), packed or not, converted to the raw
 * little-endian layout of the tensor's type. */
static int typed_data(const ctx *c, ypr_onnx_tensor *t, const uint8_t *msg, size_t len)
{
    size_t es = ypr__onnx_dtype_size(t->dtype);
    uint32_t want;
    switch (t->dtype) {
    case YPR_ONNX_FLOAT: want = 4; break;
    case YPR_ONNX_INT64: want = 7; break;
    case YPR_ONNX_DOUBLE: want = 10; break;
    case YPR_ONNX_UINT64: case YPR_ONNX_UINT32: want = 11; break;
    default: want = 5; break;   /* int32_data holds the small integer and 16-bit types */
    }
    ypr_pb r;
    ypr_pb_field f;
    int rc;
    /* count first: a declared size the data does not back is refused
     * before anything that large is allocated */
    size_t k = 0;
    ypr__pb_init(&r, msg, len);
    while ((rc = ypr__pb_next(&r, &f)) > 0) {
        size_t n = 1;
        if (f.num != want)
            continue;
        if (f.wire == YPR_PB_BYTES && (want == 4 || want == 10))
            n = f.len / (want == 4 ? 4 : 8);
        else if (want != 4 && want != 10 && ypr__pb_count_ints(&f, &n) < 0)
            return bad(c, "tensor data");
        k += n;
    }
    if (rc < 0)
        return bad(c, "TensorProto");
    RETURN_IF(k != (size_t)t->numel, YPR_EFORMAT, "%s: ONNX: tensor %s has %zu values for %lld "
              "elements", c->what, t->name, k, (long long)t->numel);
    uint8_t *dst = arena_alloc(c->o, (size_t)t->numel * es + 1);
    if (!dst)
        return oom(c);
    k = 0;
    ypr__pb_init(&r, msg, len);
    while ((rc = ypr__pb_next(&r, &f)) > 0) {
        if (f.num != 4 && f.num != 5 && f.num != 7 && f.num != 10 && f.num != 11)
            continue;
        RETURN_IF(f.num != want, YPR_EFORMAT, "%s: ONNX: tensor %s: data field %u does not "
                  "match data type %d", c->what, t->name, f.num, t->dtype);
        /* each element of a packed run takes ≥ 1 byte: bound before decoding */
        size_t room = (size_t)t->numel - k;
        if (want == 4 || want == 10) {
            size_t w = want == 4 ? 4 : 8;
            int fixed = want == 4 ? YPR_PB_FIXED32 : YPR_PB_FIXED64;
            const uint8_t *src = f.wire == YPR_PB_BYTES ? f.data : NULL;
            size_t n = f.wire == YPR_PB_BYTES ? f.len / w : 1;
            RETURN_IF((f.wire != YPR_PB_BYTES && f.wire != fixed) ||
                      (f.wire == YPR_PB_BYTES && f.len % w), YPR_EFORMAT,
                      "%s: ONNX: tensor %s: bad data field", c->what, t->name);
            RETURN_IF(n > room, YPR_EFORMAT, "%s: ONNX: tensor %s: more values than its %lld "
                      "elements", c->what, t->name, (long long)t->numel);
            if (src) {
                memcpy(dst + k * w, src, n * w);
            } else {
                for (size_t b = 0; b < w; b++)
                    dst[k * w + b] = (uint8_t)(f.v >> (8 * b));
            }
            k += n;
        } else {
            size_t n;
            if (ypr__pb_count_ints(&f, &n) < 0)
                return bad(c, "tensor data");
            RETURN_IF(n > room, YPR_EFORMAT, "%s: ONNX: tensor %s: more values than its %lld "
                      "elements", c->what, t->name, (long long)t->numel);
            int64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
            if (!tmp)
                return oom(c);
            if (ypr__pb_ints(&f, tmp, n, &n) < 0) {
                free(tmp);
                return bad(c, "tensor data");
            }
            for (size_t i = 0; i < n; i++, k++) {
                uint64_t v = (uint64_t)tmp[i];
                for (size_t b = 0; b < es; b++)
                    dst[k * es + b] = (uint8_t)(v >> (8 * b));
            }
            free(tmp);
        }
    }
    if (rc < 0)
        return bad(c, "TensorProto");
    RETURN_IF(k != (size_t)t->numel, YPR_EFORMAT, "%s: ONNX: tensor %s has %zu values for %lld "
              "elements", c->what, t->name, k, (long long)t->numel);
    t->data = dst;
    t->nbytes = k * es;
    return YPR_OK;
}

static int parse_tensor(const ctx *c, const uint8_t *msg, size_t len, ypr_onnx_tensor *t)
{
    ypr_pb r;
    ypr_pb_field f;
    int k, has_raw = 0, external = 0, typed = 0;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    memset(t, 0, sizeof *t);
    t->name = "";
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1: {   /* dims */
            size_t n;
            int rc = ypr__pb_ints(&f, t->dims + t->ndim, (size_t)(YPR_ONNX_MAX_DIMS - t->ndim), &n);
            RETURN_IF(rc == YPR_ERANGE, YPR_ERANGE, "%s: ONNX: tensor with more than %d "
                      "dimensions", c->what, YPR_ONNX_MAX_DIMS);
            if (rc < 0)
                return bad(c, "TensorProto.dims");
            t->ndim += (int)n;
            break;
        }
        case 2:
            RETURN_IF(f.wire != YPR_PB_VARINT, YPR_EFORMAT, "%s: ONNX: bad tensor data_type",
                      c->what);
            t->dtype = (int)(f.v > 1000 ? 0 : f.v);
            break;
        case 8:
            TRY(str_of(c, &f, "tensor name", &t->name));
            break;
        case 9:
            if (f.wire != YPR_PB_BYTES)
                return bad(c, "TensorProto.raw_data");
            has_raw = 1;
            raw = f.data;
            raw_len = f.len;
            break;
        case 13:
            external = 1;
            break;
        case 14:
            external |= f.v == 1;
            break;
        case 4: case 5: case 7: case 10: case 11:
            typed = 1;
            break;
        case 3:
            return ypr__error(YPR_EUNSUPPORTED, "%s: ONNX: segmented tensors are not supported",
                              c->what);
        default:
            break;
        }
    }
    if (k < 0)
        return bad(c, "TensorProto");
    RETURN_IF(external, YPR_EUNSUPPORTED, "%s: ONNX: tensor %s keeps its data in an external "
              "file; save the model with its data inside (onnx.save(..., "
              "save_as_external_data=False))", c->what, t->name);
    size_t es = ypr__onnx_dtype_size(t->dtype);
    RETURN_IF(es == 0, YPR_EUNSUPPORTED, "%s: ONNX: tensor %s has data type %d, not a numeric "
              "type this library reads", c->what, t->name, t->dtype);
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++)
        RETURN_IF(t->dims[i] < 0 || ypr__mul_size(numel, t->dims[i], &numel) < 0 ||
                  numel > (int64_t)(YPR_ONNX_MAX_BYTES / es), YPR_EFORMAT,
                  "%s: ONNX: tensor %s: dimension %d is %lld: size negative or too large",
                  c->what, t->name, i, (long long)t->dims[i]);
    t->numel = numel;
    if (has_raw) {
        RETURN_IF(typed, YPR_EFORMAT, "%s: ONNX: tensor %s has both raw and typed data",
                  c->what, t->name);
        RETURN_IF(raw_len != (size_t)numel * es, YPR_EFORMAT, "%s: ONNX: tensor %s: %zu bytes "
                  "of data for %lld elements of %zu bytes", c->what, t->name, raw_len,
                  (long long)numel, es);
        t->data = raw;
        t->nbytes = raw_len;
        return YPR_OK;
    }
    if (numel == 0) {
        t->data = (const uint8_t *)"";
        return YPR_OK;
    }
    return typed_data(c, t, msg, len);
}

/* -------------------------------------------------------------- attribute */

static int parse_attr(const ctx *c, const uint8_t *msg, size_t len, const char *node,
                      ypr_onnx_attr *a)
{
    ypr_pb r;
    ypr_pb_field f;
    int k;
    size_t nints = 0, nfloats = 0;
    memset(a, 0, sizeof *a);
    a->name = "";
    /* first pass: sizes of the lists */
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        size_t n = 0;
        if (f.num == 8 && ypr__pb_count_ints(&f, &n) < 0)
            return bad(c, "AttributeProto.ints");
        if (f.num == 7)
            n = f.wire == YPR_PB_BYTES ? f.len / 4 : 1;
        if (f.num == 8)
            nints += n;
        if (f.num == 7)
            nfloats += n;
    }
    if (k < 0)
        return bad(c, "AttributeProto");
    RETURN_IF(nints > YPR_ONNX_MAX_LIST || nfloats > YPR_ONNX_MAX_LIST, YPR_ERANGE,
              "%s: ONNX: node %s: an attribute lists more than %d values", c->what, node,
              YPR_ONNX_MAX_LIST);
    int64_t *ints = arena_alloc(c->o, (nints + 1) * sizeof *ints);
    float *floats = arena_alloc(c->o, (nfloats + 1) * sizeof *floats);
    if (!ints || !floats)
        return oom(c);
    a->ints = ints;
    a->floats = floats;
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        size_t n;
        switch (f.num) {
        case 1: TRY(str_of(c, &f, "attribute name", &a->name)); break;
        case 20: a->type = (int)(f.v > 100 ? 0 : f.v); break;
        case 2:
            if (f.wire != YPR_PB_FIXED32)
                return bad(c, "AttributeProto.f");
            a->f = ypr__pb_float(&f);
            break;
        case 3: a->i = (int64_t)f.v; break;
        case 4: TRY(str_of(c, &f, "attribute string", &a->s)); break;
        case 5: {
            if (f.wire != YPR_PB_BYTES)
                return bad(c, "AttributeProto.t");
            ypr_onnx_tensor *t = arena_alloc(c->o, sizeof *t);
            if (!t)
                return oom(c);
            TRY(parse_tensor(c, f.data, f.len, t));
            a->t = t;
            break;
        }
        case 7:
            if (ypr__pb_floats(&f, floats + a->nfloats, nfloats - (size_t)a->nfloats, &n) < 0)
                return bad(c, "AttributeProto.floats");
            a->nfloats += (int)n;
            break;
        case 8:
            if (ypr__pb_ints(&f, ints + a->nints, nints - (size_t)a->nints, &n) < 0)
                return bad(c, "AttributeProto.ints");
            a->nints += (int)n;
            break;
        default:
            break;   /* graphs, strings lists, type protos: skipped unread */
        }
    }
    return k < 0 ? bad(c, "AttributeProto") : YPR_OK;
}

/* ------------------------------------------------------------------- node */

static int parse_node(const ctx *c, const uint8_t *msg, size_t len, int index, ypr_onnx_node *n)
{
    size_t nin = 0, nout = 0, nattr = 0;
    char where[48];
    snprintf(where, sizeof where, "node %d", index);
    TRY(count_fields(c, msg, len, 1, where, &nin));
    TRY(count_fields(c, msg, len, 2, where, &nout));
    TRY(count_fields(c, msg, len, 5, where, &nattr));
    RETURN_IF(nin > YPR_ONNX_MAX_NODE_IO || nout > YPR_ONNX_MAX_NODE_IO ||
              nattr > YPR_ONNX_MAX_ATTRS, YPR_ERANGE, "%s: ONNX: node %d has %zu inputs, %zu "
              "outputs, %zu attributes (at most %d, %d, %d)", c->what, index, nin, nout, nattr,
              YPR_ONNX_MAX_NODE_IO, YPR_ONNX_MAX_NODE_IO, YPR_ONNX_MAX_ATTRS);
    memset(n, 0, sizeof *n);
    n->name = n->op = n->domain = "";
    n->inputs = arena_alloc(c->o, (nin + 1) * sizeof(char *));
    n->outputs = arena_alloc(c->o, (nout + 1) * sizeof(char *));
    n->attrs = arena_alloc(c->o, (nattr + 1) * sizeof *n->attrs);
    if (!n->inputs || !n->outputs || !n->attrs)
        return oom(c);
    ypr_pb r;
    ypr_pb_field f;
    int k;
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1: TRY(str_of(c, &f, "node input", &n->inputs[n->ninputs++])); break;
        case 2: TRY(str_of(c, &f, "node output", &n->outputs[n->noutputs++])); break;
        case 3: TRY(str_of(c, &f, "node name", &n->name)); break;
        case 4: TRY(str_of(c, &f, "node op_type", &n->op)); break;
        case 7: TRY(str_of(c, &f, "node domain", &n->domain)); break;
        case 5:
            if (f.wire != YPR_PB_BYTES)
                return bad(c, "NodeProto.attribute");
            TRY(parse_attr(c, f.data, f.len, n->name[0] ? n->name : where,
                           &n->attrs[n->nattrs++]));
            break;
        default:
            break;
        }
    }
    return k < 0 ? bad(c, where) : YPR_OK;
}

/* -------------------------------------------------------------- value info */

static int parse_shape(const ctx *c, const uint8_t *msg, size_t len, ypr_onnx_value *v)
{
    ypr_pb r;
    ypr_pb_field f;
    int k;
    v->ndim = 0;
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        if (f.num != 1)
            continue;
        RETURN_IF(v->ndim >= YPR_ONNX_MAX_DIMS, YPR_ERANGE, "%s: ONNX: value %s has more than "
                  "%d dimensions", c->what, v->name, YPR_ONNX_MAX_DIMS);
        if (f.wire != YPR_PB_BYTES)
            return bad(c, "TensorShapeProto");
        int64_t d = -1;
        ypr_pb rd;
        ypr_pb_field fd;
        int kd;
        ypr__pb_init(&rd, f.data, f.len);
        while ((kd = ypr__pb_next(&rd, &fd)) > 0)
            if (fd.num == 1 && fd.wire == YPR_PB_VARINT)
                d = (int64_t)fd.v;
        if (kd < 0)
            return bad(c, "TensorShapeProto.Dimension");
        v->dims[v->ndim++] = d >= 0 ? d : -1;
    }
    return k < 0 ? bad(c, "TensorShapeProto") : YPR_OK;
}

static int parse_value(const ctx *c, const uint8_t *msg, size_t len, ypr_onnx_value *v)
{
    ypr_pb r, rt, rtt;
    ypr_pb_field f, ft, ftt;
    int k;
    memset(v, 0, sizeof *v);
    v->name = "";
    v->ndim = -1;
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        if (f.num == 1) {
            TRY(str_of(c, &f, "value name", &v->name));
        } else if (f.num == 2 && f.wire == YPR_PB_BYTES) {   /* TypeProto */
            ypr__pb_init(&rt, f.data, f.len);
            while ((k = ypr__pb_next(&rt, &ft)) > 0) {
                if (ft.num != 1 || ft.wire != YPR_PB_BYTES)   /* tensor_type */
                    continue;
                ypr__pb_init(&rtt, ft.data, ft.len);
                while ((k = ypr__pb_next(&rtt, &ftt)) > 0) {
                    if (ftt.num == 1 && ftt.wire == YPR_PB_VARINT)
                        v->elem_type = (int)(ftt.v > 1000 ? 0 : ftt.v);
                    else if (ftt.num == 2 && ftt.wire == YPR_PB_BYTES)
                        TRY(parse_shape(c, ftt.data, ftt.len, v));
                }
                if (k < 0)
                    return bad(c, "TypeProto.Tensor");
            }
            if (k < 0)
                return bad(c, "TypeProto");
        }
    }
    return k < 0 ? bad(c, "ValueInfoProto") : YPR_OK;
}

/* ------------------------------------------------------------------ graph */

static int parse_graph(const ctx *c, const uint8_t *msg, size_t len)
{
    ypr_onnx *o = c->o;
    size_t nn = 0, ni = 0, nin = 0, nout = 0;
    TRY(count_fields(c, msg, len, 1, "GraphProto", &nn));
    TRY(count_fields(c, msg, len, 5, "GraphProto", &ni));
    TRY(count_fields(c, msg, len, 11, "GraphProto", &nin));
    TRY(count_fields(c, msg, len, 12, "GraphProto", &nout));
    RETURN_IF(nn > YPR_ONNX_MAX_NODES, YPR_ERANGE, "%s: ONNX: %zu nodes (at most %d)", c->what,
              nn, YPR_ONNX_MAX_NODES);
    RETURN_IF(ni + nin + nout > YPR_ONNX_MAX_TENSORS, YPR_ERANGE,
              "%s: ONNX: %zu initializers and values (at most %d)", c->what, ni + nin + nout,
              YPR_ONNX_MAX_TENSORS);
    o->nodes = arena_alloc(o, (nn + 1) * sizeof *o->nodes);
    o->inits = arena_alloc(o, (ni + 1) * sizeof *o->inits);
    o->inputs = arena_alloc(o, (nin + 1) * sizeof *o->inputs);
    o->outputs = arena_alloc(o, (nout + 1) * sizeof *o->outputs);
    if (!o->nodes || !o->inits || !o->inputs || !o->outputs)
        return oom(c);
    ypr_pb r;
    ypr_pb_field f;
    int k;
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        if (f.num == 2) {
            TRY(str_of(c, &f, "graph name", &o->graph_name));
            continue;
        }
        if (f.num != 1 && f.num != 5 && f.num != 11 && f.num != 12 && f.num != 15)
            continue;
        RETURN_IF(f.num == 15, YPR_EUNSUPPORTED, "%s: ONNX: sparse initializers are not "
                  "supported", c->what);
        if (f.wire != YPR_PB_BYTES)
            return bad(c, "GraphProto");
        switch (f.num) {
        case 1:
            TRY(parse_node(c, f.data, f.len, o->nnodes, &o->nodes[o->nnodes]));
            o->nnodes++;
            break;
        case 5:
            TRY(parse_tensor(c, f.data, f.len, &o->inits[o->ninits]));
            o->ninits++;
            break;
        case 11:
            TRY(parse_value(c, f.data, f.len, &o->inputs[o->ninputs]));
            o->ninputs++;
            break;
        default:
            TRY(parse_value(c, f.data, f.len, &o->outputs[o->noutputs]));
            o->noutputs++;
            break;
        }
    }
    return k < 0 ? bad(c, "GraphProto") : YPR_OK;
}

/* ------------------------------------------------------------------ model */

static int parse_model(const ctx *c, const uint8_t *msg, size_t len)
{
    ypr_onnx *o = c->o;
    size_t nmeta = 0;
    int graphs = 0;
    TRY(count_fields(c, msg, len, 14, "ModelProto", &nmeta));
    RETURN_IF(nmeta > 4096, YPR_ERANGE, "%s: ONNX: %zu metadata entries (at most 4096)", c->what,
              nmeta);
    o->meta = arena_alloc(o, (2 * nmeta + 2) * sizeof(char *));
    if (!o->meta)
        return oom(c);
    ypr_pb r, rs;
    ypr_pb_field f, fs;
    int k;
    ypr__pb_init(&r, msg, len);
    while ((k = ypr__pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1: o->ir_version = (int64_t)f.v; break;
        case 2: TRY(str_of(c, &f, "producer_name", &o->producer)); break;
        case 3: TRY(str_of(c, &f, "producer_version", &o->producer_version)); break;
        case 7:
            if (f.wire != YPR_PB_BYTES)
                return bad(c, "ModelProto.graph");
            RETURN_IF(graphs++, YPR_EFORMAT, "%s: ONNX: more than one graph", c->what);
            TRY(parse_graph(c, f.data, f.len));
            break;
        case 8: case 14: {   /* opset_import, metadata_props: two-field messages */
            if (f.wire != YPR_PB_BYTES)
                return bad(c, "ModelProto");
            const char *s1 = "", *s2 = "";
            int64_t ver = 0;
            ypr__pb_init(&rs, f.data, f.len);
            while ((k = ypr__pb_next(&rs, &fs)) > 0) {
                if (fs.num == 1)
                    TRY(str_of(c, &fs, f.num == 8 ? "opset domain" : "metadata key", &s1));
                else if (fs.num == 2 && f.num == 8)
                    ver = (int64_t)fs.v;
                else if (fs.num == 2)
                    TRY(str_of(c, &fs, "metadata value", &s2));
            }
            if (k < 0)
                return bad(c, f.num == 8 ? "OperatorSetIdProto" : "StringStringEntryProto");
            if (f.num == 14) {
                o->meta[2 * o->nmeta] = s1;
                o->meta[2 * o->nmeta + 1] = s2;
                o->nmeta++;
            } else if (!s1[0] || strcmp(s1, "ai.onnx") == 0) {
                o->opset = ver;
            }
            break;
        }
        default:
            break;
        }
    }
    if (k < 0)
        return bad(c, "ModelProto");
    RETURN_IF(!graphs, YPR_EFORMAT, "%s: ONNX: no graph (not an ONNX model?)", c->what);
    return YPR_OK;
}

int ypr__onnx_parse(const void *buf, size_t len, const char *what, ypr_onnx **out)
{
    RETURN_IF(!out || (!buf && len), YPR_EINVAL, "ONNX: NULL argument");
    *out = NULL;
    what = what ? what : "<memory>";
    const uint16_t probe = 1;
    RETURN_IF(*(const uint8_t *)&probe != 1, YPR_EUNSUPPORTED,
              "%s: ONNX needs a little-endian host", what);
    RETURN_IF(len > YPR_ONNX_MAX_BYTES, YPR_ERANGE, "%s: %zu bytes (an ONNX file holds at most "
              "2 GiB)", what, len);
    ypr_onnx *o = calloc(1, sizeof *o);
    RETURN_IF(!o, YPR_ENOMEM, "%s: out of memory", what);
    o->producer = o->producer_version = o->graph_name = "";
    ctx c = {o, what};
    int rc = parse_model(&c, buf, len);
    if (rc < 0) {
        ypr__onnx_free(o);
        return rc;
    }
    *out = o;
    return YPR_OK;
}

int ypr__onnx_read(const char *path, ypr_onnx **out)
{
    RETURN_IF(!path || !out, YPR_EINVAL, "ONNX: NULL argument");
    *out = NULL;
    char *buf;
    size_t len;
    TRY(ypr__file_read_all(path, (size_t)YPR_ONNX_MAX_BYTES, &buf, &len));
    int rc = ypr__onnx_parse(buf, len, path, out);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    (*out)->buf_ = buf;
    return YPR_OK;
}

void ypr__onnx_free(ypr_onnx *o)
{
    if (!o)
        return;
    for (block *b = o->arena_; b;) {
        block *next = b->next;
        free(b);
        b = next;
    }
    free(o->buf_);
    free(o);
}

const char *ypr__onnx_meta(const ypr_onnx *o, const char *key)
{
    for (int i = o->nmeta - 1; i >= 0; i--)   /* the last one wins, as in protobuf maps */
        if (strcmp(o->meta[2 * i], key) == 0)
            return o->meta[2 * i + 1];
    return NULL;
}

const ypr_onnx_attr *ypr__onnx_attr(const ypr_onnx_node *n, const char *name)
{
    for (int i = n->nattrs - 1; i >= 0; i--)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

/* ------------------------------------------------------------- conversion */

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0x1f) {
        u = s | 0x7f800000u | m << 13;
    } else if (e) {
        u = s | (e + 112) << 23 | m << 13;
    } else if (m) {   /* subnormal: normalize */
        e = 113;
        while (!(m & 0x400)) {
            m <<= 1;
            e--;
        }
        u = s | e << 23 | (m & 0x3ff) << 13;
    } else {
        u = s;
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int ypr__onnx_tensor_f32(const ypr_onnx_tensor *t, float *dst)
{
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case YPR_ONNX_FLOAT: memcpy(&dst[i], p + 4 * i, 4); break;
        case YPR_ONNX_DOUBLE: {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
            break;
        }
        case YPR_ONNX_FLOAT16:
            dst[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
            break;
        case YPR_ONNX_BFLOAT16: {
            uint32_t u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &u, 4);
            break;
        }
        default:
            return ypr__error(YPR_EUNSUPPORTED, "ONNX: tensor %s has data type %d, not floating "
                              "point", t->name, t->dtype);
        }
    }
    return YPR_OK;
}

int ypr__onnx_tensor_i64(const ypr_onnx_tensor *t, int64_t *dst)
{
    size_t es = ypr__onnx_dtype_size(t->dtype);
    int is_signed = t->dtype == YPR_ONNX_INT8 || t->dtype == YPR_ONNX_INT16 ||
                    t->dtype == YPR_ONNX_INT32 || t->dtype == YPR_ONNX_INT64;
    int is_int = is_signed || t->dtype == YPR_ONNX_UINT8 || t->dtype == YPR_ONNX_UINT16 ||
                 t->dtype == YPR_ONNX_UINT32 || t->dtype == YPR_ONNX_UINT64 ||
                 t->dtype == YPR_ONNX_BOOL;
    RETURN_IF(!is_int, YPR_EUNSUPPORTED, "ONNX: tensor %s has data type %d, not an integer type",
              t->name, t->dtype);
    for (int64_t i = 0; i < t->numel; i++) {
        uint64_t u = 0;
        for (size_t b = 0; b < es; b++)
            u |= (uint64_t)t->data[(size_t)i * es + b] << (8 * b);
        if (is_signed && es < 8 && (u >> (8 * es - 1)) & 1)
            u |= ~(uint64_t)0 << (8 * es);   /* sign-extend */
        dst[i] = (int64_t)u;
    }
    return YPR_OK;
}
