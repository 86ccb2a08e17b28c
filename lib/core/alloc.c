/* Aligned allocation. 64 bytes covers a cache line and an AVX-512 vector. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

void *ypr__alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0)
        bytes = 1;
    if (bytes > (size_t)INT64_MAX || posix_memalign(&p, 64, (bytes + 63) & ~(size_t)63) != 0) {
        ypr__error(YPR_ENOMEM, "cannot allocate %zu bytes", bytes);
        return NULL;
    }
    return p;
}

void *ypr__calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        ypr__error(YPR_ENOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = ypr__alloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void ypr__free(void *p)
{
    free(p);
}
