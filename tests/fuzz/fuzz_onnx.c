/* Fuzz target for the ONNX reader: the protobuf wire format (lib/io/pb.c),
 * ModelProto decoding (lib/io/onnx.c) and the import into a net
 * (lib/model/onnx_import.c). Any input must end in YPR_OK or a negative
 * status with a message — never a crash, a leak or undefined behaviour.
 *
 * With libFuzzer (clang -fsanitize=fuzzer, -DYPR_FUZZ_LIBFUZZER) this file
 * is only LLVMFuzzerTestOneInput. Without it, a small main() replays the
 * files and folders named on the command line (the saved corpus,
 * tests/fuzz/corpus/onnx), which is how `meson test` runs it. Self-contained
 * on purpose: it needs no shared replay driver (define
 * YPR_FUZZ_SHARED_MAIN to leave main() to one). */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/io/io.h"
#include "lib/model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ypr_onnx *o = NULL;
    if (ypr__onnx_parse(data, size, "fuzz.onnx", &o) == YPR_OK) {
        ypr_model *m = NULL;
        if (ypr__onnx_import(o, "fuzz.onnx", &m) == YPR_OK) {
            /* an imported net must at least answer shape questions */
            int64_t macs;
            (void)ypr_model_macs(m, 64, 64, 0, &macs);
            ypr_model_free(m);
        }
        ypr__onnx_free(o);
    }
    return 0;
}

#if !defined(YPR_FUZZ_LIBFUZZER) && !defined(YPR_FUZZ_SHARED_MAIN)
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_onnx: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
        }
    }
    fclose(f);
    if (!buf)
        return 1;
    /* exactly n bytes: a copy of that size, so ASan sees reads past the end */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz_onnx: no such file or folder %s\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= replay_file(argv[i]);
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        for (struct dirent *e; d && (e = readdir(d));) {
            char p[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                bad |= replay_file(p);
                files++;
            }
        }
        if (d)
            closedir(d);
    }
    printf("fuzz_onnx: replayed %d inputs\n", files);
    return bad || files == 0;
}
#endif
