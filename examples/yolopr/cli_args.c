/* Option parsing for every yolopr command: one table per command, every
 * value read whole and checked against its range. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void range_text(const cli_opt *o, char *buf, size_t n)
{
    switch (o->kind) {
    case CLI_INT:
        snprintf(buf, n, "an integer in [%.15g, %.15g]", o->lo, o->hi);
        break;
    case CLI_SIZE:
        snprintf(buf, n, "a multiple of 32 in [32, 8192]");
        break;
    case CLI_U64:
        snprintf(buf, n, "an integer in [0, 2^64)");
        break;
    default:
        snprintf(buf, n, "a number in %c%.15g, %.15g%c", o->open & CLI_OPEN_LO ? '(' : '[', o->lo,
                 o->hi, o->open & CLI_OPEN_HI ? ')' : ']');
        break;
    }
}

static int bad_value(const char *cmd, const cli_opt *o, const char *text)
{
    char range[96];
    if (o->kind == CLI_CHOICE) {
        fprintf(stderr, "yolopr %s: %s expects one of ", cmd, o->name);
        for (int k = 0; o->choices[k]; k++)
            fprintf(stderr, "%s%s", k ? "|" : "", o->choices[k]);
        fprintf(stderr, ", not '%s'\n", text);
        return CLI_USAGE;
    }
    range_text(o, range, sizeof range);
    fprintf(stderr, "yolopr %s: %s expects %s, not '%s'\n", cmd, o->name, range, text);
    return CLI_USAGE;
}

/* strtod/strtoll accept leading blanks and stop at the first bad character:
 * a number here is the whole argument, nothing before or after it. */
static int whole(const char *text, const char *end)
{
    return *text && !isspace((unsigned char)*text) && end != text && *end == '\0';
}

static int in_range(double v, double lo, double hi, int open)
{
    if (open & CLI_OPEN_LO ? !(v > lo) : !(v >= lo))
        return 0;
    return open & CLI_OPEN_HI ? v < hi : v <= hi;
}

int cli_real(const char *cmd, const char *what, const char *text, double lo, double hi, int open,
             double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!whole(text, end) || errno == ERANGE || !isfinite(v) || !in_range(v, lo, hi, open)) {
        cli_opt o = {.name = what, .kind = CLI_REAL, .lo = lo, .hi = hi, .open = open};
        return bad_value(cmd, &o, text);
    }
    *out = v;
    return 0;
}

static int set_value(const char *cmd, const cli_opt *o, const char *text)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_STR:
        *(const char **)o->dst = text;
        return 0;
    case CLI_LIST:
        if (*o->count >= o->cap) {
            fprintf(stderr, "yolopr %s: %s given more than %d times\n", cmd, o->name, o->cap);
            return CLI_USAGE;
        }
        ((const char **)o->dst)[(*o->count)++] = text;
        return 0;
    case CLI_REAL:
        return cli_real(cmd, o->name, text, o->lo, o->hi, o->open, (double *)o->dst);
    case CLI_INT:
    case CLI_SIZE: {
        long long v = strtoll(text, &end, 10);
        double lo = o->kind == CLI_SIZE ? 32 : o->lo, hi = o->kind == CLI_SIZE ? 8192 : o->hi;
        if (!whole(text, end) || errno == ERANGE || (double)v < lo || (double)v > hi ||
            (o->kind == CLI_SIZE && v % 32 != 0))
            return bad_value(cmd, o, text);
        *(int *)o->dst = (int)v;
        return 0;
    }
    case CLI_U64: {
        unsigned long long v = strtoull(text, &end, 0);
        if (!whole(text, end) || errno == ERANGE || text[0] == '-' || text[0] == '+')
            return bad_value(cmd, o, text);
        *(uint64_t *)o->dst = (uint64_t)v;
        return 0;
    }
    case CLI_CHOICE:
        for (int k = 0; o->choices[k]; k++)
            if (strcmp(text, o->choices[k]) == 0) {
                *(int *)o->dst = k;
                return 0;
            }
        return bad_value(cmd, o, text);
    default:
        return 0;
    }
}

static int usage_error(const char *usage)
{
    fprintf(stderr, "usage: %s\n", usage);
    return CLI_USAGE;
}

int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int argc, char **argv,
              const char **pos, int maxpos, int *npos, const char *required)
{
    int n = 0, options = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            printf("usage: %s\n", usage);
            return CLI_HELP;
        }
        if (options && strcmp(a, "--") == 0) {
            options = 0;
            continue;
        }
        if (!options || a[0] != '-' || a[1] == '\0') {
            if (n >= maxpos) {
                fprintf(stderr, "yolopr %s: unexpected argument '%s'\n", cmd, a);
                return usage_error(usage);
            }
            pos[n++] = a;
            continue;
        }
        const cli_opt *o = opts;
        while (o->name && strcmp(o->name, a) != 0)
            o++;
        if (!o->name) {
            fprintf(stderr, "yolopr %s: unknown option '%s'\n", cmd, a);
            return usage_error(usage);
        }
        if (o->kind == CLI_FLAG) {
            *(int *)o->dst = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "yolopr %s: %s needs a value\n", cmd, a);
            return usage_error(usage);
        }
        int rc = set_value(cmd, o, argv[++i]);
        if (rc)
            return rc;
    }
    if (n == 0 && required) {
        fprintf(stderr, "yolopr %s: no %s given\n", cmd, required);
        return usage_error(usage);
    }
    if (npos)
        *npos = n;
    return 0;
}

int cli_is_checkpoint(const char *path)
{
    static const char *const ext[] = {".safetensors", ".pt", ".pth", ".onnx"};
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t n = strlen(ext[i]);
        if (len > n && strcmp(path + len - n, ext[i]) == 0)
            return 1;
    }
    return 0;
}

int cli_parse_synth(const char *cmd, const char *data, int size, int out[3])
{
    if (strncmp(data, "synth", 5) != 0 || (data[5] != '\0' && data[5] != ':'))
        return 0;
    out[0] = 64;
    out[1] = size > 0 ? size : 320;
    out[2] = 8;
    static const double lo[3] = {1, 32, 1}, hi[3] = {1000000, 4096, 80};
    static const char *const what[3] = {"--data synth:COUNT", "--data synth:COUNT:SIZE",
                                        "--data synth:COUNT:SIZE:CLASSES"};
    const char *p = data + 5;
    for (int k = 0; k < 3 && *p == ':'; k++) {
        char field[32];
        const char *e = strchr(p + 1, ':');
        size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
        if (n >= sizeof field)
            n = sizeof field - 1;
        memcpy(field, p + 1, n);
        field[n] = '\0';
        double v;
        if (cli_real(cmd, what[k], field, lo[k], hi[k], 0, &v))
            return CLI_USAGE;
        if (v != (double)(int)v) {
            fprintf(stderr, "yolopr %s: %s expects an integer, not '%s'\n", cmd, what[k], field);
            return CLI_USAGE;
        }
        out[k] = (int)v;
        p = e ? e : p + 1 + n;
    }
    if (*p) {
        fprintf(stderr, "yolopr %s: --data expects synth[:COUNT[:SIZE[:CLASSES]]], not '%s'\n",
                cmd, data);
        return CLI_USAGE;
    }
    return 1;
}
