/* Fuzz target for the ONNX reader: the protobuf wire format (lib/io/pb.c),
 * ModelProto decoding (lib/io/onnx.c) and the import into a net
 * (lib/model/onnx_import.c). Any input must end in YPR_OK or a negative
 * status with a message — never a crash, a leak or undefined behaviour.
 *
 * Built as the other targets (tests/fuzz/meson.build): with replay.c for
 * `meson test` (the saved corpus, tests/fuzz/corpus/onnx, seeds from
 * make_onnx_corpus.py), and with libFuzzer under -Dfuzz=enabled. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
