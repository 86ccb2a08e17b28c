/* yolopr convert: any MODEL (a YOLOv7 .pt checkpoint, a cfg with --weights,
 * our checkpoint) written as our self-describing .safetensors checkpoint. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char convert_usage[] =
    "yolopr convert MODEL OUT.safetensors [--weights W] [--nc N]\n"
    "  MODEL: a YOLOv7 .pt checkpoint (best.pt, last.pt: the EMA model when present),\n"
    "  a cfg or built-in name (with --weights: a state_dict .pt or .safetensors),\n"
    "  or a libyolopr .safetensors checkpoint";

int cmd_convert(int argc, char **argv)
{
    const char *weights = NULL, *pos[2] = {NULL, NULL};
    int nc = 0, npos = 0;
    cli_opt opts[] = {
        CLI_O_STR("--weights", &weights),
        CLI_O_INT("--nc", &nc, 1, 100000),
        CLI_O_END,
    };
    int rc = cli_parse("convert", convert_usage, opts, argc, argv, pos, 2, &npos, "MODEL");
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if (npos != 2) {
        fprintf(stderr, "yolopr convert: expected MODEL and OUT.safetensors\n%s\n",
                convert_usage);
        return CLI_USAGE;
    }
    cli_io io;
    cli_io_init(&io, "convert");
    int out = -1, status = cli_io_input(&io, pos[0]) || cli_io_input(&io, weights);
    if (!status && (out = cli_io_output(&io, "OUT", pos[1])) < 0)
        status = 1;
    if (!status)
        status = cli_io_prepare(&io);
    ypr_model *m = NULL;
    if (!status) {
        rc = nc ? ypr_model_from_cfg(pos[0], nc, 0, 0, 0, &m) : ypr_model_load(pos[0], &m);
        const char *what = pos[0];
        if (rc == 0 && weights && (rc = ypr_model_load_weights(m, weights, 0)) < 0)
            what = weights;
        if (rc == 0 && (rc = ypr_model_save(m, io.out[out].stage)) < 0)
            what = pos[1];
        status = rc < 0 ? cli_fail(what, rc) : cli_io_commit(&io);
    }
    if (!status)
        printf("wrote %s: %d classes, %lld parameters\n", pos[1], ypr_model_num_classes(m),
               (long long)ypr_model_num_params(m));
    ypr_model_free(m);
    cli_io_free(&io);
    return status;
}
