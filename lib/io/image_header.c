/* Image size from a PNG or JPEG header, without decoding: datasets read
 * every image's size at open so labels are served in pixels. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "io.h"

static int rd(FILE *f, uint8_t *b, size_t n)
{
    return fread(b, 1, n, f) == n;
}

int ypr__image_size(const char *path, int *w, int *h)
{
    *w = *h = 0;
    FILE *f = fopen(path, "rb");
    RETURN_IF(!f, YPR_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t b[24];
    int rc = ypr__error(YPR_EFORMAT, "%s: not a readable PNG or JPEG header", path);
    if (!rd(f, b, 2))
        goto done;
    if (b[0] == 0x89 && b[1] == 'P') {
        if (!rd(f, b + 2, 22) || memcmp(b + 12, "IHDR", 4) != 0)
            goto done;
        uint32_t ww = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
        uint32_t hh = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
        if (ww < 1 || hh < 1 || ww > INT_MAX || hh > INT_MAX)
            goto done;
        *w = (int)ww;
        *h = (int)hh;
        rc = YPR_OK;
    } else if (b[0] == 0xFF && b[1] == 0xD8) {
        for (int guard = 0; guard < 100000; guard++) {
            int c;
            do {
                c = fgetc(f);
            } while (c != EOF && c != 0xFF);
            while (c == 0xFF)
                c = fgetc(f);
            if (c == EOF || c == 0xD9 || c == 0xDA)
                break;
            if (c == 0x01 || (c >= 0xD0 && c <= 0xD7))
                continue;
            if (!rd(f, b, 2))
                break;
            long seg = (long)b[0] << 8 | b[1];
            if (seg < 2)
                break;
            if (c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC) {
                if (!rd(f, b, 5))
                    break;
                int hh = b[1] << 8 | b[2], ww = b[3] << 8 | b[4];
                if (ww < 1 || hh < 1)
                    break;
                *w = ww;
                *h = hh;
                rc = YPR_OK;
                break;
            }
            if (fseek(f, seg - 2, SEEK_CUR) != 0)
                break;
        }
    }
done:
    fclose(f);
    if (rc == YPR_OK)
        ypr__clear_error();
    return rc;
}
