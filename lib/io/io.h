/* File formats: safetensors (read by mmap, write atomically), images
 * (JPEG through libjpeg-turbo, PNG through libpng), PNG writing and simple
 * drawing for annotated pictures. Knows nothing of what the data means. */
#ifndef YPR_IO_H
#define YPR_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/core.h"

/* ------------------------------------------------------------ safetensors */

enum {
    YPR_DT_F32 = 0, YPR_DT_F16 = 1, YPR_DT_BF16 = 2, YPR_DT_F64 = 3,
    YPR_DT_I64 = 4, YPR_DT_I32 = 5, YPR_DT_I16 = 6, YPR_DT_I8 = 7,
    YPR_DT_U8 = 8, YPR_DT_BOOL = 9, YPR_DT_COUNT_
};

#define YPR_ST_MAX_DIMS 8

typedef struct ypr_st_tensor {
    const char *name;
    int dtype;                      /* YPR_DT_* */
    int ndim;
    int64_t shape[YPR_ST_MAX_DIMS];
    int64_t numel;
    const void *data;               /* into the mapping; may be unaligned */
    size_t nbytes;
} ypr_st_tensor;

typedef struct ypr_safetensors ypr_safetensors;

/* Open and fully validate a .safetensors file (8-byte little-endian header
 * length, JSON header, data offsets in bounds, contiguous and
 * non-overlapping, byte sizes equal to dtype size × numel, no duplicate
 * names). Errors: YPR_EIO (cannot open/map, naming the file), YPR_EFORMAT
 * (naming the file and the tensor or header problem). */
int ypr__st_open(const char *path, ypr_safetensors **out);
/* The same over a caller-owned buffer that must outlive the handle. */
int ypr__st_open_mem(const void *buf, size_t len, const char *what, ypr_safetensors **out);
void ypr__st_close(ypr_safetensors *st);
size_t ypr__st_count(const ypr_safetensors *st);
const ypr_st_tensor *ypr__st_at(const ypr_safetensors *st, size_t i);   /* file order */
const ypr_st_tensor *ypr__st_find(const ypr_safetensors *st, const char *name);
/* "__metadata__" string values; NULL if absent. */
const char *ypr__st_meta(const ypr_safetensors *st, const char *key);
size_t ypr__st_meta_count(const ypr_safetensors *st);
const char *ypr__st_meta_key(const ypr_safetensors *st, size_t i);
/* Convert a floating tensor (F32, F16, BF16, F64) to float32; other dtypes
 * are YPR_EUNSUPPORTED naming the tensor. dst holds numel floats. */
int ypr__st_to_f32(const ypr_st_tensor *t, float *dst);

typedef struct ypr_st_entry {
    const char *name;
    int dtype;                      /* what `data` holds and what is written */
    int ndim;
    const int64_t *shape;
    const void *data;               /* numel × dtype size bytes */
} ypr_st_entry;

/* Write a .safetensors file: entries in the given order (sorted by name is
 * not required), metadata as string key/value pairs (meta_kv[2i], meta_kv[2i+1]).
 * Written to PATH.tmp-XXXX, flushed (fsync), then renamed over PATH.
 * Errors: YPR_EINVAL (bad entry, naming it), YPR_EIO (naming the file). */
int ypr__st_write(const char *path, const ypr_st_entry *entries, size_t n,
                  const char *const *meta_kv, size_t nmeta);

/* ----------------------------------------------------------------- images */

/* Interleaved 8-bit RGB, row-major, stride 3·w. */
typedef struct ypr_image {
    int w, h;
    uint8_t *rgb;
} ypr_image;

