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
/* A table over tensors given by the caller (name, dtype, ndim, shape,
 * numel, data; names copied, unique): the safetensors accessors then work on
 * it. `release(keep)` runs when the table is closed (may be NULL). */
int ypr__st_from_tensors(const ypr_st_tensor *t, size_t n, const char *what,
                         void (*release)(void *), void *keep, ypr_safetensors **out);
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

#endif
