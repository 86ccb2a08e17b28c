/* Reading input files safely: regular files only (a FIFO, device or
 * directory given as input is refused before anything blocks), sizes
 * bounded before allocating, every loop bounded by the file's size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

int ypr__file_open_fd(const char *path, int *fd_out, uint64_t *size)
{
    RETURN_IF(!fd_out, YPR_EINVAL, "open: NULL output");
    *fd_out = -1;
    if (size)
        *size = 0;
    RETURN_IF(!path || !*path, YPR_EINVAL, "open: empty file name");
    /* O_NONBLOCK: opening a FIFO for reading must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    RETURN_IF(fd < 0, errno == ENOENT ? YPR_ENOTFOUND : YPR_EIO, "%s: cannot open: %s", path,
              strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ypr__error(YPR_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ypr__error(YPR_EIO, "%s: not a regular file (%s)", path,
                          S_ISDIR(sb.st_mode)    ? "a directory"
                          : S_ISFIFO(sb.st_mode) ? "a FIFO"
                          : S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) ? "a device"
                                                                       : "a special file");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return ypr__error(YPR_EIO, "%s: fcntl: %s", path, strerror(e));
    }
    *fd_out = fd;
    if (size)
        *size = sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
    return YPR_OK;
}

int ypr__file_open_regular(const char *path, void **out, uint64_t *size)
{
    RETURN_IF(!out, YPR_EINVAL, "open: NULL output");
    *out = NULL;
    int fd;
    TRY(ypr__file_open_fd(path, &fd, size));
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        if (size)
            *size = 0;
        return ypr__error(YPR_ENOMEM, "%s: fdopen failed", path);
    }
    *out = f;
    return YPR_OK;
}

int ypr__file_read_all(const char *path, size_t max, char **buf, size_t *len)
{
    RETURN_IF(!buf || !len, YPR_EINVAL, "read: NULL output");
    *buf = NULL;
    *len = 0;
    void *fv;
    uint64_t size;
    TRY(ypr__file_open_regular(path, &fv, &size));
    FILE *f = fv;
    if (size > max) {
        fclose(f);
        return ypr__error(YPR_ERANGE, "%s: larger than %zu bytes", path, max);
    }
    /* One byte more than stat said, to notice a file that grows while read. */
    size_t cap = (size_t)size + 2;
    char *b = malloc(cap);
    if (!b) {
        fclose(f);
        return ypr__error(YPR_ENOMEM, "%s: out of memory (%zu bytes)", path, cap);
    }
    size_t n = fread(b, 1, cap - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return ypr__error(YPR_EIO, "%s: read error", path);
    }
    if (n > (size_t)size) {
        free(b);
        return ypr__error(YPR_EIO, "%s: file changed while being read", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return YPR_OK;
}

const char *ypr__shown(const char *s, size_t len, char buf[80])
{
    size_t i = 0;
    int cstr = len == SIZE_MAX;   /* a C string: up to its NUL */
    for (; i < len && i < 72 && (!cstr || s[i]); i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i < len && (!cstr || s[i])) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}