/* Limits every image reader checks before it allocates (docs/design.md):
 * - at most YPR_IMAGE_MAX_SIDE pixels per side and YPR_IMAGE_MAX_PIXELS
 *   pixels (2^28, 768 MiB as RGB8), files of at most YPR_IMAGE_MAX_BYTES:
 *   beyond them YPR_ERANGE;
 * - the header must fit the file's size. A Huffman-coded JPEG spends at
 *   least one bit on every 8×8 block of its full-resolution component, so
 *   it cannot hold more than 512 pixels per byte; YPR_JPEG_MAX_PIXELS_PER_BYTE
 *   allows twice that. A PNG's rows (one filter byte each, then the packed
 *   samples) inflate from its data by at most YPR_PNG_MAX_INFLATE (deflate's
 *   1032:1). A header claiming more is YPR_EFORMAT ("truncated or forged
 *   header") before any pixel buffer exists. Arithmetic-coded JPEGs can be
 *   arbitrarily dense: only the absolute limits apply to them;
 * - libpng never makes one allocation above YPR_PNG_MAX_ALLOC (its largest
 *   legitimate buffers, rows, are below 300 KiB); text, ICC, EXIF and
 *   unknown chunks are skipped without being stored;
 * - JPEG data that libjpeg would repair by padding with grey (a premature
 *   end of the data, a bad Huffman or arithmetic code, a lost restart
 *   marker, an inconsistent progression) is YPR_EFORMAT. */
#define YPR_IMAGE_MAX_SIDE 32768
#define YPR_IMAGE_MAX_PIXELS ((int64_t)1 << 28)
#define YPR_IMAGE_MAX_BYTES ((uint64_t)1 << 30)
#define YPR_JPEG_MAX_PIXELS_PER_BYTE 1024
#define YPR_PNG_MAX_INFLATE 1032
#define YPR_PNG_MAX_ALLOC ((size_t)8 << 20)

/* How an image's data is coded, for ypr__image_check_header. */
enum { YPR_IMG_PNG = 1, YPR_IMG_JPEG = 2, YPR_IMG_JPEG_ARITH = 3 };

/* Check a header's claim against the limits above: w×h pixels of
 * `bits_per_pixel` (PNG: bit depth × channels; ignored for JPEG) in a file
 * of `file_bytes` bytes. Errors name `what`: YPR_ERANGE (absolute limits),
 * YPR_EFORMAT (more pixels than the file can hold). */
int ypr__image_check_header(const char *what, int kind, int64_t w, int64_t h,
                            int bits_per_pixel, uint64_t file_bytes);

/* Decode a JPEG or PNG (chosen by the magic bytes, not the extension). Grey,
 * grey+alpha, palette, RGBA and 16-bit PNGs become RGB8 (alpha dropped);
 * CMYK/grey JPEGs become RGB. Only regular files are read (a FIFO or
 * directory is refused without blocking). Errors: YPR_ENOTFOUND (no such
 * file), YPR_EIO (open/read, not a regular file, naming the file),
 * YPR_EFORMAT (corrupt, truncated or unknown format, or a header the data
 * cannot hold, naming the file), YPR_ERANGE (beyond the limits above).
 * Never aborts or longjmps out to the caller. */
int ypr__image_load(const char *path, ypr_image *out);
int ypr__image_load_mem(const void *buf, size_t len, const char *what, ypr_image *out);
int ypr__image_alloc(ypr_image *img, int w, int h);   /* zeroed; YPR_ERANGE/ENOMEM */
void ypr__image_free(ypr_image *img);                 /* frees rgb, zeroes the struct */

/* Width and height from a PNG or JPEG header without decoding
 * (image_header.c), checked with ypr__image_check_header. 0 ok;
 * YPR_ENOTFOUND, YPR_EIO (cannot open, not a regular file), YPR_EFORMAT
 * (not a PNG/JPEG, truncated header, more pixels than the file can hold),
 * YPR_ERANGE (beyond the limits). */
int ypr__image_size(const char *path, int *w, int *h);

