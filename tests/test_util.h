/* Helpers shared by the cmocka tests (header-only: every test is its own
 * executable). Include after <cmocka.h> and "yolopr.h". */
#ifndef YPR_TEST_UTIL_H
#define YPR_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole file, NUL-terminated, in a malloc'd buffer; NULL if it cannot be
 * read. *len receives its size. */
static inline char *test_slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : (size_t)1 << 16;
            char *b = realloc(buf, cap + 1);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* The index of the tensor called NAME (fails the test if there is none). */
static inline int test_tensor_index(const ypr_model *m, const char *name)
{
    for (int i = 0; i < ypr_model_num_tensors(m); i++) {
        const char *n;
        assert_int_equal(ypr_model_tensor(m, i, &n, NULL, NULL, NULL), YPR_OK);
        if (strcmp(n, name) == 0)
            return i;
    }
    fail_msg("no tensor %s", name);
    return -1;
}

#endif
