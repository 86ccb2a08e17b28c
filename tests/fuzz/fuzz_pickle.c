/* Fuzz target: the restricted unpickler, then what the .pt loader does
 * with a tree (dict lookups, the cfg dict written back as YAML and read by
 * the cfg reader). Any input must give a status, never a crash, a leak or
 * undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>

#include "lib/io/io.h"
#include "lib/model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ypr_pickle *p;
    if (ypr__pickle_parse(data, size, "fuzz.pkl", &p) < 0)
        return 0;
    const ypr_pk *root = ypr__pickle_root(p);
    const ypr_pk *cfgs[3] = {root, ypr__pk_get(root, "yaml"),
                             ypr__pk_get(ypr__pk_get(root, "model"), "yaml")};
    for (int i = 0; i < 3; i++) {
        char *text;
        size_t len;
        if (cfgs[i] && ypr__pt_cfg_text(cfgs[i], "fuzz", &text, &len) == 0) {
            ypr_yaml *y;
            if (ypr__cfg_parse(text, len, "fuzz.yaml", &y) == 0)
                ypr__yaml_free(y);
            free(text);
        }
    }
    char buf[96];
    ypr__pk_describe(root, buf, sizeof buf);
    ypr__pickle_free(p);
    return 0;
}