/* Write RGB8 as PNG, atomically (temporary name, fsync, rename). */
int ypr__png_write(const char *path, const ypr_image *img);
/* Encode a JPEG at the given quality into a malloc'd buffer (tests, datasets). */
int ypr__jpeg_encode(const ypr_image *img, int quality, uint8_t **buf, size_t *len);

/* Drawing, clipped to the image: rectangle outline of `thickness` pixels
 * (coordinates in pixels, x1 ≤ x2, y1 ≤ y2 after clipping), filled
 * rectangle, and text in a built-in 5×7 bitmap font (printable ASCII; each
 * glyph cell 6×8 pixels at `scale` 1) on an optional filled background. */
void ypr__draw_rect(ypr_image *img, int x1, int y1, int x2, int y2,
                    const uint8_t color[3], int thickness);
void ypr__fill_rect(ypr_image *img, int x1, int y1, int x2, int y2, const uint8_t color[3]);
void ypr__draw_text(ypr_image *img, int x, int y, const char *text, int scale,
                    const uint8_t color[3], const uint8_t *background);
/* A distinct colour for class index i (stable palette). */
void ypr__class_color(int i, uint8_t out[3]);

/* Atomic file writing used by every writer: open PATH.tmp-XXXXXX, then
 * commit (flush, fsync, rename) or abort (close, unlink). */
/* Open PATH for reading as a FILE* (returned through OUT as void*, so this
 * header needs no stdio.h): regular files only — a directory, FIFO or device
 * is refused without blocking. SIZE (optional) receives the file's size.
 * Errors: YPR_ENOTFOUND, YPR_EIO (naming the file and what it is). */
int ypr__file_open_regular(const char *path, void **out, uint64_t *size);
/* The same as a file descriptor (close it with close()). */
int ypr__file_open_fd(const char *path, int *fd, uint64_t *size);
/* Read a whole regular file of at most MAX bytes into a malloc'd,
 * NUL-terminated buffer. Errors: as above, YPR_ERANGE (larger than MAX),
 * YPR_ENOMEM. */
int ypr__file_read_all(const char *path, size_t max, char **buf, size_t *len);

typedef struct ypr_atomic_file { void *fp; char *tmp; char *path; } ypr_atomic_file;
int ypr__afile_open(ypr_atomic_file *af, const char *path);
int ypr__afile_commit(ypr_atomic_file *af);
void ypr__afile_abort(ypr_atomic_file *af);

/* --------------------------------------------------------------- protobuf
 * The wire format (pb.c), by hand. A reader walks the fields of one message
 * in memory; nested messages are read with a new reader over their bytes
 * (no recursion inside pb.c). Lengths are checked against what is left, so
 * a forged length is YPR_EFORMAT, never a read past the end. Functions
 * return YPR_EFORMAT without recording a message: callers name the file. */

enum { YPR_PB_VARINT = 0, YPR_PB_FIXED64 = 1, YPR_PB_BYTES = 2, YPR_PB_FIXED32 = 5 };

typedef struct ypr_pb { const uint8_t *p, *end; } ypr_pb;
typedef struct ypr_pb_field {
    uint32_t num;
    int wire;                     /* YPR_PB_* */
    uint64_t v;                   /* varint, fixed32/64 bits; BYTES: the length */
    const uint8_t *data;          /* BYTES: into the reader's buffer */
    size_t len;
} ypr_pb_field;

void ypr__pb_init(ypr_pb *r, const void *data, size_t len);
/* The next field: 1, 0 at the end of the message, YPR_EFORMAT when malformed. */
int ypr__pb_next(ypr_pb *r, ypr_pb_field *f);
float ypr__pb_float(const ypr_pb_field *f);            /* a FIXED32 field as float */
/* Repeated integers, packed (BYTES) or one VARINT field: how many, and the
 * values (YPR_ERANGE past cap, YPR_EFORMAT when malformed). */
