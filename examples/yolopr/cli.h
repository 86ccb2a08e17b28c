/* The yolopr command-line tool: uses only the public API (include/yolopr.h). */
#ifndef YOLOPR_CLI_H
#define YOLOPR_CLI_H

#include "yolopr.h"

int cmd_bench(int argc, char **argv);
int cmd_bench_model(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_graph(int argc, char **argv);

/* Print "yolopr: <what>: <ypr_last_error()>" to stderr and return 1. */
int cli_fail(const char *what, int status);

#endif
