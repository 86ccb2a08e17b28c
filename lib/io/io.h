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

#endif