int ypr__pb_count_ints(const ypr_pb_field *f, size_t *n);
int ypr__pb_ints(const ypr_pb_field *f, int64_t *out, size_t cap, size_t *n);
/* Repeated floats, packed or one FIXED32 field. */
int ypr__pb_floats(const ypr_pb_field *f, float *out, size_t cap, size_t *n);
size_t ypr__pb_varint_encode(uint64_t v, uint8_t out[10]);
/* The key (and, for BYTES, the length) of a field: at most 20 bytes. */
size_t ypr__pb_tag_encode(uint32_t field, int wire, uint64_t len, uint8_t out[20]);

/* A growing output buffer; `failed` is set (and further writes dropped)
 * when memory runs out. Negative integers are written as 10-byte varints,
 * as protobuf does for int64. */
typedef struct ypr_pbw { uint8_t *buf; size_t len, cap; int failed; } ypr_pbw;
void ypr__pbw_init(ypr_pbw *w);
void ypr__pbw_free(ypr_pbw *w);
void ypr__pbw_raw(ypr_pbw *w, const void *data, size_t n);
void ypr__pbw_varint(ypr_pbw *w, uint32_t field, uint64_t v);
void ypr__pbw_float(ypr_pbw *w, uint32_t field, float x);
void ypr__pbw_bytes(ypr_pbw *w, uint32_t field, const void *data, size_t n);
void ypr__pbw_str(ypr_pbw *w, uint32_t field, const char *s);
void ypr__pbw_msg(ypr_pbw *w, uint32_t field, const ypr_pbw *sub);   /* embed sub */
void ypr__pbw_packed_ints(ypr_pbw *w, uint32_t field, const int64_t *v, size_t n);
void ypr__pbw_packed_floats(ypr_pbw *w, uint32_t field, const float *v, size_t n);

/* ------------------------------------------------------------------- ONNX
 * The part of onnx.proto a CNN detector uses (onnx.c), decoded from memory
 * into plain structs: ModelProto (ir_version, opset_import, producer,
 * graph, metadata_props), GraphProto (node, initializer, input, output),
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto. Fields we do not
 * use are skipped unread (sub-graphs of If/Loop attributes included), so
 * nesting never recurses beyond this fixed schema. Every tensor is checked:
 * at most YPR_ONNX_MAX_DIMS dimensions ≥ 0, an element count that does not
 * overflow, data whose byte size equals count × element size, no external
 * data (YPR_EUNSUPPORTED naming the tensor). Little-endian hosts only (the
 * raw data is used in place). */

enum {   /* TensorProto.DataType */
    YPR_ONNX_FLOAT = 1, YPR_ONNX_UINT8 = 2, YPR_ONNX_INT8 = 3, YPR_ONNX_UINT16 = 4,
    YPR_ONNX_INT16 = 5, YPR_ONNX_INT32 = 6, YPR_ONNX_INT64 = 7, YPR_ONNX_STRING = 8,
    YPR_ONNX_BOOL = 9, YPR_ONNX_FLOAT16 = 10, YPR_ONNX_DOUBLE = 11, YPR_ONNX_UINT32 = 12,
    YPR_ONNX_UINT64 = 13, YPR_ONNX_BFLOAT16 = 16
};
enum {   /* AttributeProto.AttributeType */
    YPR_ONNX_ATTR_FLOAT = 1, YPR_ONNX_ATTR_INT = 2, YPR_ONNX_ATTR_STRING = 3,
    YPR_ONNX_ATTR_TENSOR = 4, YPR_ONNX_ATTR_GRAPH = 5, YPR_ONNX_ATTR_FLOATS = 6,
    YPR_ONNX_ATTR_INTS = 7, YPR_ONNX_ATTR_STRINGS = 8
};

