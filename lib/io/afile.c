/* Atomic file writing: data goes to PATH.tmp-XXXXXX in the same directory,
 * is flushed and fsync'ed, then renamed over PATH, so a crash leaves either
 * the old file or the new one, never a torn one. Only a regular file or a
 * new name is ever replaced: renaming over a device node, FIFO or folder
 * would destroy it (as root, /dev/full would turn into a plain file). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* PATH may be replaced: it does not exist, or it is a regular file (a
 * symbolic link to one is replaced by the new file, its target untouched). */
static int check_target(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return YPR_OK;   /* a new name; anything else wrong shows when writing */
    RETURN_IF(S_ISDIR(st.st_mode), YPR_EIO, "%s: is a folder, not replaced", path);
    RETURN_IF(!S_ISREG(st.st_mode), YPR_EIO,
              "%s: is not a regular file (a device, FIFO or socket), not replaced", path);
    return YPR_OK;
}

int ypr__afile_open(ypr_atomic_file *af, const char *path)
{
    RETURN_IF(!af || !path || !*path, YPR_EINVAL, "write: empty file name");
    TRY(check_target(path));
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = malloc(n + 1);
    af->tmp = malloc(n + 16);
    if (!af->path || !af->tmp) {
        free(af->path);
        free(af->tmp);
        memset(af, 0, sizeof *af);
        return ypr__error(YPR_ENOMEM, "%s: out of memory", path);
    }
    memcpy(af->path, path, n + 1);
    snprintf(af->tmp, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        free(af->path);
        free(af->tmp);
        memset(af, 0, sizeof *af);
        return ypr__error(YPR_EIO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    /* mkstemp creates 0600; give the file the mode open() would have given it */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        ypr__afile_abort(af);
        return ypr__error(YPR_EIO, "%s: cannot set file mode: %s", path, strerror(e));
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        unlink(af->tmp);
        ypr__afile_abort(af);
        return ypr__error(YPR_EIO, "%s: fdopen failed", path);
    }
    return YPR_OK;
}

int ypr__afile_commit(ypr_atomic_file *af)
{
    FILE *fp = af->fp;
    errno = 0;
    int bad = ferror(fp) || fflush(fp) != 0 || fsync(fileno(fp)) != 0;
    int e = errno ? errno : EIO;
    bad |= fclose(fp) != 0;
    af->fp = NULL;
    int rc = YPR_OK;
    if (!bad && (rc = check_target(af->path)) < 0)   /* it may have changed since open */
        unlink(af->tmp);
    else if (!bad && rename(af->tmp, af->path) != 0) {
        e = errno;
        bad = 1;
    }
    if (bad) {
        unlink(af->tmp);
        rc = ypr__error(YPR_EIO, "%s: write failed: %s", af->path, strerror(e));
    }
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
    return rc;
}

void ypr__afile_abort(ypr_atomic_file *af)
{
    if (!af)
        return;
    if (af->fp)
        fclose(af->fp);
    if (af->tmp)
        unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}
