/* Fuzz target: the ZIP reader and, over it, the .pt checkpoint reader
 * (data.pkl through the restricted unpickler, storages, the state_dict walk
 * and the float conversion of every floating tensor). Any input must give
 * a status, never a crash, a leak or undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>

#include "lib/io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ypr_zip *z;
    if (ypr__zip_open_mem(data, size, "fuzz.zip", &z) == 0) {
        for (size_t i = 0; i < ypr__zip_count(z); i++) {
            const void *d;
            size_t len;
            void *owned;
            if (ypr__zip_read(z, i, &d, &len, &owned) == 0)
                free(owned);
        }
        ypr__zip_close(z);
    }
    ypr_pt *pt;
    if (ypr__pt_open_mem(data, size, "fuzz.pt", &pt) == 0) {
        ypr_safetensors *st;
        if (ypr__pt_state_dict(pt, ypr__pt_pick_model(pt), &st) == 0) {
            for (size_t i = 0; i < ypr__st_count(st); i++) {
                const ypr_st_tensor *t = ypr__st_at(st, i);
                if (t->numel > (1 << 20))
                    continue;
                float *f = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *f);
                if (f)
                    ypr__st_to_f32(t, f);
                free(f);
            }
            ypr__st_close(st);
        }
        ypr__pt_close(pt);
    }
    return 0;
}