#define YPR_ONNX_MAX_BYTES ((uint64_t)2 << 30)   /* protobuf's own 2 GiB limit */
#define YPR_ONNX_MAX_DIMS 8
#define YPR_ONNX_MAX_NODES 200000
#define YPR_ONNX_MAX_TENSORS 200000
#define YPR_ONNX_MAX_NODE_IO 4096                /* inputs or outputs of one node */
#define YPR_ONNX_MAX_ATTRS 256                   /* attributes of one node */
#define YPR_ONNX_MAX_LIST 4096                   /* ints / floats of one attribute */
#define YPR_ONNX_MAX_NAME 4096                   /* bytes of a name */
#define YPR_ONNX_MAX_META ((size_t)1 << 20)      /* bytes of a metadata value or string attribute */

typedef struct ypr_onnx_tensor {
    const char *name;
    int dtype;                    /* YPR_ONNX_* */
    int ndim;
    int64_t dims[YPR_ONNX_MAX_DIMS];
    int64_t numel;
    const uint8_t *data;          /* numel × element size bytes, little-endian */
    size_t nbytes;
} ypr_onnx_tensor;

typedef struct ypr_onnx_attr {
    const char *name;
    int type;                     /* YPR_ONNX_ATTR_*, 0 when the file left it out */
    float f;
    int64_t i;
    const char *s;                /* STRING, NUL-terminated (NUL bytes refused) */
    const int64_t *ints;
    const float *floats;
    int nints, nfloats;
    const ypr_onnx_tensor *t;     /* TENSOR */
} ypr_onnx_attr;

typedef struct ypr_onnx_node {
    const char *name, *op, *domain;
    const char **inputs, **outputs;   /* "" for an omitted optional input */
    int ninputs, noutputs;
    ypr_onnx_attr *attrs;
    int nattrs;
} ypr_onnx_node;

typedef struct ypr_onnx_value {   /* a graph input or output */
    const char *name;
    int elem_type;                /* 0 when not a tensor or not given */
    int ndim;                     /* -1 when the shape is not given */
    int64_t dims[YPR_ONNX_MAX_DIMS];   /* -1 for a symbolic or missing dimension */
} ypr_onnx_value;

typedef struct ypr_onnx {
    int64_t ir_version, opset;    /* opset of the default domain ("" / "ai.onnx"), 0 if none */
    const char *producer, *producer_version, *graph_name;
    ypr_onnx_node *nodes;
    ypr_onnx_tensor *inits;
    ypr_onnx_value *inputs, *outputs;
    const char **meta;            /* key, value pairs */
    int nnodes, ninits, ninputs, noutputs, nmeta;
    void *arena_;                 /* owned allocations */
    void *buf_;                   /* the file, when read by ypr__onnx_read */
} ypr_onnx;

/* Decode a ModelProto in memory (the buffer must outlive the result: tensor
 * data points into it). Errors name `what` and the message, field, node or
 * tensor: YPR_EFORMAT (truncated, malformed, inconsistent sizes),
 * YPR_EUNSUPPORTED (external data, big-endian host), YPR_ERANGE (beyond the
 * limits above), YPR_ENOMEM. */
int ypr__onnx_parse(const void *buf, size_t len, const char *what, ypr_onnx **out);
/* Read a whole regular file (at most YPR_ONNX_MAX_BYTES) and decode it. */
int ypr__onnx_read(const char *path, ypr_onnx **out);
void ypr__onnx_free(ypr_onnx *o);
const char *ypr__onnx_meta(const ypr_onnx *o, const char *key);   /* NULL if absent */
const ypr_onnx_attr *ypr__onnx_attr(const ypr_onnx_node *n, const char *name);
/* Element size of a data type in bytes, 0 for types without a fixed size. */
size_t ypr__onnx_dtype_size(int dtype);
/* A tensor's values as float32 (FLOAT, DOUBLE, FLOAT16, BFLOAT16) or as
 * int64 (any integer type); other types are YPR_EUNSUPPORTED naming it. */
int ypr__onnx_tensor_f32(const ypr_onnx_tensor *t, float *dst);
int ypr__onnx_tensor_i64(const ypr_onnx_tensor *t, int64_t *dst);

#endif
