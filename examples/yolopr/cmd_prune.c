/* yolopr prune / graph: structured pruning through the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char prune_usage[] =
    "yolopr prune MODEL [--weights W] [--nc N] --ratio R | --target-macs GMACS | --target-params M\n"
    "       [--importance l1|l2|lamp|bn|fpgm|random]\n"
    "       [--global] [--max-layer-ratio R] [--round-to N] [--clamp-widths] [--steps K]\n"
    "       [--ignore PATTERN]...\n"
    "       [--layer-ratio PATTERN=R]... [--size N] [--report OUT.json] [--plot OUT.png] [--time]\n"
    "       [--yolov7 PREFIX]   (also PREFIX.yaml + PREFIX.safetensors for YOLOv7's code)\n"
    "       -o OUT.safetensors | --dry-run (only print the report)";

typedef struct prune_args {
    const char *model, *out, *report, *weights, *plot, *yolov7;
    char yolov7_yaml[4096], yolov7_weights[4096];
    int timeit, nc, dry_run;
    cli_prune k;
} prune_args;

static const char *const crits[] = {"random", "l1", "l2", "lamp", "bn", "fpgm", NULL};
static const char *const crits_taylor[] = {"random", "l1", "l2", "lamp", "bn", "fpgm", "taylor",
                                           NULL};

void cli_prune_init(cli_prune *k)
{
    memset(k, 0, sizeof *k);
    k->round_to = 1;
    k->steps = 1;
    k->size = 640;
    k->crit = YPR_CRITERION_L2;
    k->ratio = -1;
    k->max_layer = 1.0;
}

int cli_prune_rows(cli_prune *k, cli_opt *rows, int taylor)
{
    const cli_opt r[] = {
        CLI_O_CHOICE("--importance", &k->crit, taylor ? crits_taylor : crits),
        CLI_O_FLAG("--global", &k->global),
        CLI_O_FLAG("--clamp-widths", &k->clamp),
        CLI_O_REAL("--max-layer-ratio", &k->max_layer, 0, 1, CLI_OPEN_LO),
        CLI_O_INT("--round-to", &k->round_to, 1, 1024),
        CLI_O_LIST("--ignore", k->ignore, CLI_MAX_PATTERNS, &k->nignore),
        CLI_O_LIST("--layer-ratio", k->layer_ratio, CLI_MAX_PATTERNS, &k->nlr),
    };
    memcpy(rows, r, sizeof r);
    return (int)(sizeof r / sizeof r[0]);
}

/* Split every --layer-ratio PATTERN=R, R checked as --ratio is. */
int cli_prune_layer_ratios(const char *cmd, cli_prune *k)
{
    for (int i = 0; i < k->nlr; i++) {
        const char *eq = strrchr(k->layer_ratio[i], '=');
        if (!eq || eq == k->layer_ratio[i] || (size_t)(eq - k->layer_ratio[i]) >= 256) {
            fprintf(stderr, "yolopr %s: --layer-ratio expects PATTERN=R, not '%s'\n", cmd,
                    k->layer_ratio[i]);
            return CLI_USAGE;
        }
        if (cli_real(cmd, "--layer-ratio", eq + 1, 0, 1, CLI_OPEN_HI, &k->layer_r[i]))
            return CLI_USAGE;
    }
    return 0;
}

static int parse_prune(int argc, char **argv, prune_args *a)
{
    memset(a, 0, sizeof *a);
    cli_prune *k = &a->k;
    cli_prune_init(k);
    cli_opt opts[CLI_PRUNE_ROWS + 16];
    int n = cli_prune_rows(k, opts, 0);
    const cli_opt own[] = {
        CLI_O_REAL("--ratio", &k->ratio, 0, 1, CLI_OPEN_HI),
        CLI_O_REAL("--target-macs", &k->target_gmacs, 0, 1e6, CLI_OPEN_LO),
        CLI_O_REAL("--target-params", &k->target_mparams, 0, 1e6, CLI_OPEN_LO),
        CLI_O_INT("--steps", &k->steps, 1, 1000),
        CLI_O_STR("--report", &a->report),
        CLI_O_STR("--plot", &a->plot),
        CLI_O_STR("--yolov7", &a->yolov7),
        CLI_O_STR("--weights", &a->weights),
        CLI_O_SIZE("--size", &k->size),
        CLI_O_INT("--nc", &a->nc, 1, 100000),
        CLI_O_FLAG("--time", &a->timeit),
        CLI_O_FLAG("--dry-run", &a->dry_run),
        CLI_O_STR("-o", &a->out),
        CLI_O_END,
    };
    memcpy(opts + n, own, sizeof own);
    int rc = cli_parse("prune", prune_usage, opts, argc, argv, &a->model, 1, NULL, "MODEL");
    if (rc)
        return rc;
    const char *why = NULL;
    if (k->ratio < 0 && k->target_gmacs == 0 && k->target_mparams == 0)
        why = "give --ratio R, --target-macs GMACS or --target-params M";
    else if (!a->dry_run && !a->out && !a->yolov7)
        why = "the pruned model would be discarded: give -o OUT.safetensors "
              "(or --dry-run to only print the report)";
    else if (a->dry_run && (a->out || a->yolov7))
        why = "--dry-run writes no model: drop -o / --yolov7";
    if (why) {
        fprintf(stderr, "yolopr prune: %s\nusage: %s\n", why, prune_usage);
        return CLI_USAGE;
    }
    if (k->ratio < 0)
        k->ratio = 0.25;   /* unused: the budget decides */
    if (a->yolov7 &&
        ((size_t)snprintf(a->yolov7_yaml, sizeof a->yolov7_yaml, "%s.yaml", a->yolov7) >=
             sizeof a->yolov7_yaml ||
         (size_t)snprintf(a->yolov7_weights, sizeof a->yolov7_weights, "%s.safetensors",
                          a->yolov7) >= sizeof a->yolov7_weights)) {
        fprintf(stderr, "yolopr prune: --yolov7 PREFIX is too long\n");
        return CLI_USAGE;
    }
    return cli_prune_layer_ratios("prune", k);
}

