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
/* A name or string for an error message: the first 72 of its len bytes
 * (len SIZE_MAX: a C string, up to its NUL), non-printable bytes as '?',
 * "..." when cut; written into buf. */
const char *ypr__shown(const char *s, size_t len, char buf[80]);

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
/* A table over tensors given by the caller (name, dtype, ndim, shape,
 * numel, data; names copied, unique): the safetensors accessors then work on
 * it. `release(keep)` runs when the table is closed (may be NULL). */
int ypr__st_from_tensors(const ypr_st_tensor *t, size_t n, const char *what,
                         void (*release)(void *), void *keep, ypr_safetensors **out);
/* Convert a floating tensor (F32, F16, BF16, F64) to float32; other dtypes
 * are YPR_EUNSUPPORTED naming the tensor. dst holds numel floats. */
int ypr__st_to_f32(const ypr_st_tensor *t, float *dst);
/* Copy an I8 tensor into numel int8_t, or an I32 tensor into numel int32_t
 * (little-endian in the file); `dtype` (YPR_DT_I8 / YPR_DT_I32) is what the
 * caller expects, another dtype is YPR_EUNSUPPORTED naming the tensor. */
int ypr__st_to_int(const ypr_st_tensor *t, int dtype, void *dst);

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

/* ------------------------------------------------------- ZIP (zip.c)
 * Read-only ZIP archives as torch.save writes them (docs/pt.md). Limits:
 * at most YPR_ZIP_MAX_ENTRIES entries, entries of at most
 * YPR_ZIP_MAX_ENTRY_BYTES (compressed or not), archives of at most
 * YPR_ZIP_MAX_BYTES; zip64 records are read, but zip64 archives beyond these
 * limits are YPR_EUNSUPPORTED. Single disk; stored or deflated entries. */
#define YPR_ZIP_MAX_ENTRIES 65535
#define YPR_ZIP_MAX_ENTRY_BYTES (((uint64_t)4 << 30) - 1)
#define YPR_ZIP_MAX_BYTES ((uint64_t)64 << 30)

typedef struct ypr_zip_entry {
    const char *name;               /* NUL-terminated */
    uint64_t data_off;              /* first byte of the (compressed) data */
    uint64_t csize, usize;          /* compressed and uncompressed sizes */
    uint32_t crc;
    int method;                     /* 0 stored, 8 deflate */
} ypr_zip_entry;

typedef struct ypr_zip ypr_zip;

/* Open (mmap) and validate the central directory, every local header, and
 * the entries' extents (no overlaps, nothing past the data). Errors name the
 * file and the entry: YPR_ENOTFOUND, YPR_EIO, YPR_EFORMAT (not a ZIP,
 * truncated, sizes that lie, duplicate names), YPR_EUNSUPPORTED (encrypted,
 * other methods, multi-disk, beyond the limits). */
int ypr__zip_open(const char *path, ypr_zip **out);
/* The same over a caller-owned buffer that must outlive the handle. */
int ypr__zip_open_mem(const void *buf, size_t len, const char *what, ypr_zip **out);
void ypr__zip_close(ypr_zip *z);
size_t ypr__zip_count(const ypr_zip *z);
const ypr_zip_entry *ypr__zip_at(const ypr_zip *z, size_t i);   /* directory order */
long ypr__zip_find(const ypr_zip *z, const char *name);          /* index, -1 if absent */
const char *ypr__zip_what(const ypr_zip *z);                     /* the name given at open */
/* Entry i's bytes, CRC-32 checked: *data points into the archive (stored)
 * or into *owned (deflated: inflated to exactly its declared size); free
 * *owned when done. Errors: YPR_EFORMAT (bad CRC, corrupt or truncated
 * deflate data, a size that lies), YPR_ENOMEM. */
int ypr__zip_read(const ypr_zip *z, size_t i, const void **data, size_t *len, void **owned);

/* ---------------------------------------- restricted unpickler (pickle.c)
 * A parser for pickle protocols 2-5 that executes nothing: it builds a data
 * tree. GLOBAL/STACK_GLOBAL push an opaque named reference; only a few
 * callables are understood when REDUCE'd (OrderedDict, set/frozenset,
 * torch._utils._rebuild_tensor(_v2), _rebuild_parameter(_with_state),
 * torch.Size, torch.device, _codecs.encode to latin-1, and numpy's array,
 * dtype and scalar reconstructors, kept as opaque objects); any other
 * REDUCE is YPR_EUNSUPPORTED naming the callable. NEWOBJ of any class makes
 * an opaque OBJECT; BUILD keeps the state on it. Persistent ids must be
 * torch storages ('storage', <Type>Storage, key, location, numel).
 * Limits: YPR_PICKLE_MAX_* below; every error names the byte offset. */
#define YPR_PICKLE_MAX_BYTES ((size_t)256 << 20)
#define YPR_PICKLE_MAX_NODES (1 << 22)      /* values built */
#define YPR_PICKLE_MAX_ITEMS (1 << 24)      /* container slots, all containers */
#define YPR_PICKLE_MAX_STACK (1 << 20)
#define YPR_PICKLE_MAX_MEMO (1 << 22)       /* memo indices < this */
#define YPR_PICKLE_MAX_DEPTH 100            /* nesting of the finished tree */
#define YPR_PICKLE_MAX_DIMS 8

