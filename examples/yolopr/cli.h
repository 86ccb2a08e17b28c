/* The yolopr command-line tool: uses only the public API (include/yolopr.h). */
#ifndef YOLOPR_CLI_H
#define YOLOPR_CLI_H

#include <stdint.h>
#include <sys/types.h>

#include "yolopr.h"

int cmd_bench(int argc, char **argv);
int cmd_bench_model(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* 1 when MODEL names a checkpoint that carries its own classes (our
 * .safetensors, a PyTorch .pt/.pth, an ONNX model), 0 for a cfg or built-in name. */
int cli_is_checkpoint(const char *path);
int cmd_export(int argc, char **argv);
int cmd_quant(int argc, char **argv);

/* Print "yolopr: <what>: <ypr_last_error()>" to stderr and return 1. */
int cli_fail(const char *what, int status);

/* The library's log callback: warnings and errors to stderr ("yolopr: warning: …"). */
void cli_log(void *user, int level, const char *msg);

/* ------------------------------------------------------------- options
 * One table per command, read by cli_parse(). Every value is checked whole
 * and against its range; a bad one is refused with a message naming the
 * option and the range, never read as 0. */

enum cli_kind {
    CLI_FLAG,     /* int *: set to 1 */
    CLI_STR,      /* const char **: the next argument */
    CLI_LIST,     /* const char *[cap], *count: each use appends */
    CLI_INT,      /* int *: an integer in [lo, hi] */
    CLI_REAL,     /* double *: a finite number in [lo, hi], ends excluded by CLI_OPEN_* */
    CLI_SIZE,     /* int *: a network input size, a multiple of 32 in [32, 8192] */
    CLI_U64,      /* uint64_t *: an unsigned 64-bit integer (decimal or 0x hex) */
    CLI_CHOICE    /* int *: the index of the value in choices[] */
};

enum { CLI_OPEN_LO = 1, CLI_OPEN_HI = 2 };

typedef struct cli_opt {
    const char *name;               /* "--ratio", "-o" */
    int kind;                       /* enum cli_kind */
    void *dst;
    double lo, hi;                  /* CLI_INT, CLI_REAL */
    int open;                       /* CLI_REAL: CLI_OPEN_LO | CLI_OPEN_HI */
    int cap, *count;                /* CLI_LIST */
    const char *const *choices;     /* CLI_CHOICE: NULL-terminated */
} cli_opt;

#define CLI_O_FLAG(n, p) {.name = (n), .kind = CLI_FLAG, .dst = (p)}
#define CLI_O_STR(n, p) {.name = (n), .kind = CLI_STR, .dst = (p)}
#define CLI_O_LIST(n, arr, cp, cnt) \
    {.name = (n), .kind = CLI_LIST, .dst = (arr), .cap = (cp), .count = (cnt)}
#define CLI_O_INT(n, p, l, h) {.name = (n), .kind = CLI_INT, .dst = (p), .lo = (l), .hi = (h)}
#define CLI_O_REAL(n, p, l, h, o) \
    {.name = (n), .kind = CLI_REAL, .dst = (p), .lo = (l), .hi = (h), .open = (o)}
#define CLI_O_SIZE(n, p) {.name = (n), .kind = CLI_SIZE, .dst = (p)}
#define CLI_O_U64(n, p) {.name = (n), .kind = CLI_U64, .dst = (p)}
#define CLI_O_CHOICE(n, p, c) {.name = (n), .kind = CLI_CHOICE, .dst = (p), .choices = (c)}
#define CLI_O_END {.name = NULL}

enum { CLI_HELP = -1, CLI_USAGE = 2 };

/* Parse argv[1..argc) of command @p cmd against @p opts (ended by CLI_O_END).
 * Arguments that are not options go to pos[0..maxpos) (*npos gets their
 * number; more than maxpos is an error; none is an error naming @p required
 * unless it is NULL). A lone "-" is positional, "--" ends the options. Returns 0; CLI_HELP after printing the usage for
 * -h/--help (the command then exits 0); CLI_USAGE after printing what is
 * wrong (exit 2). */
int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int argc, char **argv,
              const char **pos, int maxpos, int *npos, const char *required);

/* A number from @p text for @p what (an option name), whole and finite, in
 * [lo, hi] with the ends CLI_OPEN_* excludes. Returns 0 or, after printing
 * "yolopr CMD: WHAT expects a number in [lo, hi), not 'TEXT'", CLI_USAGE. */