/* Every output, checked against the inputs before any work. Indices into
 * io->out in the order: -o, --report, --plot, --yolov7 yaml, weights. */
enum { OUT_MODEL, OUT_REPORT, OUT_PLOT, OUT_Y7_YAML, OUT_Y7_WEIGHTS, OUT_N };

static int prune_files(cli_io *io, const prune_args *a, int idx[OUT_N])
{
    if (cli_io_input(io, a->model) || cli_io_input(io, a->weights))
        return 1;
    const char *paths[OUT_N] = {a->out, a->report, a->plot,
                                a->yolov7 ? a->yolov7_yaml : NULL,
                                a->yolov7 ? a->yolov7_weights : NULL};
    static const char *const opt[OUT_N] = {"-o", "--report", "--plot", "--yolov7", "--yolov7"};
    for (int k = 0; k < OUT_N; k++) {
        idx[k] = -1;
        if (paths[k] && (idx[k] = cli_io_output(io, opt[k], paths[k])) < 0)
            return 1;
    }
    return cli_io_prepare(io);
}

int cli_prune_configure(ypr_pruner *p, const cli_prune *a)
{
    int rc;
    if ((rc = ypr_pruner_set_float(p, YPR_PRUNE_RATIO, a->ratio)) < 0 ||
        (rc = ypr_pruner_set_float(p, YPR_PRUNE_MAX_LAYER_RATIO, a->max_layer)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, a->crit)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_GLOBAL, a->global)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_CLAMP_WIDTHS, a->clamp)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, a->round_to)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_STEPS, a->steps)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_REPORT_SIZE, a->size)) < 0 ||
        /* ranges bounded by the parser: at most 1e15, exact in int64 */
        (a->target_gmacs > 0 && (rc = ypr_pruner_set_int(p, YPR_PRUNE_TARGET_MACS,
                                                         (int64_t)(a->target_gmacs * 1e9))) < 0) ||
        (a->target_mparams > 0 &&
         (rc = ypr_pruner_set_int(p, YPR_PRUNE_TARGET_PARAMS,
                                  (int64_t)(a->target_mparams * 1e6))) < 0))
        return cli_fail("pruner", rc);
    /* a pattern matching nothing is kept and reported through the log hook */
    for (int i = 0; i < a->nignore; i++)
        if ((rc = ypr_pruner_ignore(p, a->ignore[i])) < 0 && rc != YPR_ENOTFOUND)
            return cli_fail(a->ignore[i], rc);
    for (int i = 0; i < a->nlr; i++) {
        char pat[256];
        size_t n = (size_t)(strrchr(a->layer_ratio[i], '=') - a->layer_ratio[i]);
        memcpy(pat, a->layer_ratio[i], n);
        pat[n] = '\0';
        if ((rc = ypr_pruner_set_layer_ratio(p, pat, a->layer_r[i])) < 0)
            return cli_fail(a->layer_ratio[i], rc);
    }
    return 0;
}

/* Write every requested output to its temporary name. */
static int write_outputs(cli_io *io, const int idx[OUT_N], ypr_pruner *p, const ypr_model *m)
{
    char *text;
    int rc;
    if (idx[OUT_REPORT] >= 0) {
        if ((rc = ypr_pruner_report(p, &text, 1)) < 0)
            return cli_fail("--report", rc);
        rc = cli_io_write_text(io, idx[OUT_REPORT], text);
        ypr_free(text);
        if (rc)
            return rc;
    }
    if (idx[OUT_PLOT] >= 0 && (rc = ypr_pruner_plot(p, io->out[idx[OUT_PLOT]].stage)) < 0)
        return cli_fail(io->out[idx[OUT_PLOT]].path, rc);
    if (idx[OUT_Y7_YAML] >= 0 &&
        (rc = ypr_model_export_yolov7(m, io->out[idx[OUT_Y7_YAML]].stage,
                                      io->out[idx[OUT_Y7_WEIGHTS]].stage)) < 0)
        return cli_fail("--yolov7", rc);
    if (idx[OUT_MODEL] >= 0 && (rc = ypr_model_save(m, io->out[idx[OUT_MODEL]].stage)) < 0)
        return cli_fail(io->out[idx[OUT_MODEL]].path, rc);
    return 0;
}