enum {
    YPR_PK_NONE = 1, YPR_PK_BOOL, YPR_PK_INT, YPR_PK_BIGINT, YPR_PK_FLOAT, YPR_PK_STR,
    YPR_PK_BYTES, YPR_PK_TUPLE, YPR_PK_LIST, YPR_PK_DICT, YPR_PK_SET, YPR_PK_GLOBAL,
    YPR_PK_OBJECT, YPR_PK_STORAGE, YPR_PK_TENSOR
};

typedef struct ypr_pk_tensor {
    const struct ypr_pk *storage;   /* a YPR_PK_STORAGE */
    int64_t offset, numel;          /* in elements */
    int ndim, param;                /* param: an nn.Parameter */
    int64_t size[YPR_PICKLE_MAX_DIMS], stride[YPR_PICKLE_MAX_DIMS];
} ypr_pk_tensor;

/* A value. Shared: the memo makes the tree a DAG (never cyclic: checked). */
typedef struct ypr_pk {
    int type;                       /* YPR_PK_* */
    int dtype;                      /* STORAGE: YPR_DT_* */
    int64_t i;                      /* BOOL, INT; STORAGE: element count */
    double f;                       /* FLOAT */
    const char *s;                  /* STR, BYTES (NUL-terminated too); GLOBAL,
                                     * OBJECT: "module.name"; STORAGE: key */
    size_t len;
    struct ypr_pk **items;          /* TUPLE, LIST, SET; DICT: key, value, key, ... */
    size_t n;
    struct ypr_pk *args, *state;    /* OBJECT: arguments, BUILD state; DICT: BUILD state */
    ypr_pk_tensor *t;               /* TENSOR */
    size_t ix;                      /* STORAGE: its index (ypr__pickle_storage_at) */
    /* internal */
    size_t cap;
    int visit, height, owns_s;
} ypr_pk;

typedef struct ypr_pickle ypr_pickle;

/* Parse a whole pickle (up to STOP). Errors (naming `what` and the byte):
 * YPR_EFORMAT (truncated, bad opcode arguments, stack or memo misuse, a
 * cycle, nesting deeper than YPR_PICKLE_MAX_DEPTH, tensors whose sizes
 * overflow or do not fit their storage), YPR_EUNSUPPORTED (protocol, opcode
 * or callable this reader does not take), YPR_ERANGE (beyond the limits),
 * YPR_ENOMEM. */
int ypr__pickle_parse(const void *buf, size_t len, const char *what, ypr_pickle **out);
void ypr__pickle_free(ypr_pickle *p);
const ypr_pk *ypr__pickle_root(const ypr_pickle *p);
size_t ypr__pickle_storage_count(const ypr_pickle *p);
const ypr_pk *ypr__pickle_storage_at(const ypr_pickle *p, size_t i);
/* The value of string key `key` in a DICT (the last one if repeated), or
 * in an OBJECT's BUILD state dict; NULL otherwise. */
const ypr_pk *ypr__pk_get(const ypr_pk *v, const char *key);
/* "dict", "tuple", "models.yolo.Model object" … for messages (buf ≥ 96). */
const char *ypr__pk_describe(const ypr_pk *v, char *buf, size_t n);

/* ------------------------------------ PyTorch checkpoints (torch_ckpt.c)
 * A torch.save zip (docs/pt.md): ARCHIVE/data.pkl read by the unpickler
 * above, storages ARCHIVE/data/KEY (little-endian; sizes checked against
 * the pickle), ARCHIVE/byteorder if present must be "little". The legacy
 * (pre-1.6) format and TorchScript archives are refused with a message. */
typedef struct ypr_pt ypr_pt;
int ypr__pt_open(const char *path, ypr_pt **out);
int ypr__pt_open_mem(const void *buf, size_t len, const char *what, ypr_pt **out);
void ypr__pt_close(ypr_pt *pt);
const ypr_pk *ypr__pt_root(const ypr_pt *pt);
const char *ypr__pt_what(const ypr_pt *pt);
/* 1 when PATH is a regular file that starts like a PyTorch checkpoint (a
 * ZIP local header, or a pickle's PROTO opcode: the legacy format). */
int ypr__pt_sniff(const char *path);
/* The model a checkpoint holds, as YOLOv7's attempt_load picks it:
 * ckpt['ema'] when present and not None, else ckpt['model'], else
 * ckpt['state_dict']; the root itself when it is none of these. */
const ypr_pk *ypr__pt_pick_model(const ypr_pt *pt);
/* The state_dict of `src` as a tensor table: an nn.Module object (its
 * _parameters and persistent _buffers, then its _modules, recursively, with
 * PyTorch's dotted names) or a dict of name → tensor. Tensor data points
 * into the archive (contiguous tensors) or into memory the table owns; pt
 * must outlive *out. Errors name the file and the key. */
int ypr__pt_state_dict(ypr_pt *pt, const ypr_pk *src, ypr_safetensors **out);
/* Tensor `t` converted to float32 (numel floats). */
int ypr__pt_tensor_f32(ypr_pt *pt, const ypr_pk *t, float *dst, int64_t cap);

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
