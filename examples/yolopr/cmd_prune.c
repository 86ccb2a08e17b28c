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

static int save_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "yolopr: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static const char prune_usage[] =
    "yolopr prune MODEL [--weights W] [--nc N] --ratio R | --target-macs GMACS | --target-params M\n"
    "       [--importance l1|l2|lamp|bn|fpgm|random]\n"
    "       [--global] [--max-layer-ratio R] [--round-to N] [--clamp-widths] [--steps K]\n"
    "       [--ignore PATTERN]...\n"
    "       [--layer-ratio PATTERN=R]... [--size N] [--report OUT.json] [--plot OUT.png] [--time]\n"
    "       [--yolov7 PREFIX]   (also PREFIX.yaml + PREFIX.safetensors for YOLOv7's code)\n"
    "       -o OUT.safetensors";

int cmd_prune(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL, *report = NULL, *weights = NULL, *plot = NULL;
    const char *yolov7 = NULL;
    const char *ignore[64], *layer_ratio[64];
    int nignore = 0, nlr = 0, global = 0, round_to = 1, steps = 1, timeit = 0, size = 640, nc = 0;
    int crit = 2, clamp = 0;
    double ratio = -1, max_layer = 1.0, target_gmacs = 0, target_mparams = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--ratio") == 0 && more) ratio = atof(argv[++i]);
        else if (strcmp(a, "--importance") == 0 && more) {
            const char *c = argv[++i];
            static const char *names[] = {"random", "l1", "l2", "lamp", "bn", "fpgm"};
            crit = -1;
            for (int k = 0; k < 6; k++)
                if (strcmp(c, names[k]) == 0)
                    crit = k;
            if (crit < 0) {
                fprintf(stderr, "yolopr prune: unknown importance '%s'\n", c);
                return 2;
            }
        } else if (strcmp(a, "--global") == 0) global = 1;
        else if (strcmp(a, "--clamp-widths") == 0) clamp = 1;
        else if (strcmp(a, "--target-macs") == 0 && more) target_gmacs = atof(argv[++i]);
        else if (strcmp(a, "--target-params") == 0 && more) target_mparams = atof(argv[++i]);
        else if (strcmp(a, "--max-layer-ratio") == 0 && more) max_layer = atof(argv[++i]);
        else if (strcmp(a, "--round-to") == 0 && more) round_to = atoi(argv[++i]);
        else if (strcmp(a, "--steps") == 0 && more) steps = atoi(argv[++i]);
        else if (strcmp(a, "--ignore") == 0 && more && nignore < 64) ignore[nignore++] = argv[++i];
        else if (strcmp(a, "--layer-ratio") == 0 && more && nlr < 64) layer_ratio[nlr++] = argv[++i];
        else if (strcmp(a, "--report") == 0 && more) report = argv[++i];
        else if (strcmp(a, "--plot") == 0 && more) plot = argv[++i];
        else if (strcmp(a, "--yolov7") == 0 && more) yolov7 = argv[++i];
        else if (strcmp(a, "--weights") == 0 && more) weights = argv[++i];
        else if (strcmp(a, "--size") == 0 && more) size = atoi(argv[++i]);
        else if (strcmp(a, "--nc") == 0 && more) nc = atoi(argv[++i]);
        else if (strcmp(a, "--time") == 0) timeit = 1;
        else if (strcmp(a, "-o") == 0 && more) out = argv[++i];
        else if (a[0] == '-') {
            fprintf(stderr, "unknown option '%s'\nusage: %s\n", a, prune_usage);
            return 2;
        } else if (!model_path) model_path = a;
        else {
            fprintf(stderr, "usage: %s\n", prune_usage);
            return 2;
        }
    }
    if (ratio < 0 && (target_gmacs > 0 || target_mparams > 0))
        ratio = 0.25;   /* unused: the budget decides */
    if (!model_path || ratio < 0) {
        fprintf(stderr, "usage: %s\n", prune_usage);
        return 2;
    }
    ypr_model *m = NULL;
    ypr_depgraph *g = NULL;
    ypr_pruner *p = NULL;
    int rc = nc ? ypr_model_from_cfg(model_path, nc, 0, 0, 0, &m) : ypr_model_load(model_path, &m);
    if (rc < 0)
        return cli_fail(model_path, rc);
    int status = 1;
    if (weights && (rc = ypr_model_load_weights(m, weights, 0)) < 0) {
        cli_fail(weights, rc);
        goto done;
    }
    double t0 = now();
    if ((rc = ypr_depgraph_build(m, &g)) < 0 || (rc = ypr_pruner_create(g, &p)) < 0 ||
        (rc = ypr_pruner_set_float(p, YPR_PRUNE_RATIO, ratio)) < 0 ||
        (rc = ypr_pruner_set_float(p, YPR_PRUNE_MAX_LAYER_RATIO, max_layer)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_CRITERION, crit)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_GLOBAL, global)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_CLAMP_WIDTHS, clamp)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_ROUND_TO, round_to)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_STEPS, steps)) < 0 ||
        (rc = ypr_pruner_set_int(p, YPR_PRUNE_REPORT_SIZE, size)) < 0 ||
        (target_gmacs > 0 &&
         (rc = ypr_pruner_set_int(p, YPR_PRUNE_TARGET_MACS, (int64_t)(target_gmacs * 1e9))) < 0) ||
        (target_mparams > 0 &&
         (rc = ypr_pruner_set_int(p, YPR_PRUNE_TARGET_PARAMS, (int64_t)(target_mparams * 1e6))) < 0)) {
        cli_fail("pruner", rc);
        goto done;
    }
    for (int i = 0; i < nignore; i++)
        if ((rc = ypr_pruner_ignore(p, ignore[i])) < 0 && rc != YPR_ENOTFOUND) {
            cli_fail(ignore[i], rc);
            goto done;
        } else if (rc == YPR_ENOTFOUND)
            fprintf(stderr, "yolopr prune: warning: --ignore %s matches no layer\n", ignore[i]);
    for (int i = 0; i < nlr; i++) {
        char pat[256];
        const char *eq = strrchr(layer_ratio[i], '=');
        if (!eq || (size_t)(eq - layer_ratio[i]) >= sizeof pat) {
            fprintf(stderr, "yolopr prune: --layer-ratio PATTERN=R\n");
            goto done;
        }
        memcpy(pat, layer_ratio[i], (size_t)(eq - layer_ratio[i]));
        pat[eq - layer_ratio[i]] = '\0';
        if ((rc = ypr_pruner_set_layer_ratio(p, pat, atof(eq + 1))) < 0) {
            cli_fail(layer_ratio[i], rc);
            goto done;
        }
    }
    for (int s = 0; s < steps; s++)
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
    if (timeit)
        printf("Time: %.1f ms to build the graph, score and prune (%d step%s)\n", (t1 - t0) * 1e3,
               steps, steps > 1 ? "s" : "");
    status = 0;
    if (report && ypr_pruner_report(p, &text, 1) == 0) {
        status |= save_text(report, text);
        ypr_free(text);
    }
    if (plot && (rc = ypr_pruner_plot(p, plot)) < 0)
        status = cli_fail(plot, rc);
    if (yolov7) {
        char y[1024], w[1024];
        snprintf(y, sizeof y, "%s.yaml", yolov7);
        snprintf(w, sizeof w, "%s.safetensors", yolov7);
        if ((rc = ypr_model_export_yolov7(m, y, w)) < 0)
            status = cli_fail("--yolov7", rc);
        else
            printf("wrote %s and %s for YOLOv7's own code\n", y, w);
    }
    if (out) {
        if ((rc = ypr_model_save(m, out)) < 0)
            status = cli_fail(out, rc);
        else
            printf("saved %s\n", out);
    }