int cmd_prune(int argc, char **argv)
{
    prune_args a;
    int rc = parse_prune(argc, argv, &a);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    cli_io io;
    int idx[OUT_N];
    cli_io_init(&io, "prune");
    ypr_model *m = NULL;
    ypr_depgraph *g = NULL;
    ypr_pruner *p = NULL;
    int status = prune_files(&io, &a, idx);
    if (status)
        goto done;
    status = 1;
    rc = a.nc ? ypr_model_from_cfg(a.model, a.nc, 0, 0, 0, &m) : ypr_model_load(a.model, &m);
    if (rc < 0) {
        cli_fail(a.model, rc);
        goto done;
    }
    if (a.weights && (rc = ypr_model_load_weights(m, a.weights, 0)) < 0) {
        cli_fail(a.weights, rc);
        goto done;
    }
    double t0 = now();
    if ((rc = ypr_depgraph_build(m, &g)) < 0 || (rc = ypr_pruner_create(g, &p)) < 0) {
        cli_fail("pruner", rc);
        goto done;
    }
    if (cli_prune_configure(p, &a.k))
        goto done;
    for (int s = 0; s < a.k.steps; s++)
        if ((rc = ypr_pruner_step(p)) < 0) {
            cli_fail("prune step", rc);
            goto done;
        }
    double t1 = now();
    char *text;
    if ((rc = ypr_pruner_report(p, &text, 0)) < 0) {
        cli_fail("report", rc);
        goto done;
    }
    fputs(text, stdout);
    ypr_free(text);
    if (a.timeit)
        printf("Time: %.1f ms to build the graph, score and prune (%d step%s)\n", (t1 - t0) * 1e3,
               a.k.steps, a.k.steps > 1 ? "s" : "");
    if (write_outputs(&io, idx, p, m) || cli_io_commit(&io))
        goto done;
    status = 0;
    if (a.yolov7)
        printf("wrote %s and %s for YOLOv7's own code\n", a.yolov7_yaml, a.yolov7_weights);
    if (a.report)
        printf("wrote %s\n", a.report);
    if (a.plot)
        printf("wrote %s\n", a.plot);
    if (a.out)
        printf("saved %s\n", a.out);
done:
    cli_io_free(&io);
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
    return status;
}

static const char graph_usage[] =
    "yolopr graph MODEL [-v] [--dot OUT.dot] [--lanes N [--size S]]";

int cmd_graph(int argc, char **argv)
{
    const char *model_path = NULL, *dot = NULL;
    int verbose = 0, lanes = 0, size = 640;
    const cli_opt opts[] = {
        CLI_O_STR("--dot", &dot),
        CLI_O_FLAG("-v", &verbose),
        CLI_O_INT("--lanes", &lanes, 1, 4096),
        CLI_O_SIZE("--size", &size),
        CLI_O_END,
    };
    int rc = cli_parse("graph", graph_usage, opts, argc, argv, &model_path, 1, NULL, "MODEL");
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    cli_io io;
    cli_io_init(&io, "graph");
    int odot = -1;
    int status = cli_io_input(&io, model_path);
    if (!status && dot && (odot = cli_io_output(&io, "--dot", dot)) < 0)
        status = 1;
    if (!status)
        status = cli_io_prepare(&io);
    ypr_model *m = NULL;
    ypr_depgraph *g = NULL;
    if (!status && (rc = ypr_model_load(model_path, &m)) < 0)
        status = cli_fail(model_path, rc);
    if (!status && (rc = ypr_depgraph_build(m, &g)) < 0)
        status = cli_fail("depgraph", rc);
    char *text;
    if (!status && (rc = ypr_depgraph_describe(g, -1, &text)) < 0)
        status = cli_fail("describe", rc);
    else if (!status) {
        const char *nl = strchr(text, '\n');
        if (verbose || !nl)
            fputs(text, stdout);
        else
            printf("%.*s", (int)(nl - text + 1), text);
        ypr_free(text);
    }
    if (!status && lanes && (rc = ypr_depgraph_lane_report(g, lanes, size, &text)) < 0)
        status = cli_fail("--lanes", rc);
    else if (!status && lanes) {
        fputs(text, stdout);
        ypr_free(text);
    }
    if (!status && dot && (rc = ypr_depgraph_dot(g, &text)) < 0)
        status = cli_fail("--dot", rc);
    else if (!status && dot) {
        status = cli_io_write_text(&io, odot, text);
        ypr_free(text);
    }
    if (!status)
        status = cli_io_commit(&io);
    cli_io_free(&io);
    ypr_depgraph_free(g);
    ypr_model_free(m);
    return status;
}
