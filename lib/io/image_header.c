/* Image size from a PNG or JPEG header, without decoding: datasets read
 * every image's size at open so labels are served in pixels. The claim is
 * checked against the limits and the file's size (ypr__image_check_header),
 * so a forged header is refused at open, not when the image is decoded. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "io.h"

#define JPEG_MAX_MARKERS 100000

static int rd(FILE *f, uint8_t *b, size_t n)
{
    return fread(b, 1, n, f) == n;
}

/* PNG channels per colour type (0 for an invalid type). */
static int png_channels(int ctype)
{
    switch (ctype) {
    case 0: return 1;   /* grey */
    case 2: return 3;   /* RGB */
    case 3: return 1;   /* palette */
    case 4: return 2;   /* grey + alpha */
    case 6: return 4;   /* RGBA */
    default: return 0;
    }
}

/* After the PNG signature's first two bytes: IHDR's size, depth and type. */
static int png_header(FILE *f, uint8_t *b, const char *path, uint64_t size, int *w, int *h)
{
    if (!rd(f, b + 2, 24) || memcmp(b + 12, "IHDR", 4) != 0)
        return 0;
    uint32_t ww = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    uint32_t hh = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    int ch = png_channels(b[25]);
    if (ww < 1 || hh < 1 || ww > INT_MAX || hh > INT_MAX || !ch)
        return 0;
    int rc = ypr__image_check_header(path, YPR_IMG_PNG, ww, hh, b[24] * ch, size);
    if (rc < 0)
        return rc;
    *w = (int)ww;
    *h = (int)hh;
    return 1;
}

/* After SOI: walk the markers (each read bounded by the file) to the first
 * SOF. */
static int jpeg_header(FILE *f, uint8_t *b, const char *path, uint64_t size, int *w, int *h)
{
    for (int guard = 0; guard < JPEG_MAX_MARKERS; guard++) {
        int c;
        do {
            c = fgetc(f);
        } while (c != EOF && c != 0xFF);
        while (c == 0xFF)
            c = fgetc(f);
        if (c == EOF || c == 0xD9 || c == 0xDA)
            return 0;
        if (c == 0x01 || (c >= 0xD0 && c <= 0xD7))
            continue;
        if (!rd(f, b, 2))
            return 0;
        long seg = (long)b[0] << 8 | b[1];
        if (seg < 2)
            return 0;
        if (c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC) {
            if (!rd(f, b, 5))
                return 0;
            int hh = b[1] << 8 | b[2], ww = b[3] << 8 | b[4];
            if (ww < 1 || hh < 1)
                return 0;
            /* SOF9..SOF15 are arithmetic-coded */
            int rc = ypr__image_check_header(path, c >= 0xC9 ? YPR_IMG_JPEG_ARITH : YPR_IMG_JPEG,
                                             ww, hh, 0, size);
            if (rc < 0)
                return rc;
            *w = ww;
            *h = hh;
            return 1;
        }
        if (fseek(f, seg - 2, SEEK_CUR) != 0)
            return 0;
    }
    return 0;
}

int ypr__image_size(const char *path, int *w, int *h)
{
    *w = *h = 0;
    void *fv;
    uint64_t size;
    TRY(ypr__file_open_regular(path, &fv, &size));
    FILE *f = fv;
    uint8_t b[26];
    int rc = 0;
    if (rd(f, b, 2)) {
        if (b[0] == 0x89 && b[1] == 'P')
            rc = png_header(f, b, path, size, w, h);
        else if (b[0] == 0xFF && b[1] == 0xD8)
            rc = jpeg_header(f, b, path, size, w, h);
    }
    fclose(f);
    if (rc < 0)
        return rc;
    RETURN_IF(rc == 0, YPR_EFORMAT, "%s: not a readable PNG or JPEG header", path);
    return YPR_OK;
}