done:
    ypr_pruner_free(p);
    ypr_depgraph_free(g);
    ypr_model_free(m);
    return status;
}

int cmd_graph(int argc, char **argv)
{
    const char *model_path = NULL, *dot = NULL;
    int verbose = 0, lanes = 0, size = 640;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dot") == 0 && i + 1 < argc) dot = argv[++i];
        else if (strcmp(argv[i], "-v") == 0) verbose = 1;
        else if (strcmp(argv[i], "--lanes") == 0 && i + 1 < argc) lanes = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) size = atoi(argv[++i]);
        else if (!model_path && argv[i][0] != '-') model_path = argv[i];
        else {
            fprintf(stderr, "usage: yolopr graph MODEL [-v] [--dot OUT.dot] [--lanes N [--size S]]\n");
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "usage: yolopr graph MODEL [-v] [--dot OUT.dot]\n");
        return 2;
    }
    ypr_model *m;
    ypr_depgraph *g;
    int rc = ypr_model_load(model_path, &m);
    if (rc < 0)
        return cli_fail(model_path, rc);
    if ((rc = ypr_depgraph_build(m, &g)) < 0) {
        ypr_model_free(m);
        return cli_fail("depgraph", rc);
    }
    char *text;
    int status = 0;
    if ((rc = ypr_depgraph_describe(g, -1, &text)) == 0) {
        if (verbose)
            fputs(text, stdout);
        else
            printf("%.*s", (int)(strchr(text, '\n') - text + 1), text);
        ypr_free(text);
    } else
        status = cli_fail("describe", rc);
    if (lanes && (rc = ypr_depgraph_lane_report(g, lanes, size, &text)) == 0) {
        fputs(text, stdout);
        ypr_free(text);
    } else if (lanes)
        status = cli_fail("lanes", rc);
    if (dot && (rc = ypr_depgraph_dot(g, &text)) == 0) {
        status |= save_text(dot, text);
        ypr_free(text);
    }
    ypr_depgraph_free(g);
    ypr_model_free(m);
    return status;
}
