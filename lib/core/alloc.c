/* Aligned allocation. 64 bytes covers a cache line and an AVX-512 vector;
 * blocks of 2 MiB and more start on a 2 MiB boundary and ask for
 * transparent huge pages, so that the kernel can back all of them with huge
 * pages (see ypr__alloc). */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core.h"

#define HUGE_BYTES ((size_t)2 << 20)

/* Large blocks (workspaces, activations, packed weights) on huge pages: the
 * Winograd workspace is written and read in 36 strided streams, and with
 * 4 KiB pages its TLB misses left two threads no faster than one on an
 * AVX-512 Zen 5 VM (two threads' pass of yolov7 @640: 245 ms in processes
 * whose buffers happened to get huge pages, 330 ms in the others). */
void *ypr__alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0)
        bytes = 1;
    size_t size = (bytes + 63) & ~(size_t)63, align = size >= HUGE_BYTES ? HUGE_BYTES : 64;
    if (bytes > (size_t)INT64_MAX || posix_memalign(&p, align, size) != 0) {
        ypr__error(YPR_ENOMEM, "cannot allocate %zu bytes", bytes);
        return NULL;
    }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == HUGE_BYTES)
        (void)madvise(p, size & ~(HUGE_BYTES - 1), MADV_HUGEPAGE);   /* a hint: may fail */
#endif
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