/* --data synth[:COUNT[:SIZE[:CLASSES]]]: 1 if DATA names the built-in set
 * (out[] = count, size, classes; defaults 64, SIZE or 320, 8; values checked),
 * 0 if it is a path, CLI_USAGE (printed, naming CMD) if malformed. */
int cli_parse_synth(const char *cmd, const char *data, int size, int out[3]);
int cli_real(const char *cmd, const char *what, const char *text, double lo, double hi, int open,
             double *out);

/* ------------------------------------------------------- pruner knobs
 * The pruner settings `yolopr prune` and `yolopr train` (pruning while
 * training) share: parsed into a cli_prune, pushed into a ypr_pruner. */

#define CLI_MAX_PATTERNS 64
#define CLI_PRUNE_ROWS 7   /* rows cli_prune_rows() adds */

typedef struct cli_prune {
    const char *ignore[CLI_MAX_PATTERNS], *layer_ratio[CLI_MAX_PATTERNS];
    double layer_r[CLI_MAX_PATTERNS];
    int nignore, nlr, global, clamp, round_to, steps, size, crit;
    double ratio, max_layer, target_gmacs, target_mparams;   /* ratio < 0: not given */
} cli_prune;

/* The library's defaults (criterion L2, round_to 1, one step, size 640, no ratio yet). */
void cli_prune_init(cli_prune *k);
/* Write the shared option rows (--importance, --global, --clamp-widths,
 * --max-layer-ratio, --round-to, --ignore, --layer-ratio) to @p rows
 * (CLI_PRUNE_ROWS of them); @p taylor adds "taylor" to --importance's
 * choices. Returns the number written. */
int cli_prune_rows(cli_prune *k, cli_opt *rows, int taylor);
/* Split and check every --layer-ratio PATTERN=R. Returns 0 or CLI_USAGE (printed). */
int cli_prune_layer_ratios(const char *cmd, cli_prune *k);
/* Push every knob into @p p (ratio, MAC/parameter targets, steps, report size …).
 * Returns 0 or 1 (printed). */
int cli_prune_configure(ypr_pruner *p, const cli_prune *k);

/* ------------------------------------------------------- inputs, outputs
 * A command names the files it reads and the files it will write before it
 * starts. cli_io_prepare() refuses an output that is one of the inputs (same
 * file, also through another name or link), is not a regular file (a device,
 * FIFO or folder), has no folder to go into, would land in a folder whose
 * listing is an input, or is named twice — before any
 * work is done. Each output then gets a temporary name beside it (`stage`),
 * where the writer writes; cli_io_commit() moves them all into place at the
 * end, and cli_io_free() removes what was not committed, so a command that
 * fails writes nothing. */

typedef struct cli_in { dev_t dev; ino_t ino; char *path; } cli_in;

typedef struct cli_out {
    char *opt, *path;
    const char *const *names;   /* a folder output: the files written into it; NULL: a file */
    char *stage;                /* write here (after cli_io_prepare) */
    int committed;
} cli_out;

typedef struct cli_io {
    const char *cmd;
    cli_in *in, *dirs;   /* files read; folders whose listing is read */
    int nin, incap, ndirs, dircap;
    cli_out *out;
    int nout, outcap;
} cli_io;

void cli_io_init(cli_io *io, const char *cmd);
/* Record a file the command reads (names that are not files, like the
 * built-in "yolov7", are ignored). Returns 0, or 1 (out of memory, printed). */
int cli_io_input(cli_io *io, const char *path);
/* Record a folder whose listing the command reads (a dataset's image folder,
 * a folder of detection files): no output may be added to it. */
int cli_io_input_dir(cli_io *io, const char *dir);
/* Record an output file named by option @p opt; returns its index, or -1
 * (out of memory, printed). */
int cli_io_output(cli_io *io, const char *opt, const char *path);
/* Record an output folder and the files (NULL-terminated) the writer puts in it. */
int cli_io_output_dir(cli_io *io, const char *opt, const char *dir, const char *const *names);
/* Check every output against the rules above and create the temporary
 * names. Returns 0, or 2 after printing why an output is refused. */
int cli_io_prepare(cli_io *io);
/* Write @p text to output @p i's temporary name. Returns 0, or 1 (printed). */
int cli_io_write_text(cli_io *io, int i, const char *text);
/* Move every output into place. Returns 0, or 1 (printed). */
int cli_io_commit(cli_io *io);
/* Remove the temporary names of outputs not committed; release. */
void cli_io_free(cli_io *io);

#endif
