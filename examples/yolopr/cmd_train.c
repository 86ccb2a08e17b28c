/* yolopr train: train or fine-tune a model through the public API. Progress
 * on stdout (one updating line per epoch on a terminal, plain lines
 * otherwise), an evaluation line after each epoch, checkpoints and
 * results.csv in a project folder, the final EMA model saved atomically to
 * -o. Ctrl-C cancels through the trainer's callback: exit 1, checkpoints
 * left in place. Pruning while training reuses yolopr prune's knobs. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char train_usage[] =
    "yolopr train MODEL --data DATA.yaml|synth[:COUNT[:SIZE[:CLASSES]]] --epochs N\n"
    "       [--batch B] [--size S] [--hyp FILE|p5|tiny] [--loss ota|simple] [--workers W]\n"
    "       [--seed S] [--threads T] [--teacher MODEL [--distill W]]\n"
    "       [--sparsity bn|group [--reg L]]\n"
    "       [--prune-steps K] [--target-macs G | --target-params M | --prune-ratio R]\n"
    "       [--prune-every E] [--importance lamp|l1|l2|bn|fpgm|random|taylor] [--global]\n"
    "       [--round-to N] [--max-layer-ratio R] [--clamp-widths] [--ignore PATTERN]...\n"
    "       [--layer-ratio PATTERN=R]... [--freeze K] [--no-augment] [--linear-lr]\n"
    "       [--eval-images N] [--no-eval] [--log-every N]\n"
    "       -o OUT.safetensors [--project DIR] [--exist-ok]\n"
    "       yolopr train --resume DIR/last.safetensors --data DATA -o OUT.safetensors [...]";

/* Options that are not given keep the library's defaults: -1 marks them. */
typedef struct train_args {
    const char *model, *data, *hyp, *resume, *teacher, *out, *project;
    int epochs, batch, size, workers, seed, threads, loss, sparsity, prune_steps, prune_every;
    int freeze, no_augment, linear_lr, eval_images, no_eval, log_every, exist_ok;
    double distill, reg, prune_ratio;
    int synth, synth_count, synth_size, synth_classes;   /* --data synth[:…] */
    int prune;   /* pruning while training was asked for */
    cli_prune k;
    char project_buf[4096];
} train_args;

enum { HYP_P5 = 0, HYP_TINY = 1 };   /* ypr_hyp_preset */

/* ------------------------------------------------------------- options */

/* --data synth[:COUNT[:SIZE[:CLASSES]]] (cli_parse_synth): 1, 0 or CLI_USAGE. */
static int parse_synth(train_args *a)
{
    int v[3];
    int rc = cli_parse_synth("train", a->data, a->size, v);
    if (rc == 1) {
        a->synth = 1;
        a->synth_count = v[0];
        a->synth_size = v[1];
        a->synth_classes = v[2];
    }
    return rc;
}

/* The first option given that --resume does not take (the checkpoint holds
 * the run's settings and hyper-parameters), or NULL. */
static const char *resume_conflict(const train_args *a)
{
    const cli_prune *k = &a->k;
    const struct { int given; const char *name; } opt[] = {
        {a->epochs >= 0, "--epochs"}, {a->batch >= 0, "--batch"}, {a->size >= 0, "--size"},
        {a->hyp != NULL, "--hyp"}, {a->loss >= 0, "--loss"}, {a->seed >= 0, "--seed"},
        {a->sparsity >= 0, "--sparsity"}, {a->reg >= 0, "--reg"},
        {a->distill >= 0, "--distill"}, {a->freeze >= 0, "--freeze"},
        {a->no_augment, "--no-augment"}, {a->linear_lr, "--linear-lr"},
        {a->prune_steps >= 0, "--prune-steps"}, {a->prune_every >= 0, "--prune-every"},
        {a->prune_ratio >= 0, "--prune-ratio"}, {k->target_gmacs > 0, "--target-macs"},
        {k->target_mparams > 0, "--target-params"}, {a->model != NULL, "MODEL"},
    };
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (opt[i].given)
            return opt[i].name;
    return NULL;
}

/* A pruner knob given without pruning or sparse training, or NULL. */
static const char *idle_pruner_knob(const train_args *a)
{
    const cli_prune *k = &a->k;
    if (a->prune || a->sparsity >= 0)
        return NULL;
    return k->crit >= 0 ? "--importance" : k->global ? "--global" : k->clamp ? "--clamp-widths"
         : k->max_layer != 1.0 ? "--max-layer-ratio" : k->round_to != 1 ? "--round-to"
         : k->nignore ? "--ignore" : k->nlr ? "--layer-ratio" : a->prune_every >= 0
         ? "--prune-every" : NULL;
}

static int usage_error(const char *why)
{
    fprintf(stderr, "yolopr train: %s\nusage: %s\n", why, train_usage);
    return CLI_USAGE;
}

/* The run's rules beyond single values. Returns 0 or CLI_USAGE (printed). */
static int check_args(train_args *a)
{
    static char why[512];
    cli_prune *k = &a->k;
    int targets = (a->prune_ratio >= 0) + (k->target_gmacs > 0) + (k->target_mparams > 0);
    a->prune = a->prune_steps >= 0 || targets > 0;
    if (a->prune_steps >= 0)
        k->steps = a->prune_steps;
    const char *c;
    if (!a->model && !a->resume)
        return usage_error("no MODEL (or --resume CKPT) given");
    if (a->resume && (c = resume_conflict(a))) {
        snprintf(why, sizeof why, "--resume continues a run with the checkpoint's own model, "
                 "settings and hyper-parameters: drop %s", c);
        return usage_error(why);
    }
    if (!a->data)
        return usage_error("no --data DATA.yaml (or --data synth) given");
    if (!a->resume && a->epochs < 0)
        return usage_error("no --epochs N given");
    if (!a->out)
        return usage_error("the trained model would be discarded: give -o OUT.safetensors");
    if (a->prune && targets != 1)
        return usage_error(targets ? "give one of --target-macs, --target-params and "
                                     "--prune-ratio"
                                   : "--prune-steps needs a budget: --target-macs G, "
                                     "--target-params M or --prune-ratio R");
    if (a->prune && a->epochs >= 0 &&
        (int64_t)k->steps * (a->prune_every > 0 ? a->prune_every : 1) >= a->epochs) {
        snprintf(why, sizeof why, "%d pruning step(s) every %d epoch(s) need more than %d epochs "
                 "(the last step is followed by fine-tuning)", k->steps,
                 a->prune_every > 0 ? a->prune_every : 1, a->epochs);
        return usage_error(why);
    }
    if (a->reg >= 0 && a->sparsity < 0)
        return usage_error("--reg sets the --sparsity regularizer's strength: give --sparsity "
                           "bn|group too");
    if (a->distill >= 0 && !a->teacher)
        return usage_error("--distill weighs the teacher's term: give --teacher MODEL too");
    if (!a->resume && (c = idle_pruner_knob(a))) {
        snprintf(why, sizeof why, "%s only applies when pruning while training (--prune-steps, "
                 "--target-macs, --target-params, --prune-ratio) or with --sparsity", c);
        return usage_error(why);
    }
    if (a->no_eval && a->eval_images >= 0)
        return usage_error("--eval-images with --no-eval: drop one");
    int rc = parse_synth(a);
    if (rc == CLI_USAGE)
        return rc;
    if (k->crit < 0)
        k->crit = YPR_CRITERION_LAMP;
    if (a->prune_ratio >= 0)
        k->ratio = a->prune_ratio;
    else
        k->ratio = 0.25;   /* unused: the budget decides */
    return cli_prune_layer_ratios("train", k);
}

static int parse_train(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    cli_prune *k = &a->k;
    cli_prune_init(k);
    k->crit = -1;
    a->epochs = a->batch = a->size = a->workers = a->seed = a->threads = -1;
    a->loss = a->sparsity = a->prune_steps = a->prune_every = a->freeze = a->eval_images = -1;
    a->distill = a->reg = a->prune_ratio = -1;
    a->log_every = 10;
    static const char *const losses[] = {"simple", "ota", NULL};   /* = ypr_train_loss */
    static const char *const regs[] = {"bn", "group", NULL};       /* = ypr_regularizer */
    cli_opt opts[CLI_PRUNE_ROWS + 40];
    int n = cli_prune_rows(k, opts, 1);
    const cli_opt own[] = {
        CLI_O_CHOICE("--criterion", &k->crit, (const char *const *)opts[0].choices),
        CLI_O_STR("--data", &a->data),
        CLI_O_INT("--epochs", &a->epochs, 1, 100000),
        CLI_O_INT("--batch", &a->batch, 1, 1024),
        CLI_O_SIZE("--size", &a->size),
        CLI_O_STR("--hyp", &a->hyp),
        CLI_O_CHOICE("--loss", &a->loss, losses),
        CLI_O_INT("--workers", &a->workers, 1, 64),
        CLI_O_INT("--seed", &a->seed, 0, 2147483647),
        CLI_O_INT("--threads", &a->threads, 1, 1024),
        CLI_O_STR("--resume", &a->resume),
        CLI_O_STR("--teacher", &a->teacher),
        CLI_O_REAL("--distill", &a->distill, 0, 1e6, 0),
        CLI_O_CHOICE("--sparsity", &a->sparsity, regs),
        CLI_O_REAL("--reg", &a->reg, 0, 1e6, 0),
        CLI_O_INT("--prune-steps", &a->prune_steps, 1, 1000),
        CLI_O_REAL("--prune-ratio", &a->prune_ratio, 0, 1, CLI_OPEN_HI),
        CLI_O_REAL("--target-macs", &k->target_gmacs, 0, 1e6, CLI_OPEN_LO),
        CLI_O_REAL("--target-params", &k->target_mparams, 0, 1e6, CLI_OPEN_LO),
        CLI_O_INT("--prune-every", &a->prune_every, 1, 100000),
        CLI_O_INT("--freeze", &a->freeze, 0, 100000),
        CLI_O_FLAG("--no-augment", &a->no_augment),
        CLI_O_FLAG("--linear-lr", &a->linear_lr),
        CLI_O_INT("--eval-images", &a->eval_images, 0, 1000000000),
        CLI_O_FLAG("--no-eval", &a->no_eval),
        CLI_O_INT("--log-every", &a->log_every, 1, 1000000),
        CLI_O_STR("-o", &a->out),
        CLI_O_STR("--project", &a->project),
        CLI_O_FLAG("--exist-ok", &a->exist_ok),
        CLI_O_END,
    };
    memcpy(opts + n, own, sizeof own);
    int rc = cli_parse("train", train_usage, opts, argc, argv, &a->model, 1, NULL, NULL);
    return rc ? rc : check_args(a);
}

/* ----------------------------------------------------------- the files */

static const char *const run_files[] = {"last.safetensors", "best.safetensors", "results.csv",
                                        "results.png", NULL};

/* The default project folder: the -o file's folder / train-<stem>; for
 * --resume, the checkpoint's folder. */
static int default_project(train_args *a)
{
    if (a->project)
        return 0;
    const char *src = a->resume ? a->resume : a->out;
    const char *sl = strrchr(src, '/');
    int dlen = sl ? (sl == src ? 1 : (int)(sl - src)) : 1;
    const char *dir = sl ? src : ".";
    size_t n;
    if (a->resume) {
        n = (size_t)snprintf(a->project_buf, sizeof a->project_buf, "%.*s", dlen, dir);
    } else {
        const char *base = sl ? sl + 1 : src;
        const char *dot = strrchr(base, '.');
        int blen = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
        n = (size_t)snprintf(a->project_buf, sizeof a->project_buf, "%.*s/train-%.*s", dlen, dir,
                             blen, base);
    }
    if (n >= sizeof a->project_buf) {
        fprintf(stderr, "yolopr train: -o path too long\n");
        return CLI_USAGE;
    }
    a->project = a->project_buf;
    return 0;
}

/* The folders a dataset's images and labels live in: inputs whose listing
 * the trainer reads (no output may land there). */
static int data_dirs(cli_io *io, const ypr_dataset *ds)
{
    char dir[4096], last[4096] = "";
    for (int i = 0; ds && i < ypr_dataset_count(ds); i++) {
        const char *img = ypr_dataset_image_path(ds, i);
        const char *sl = img ? strrchr(img, '/') : NULL;
        if (!img || !*img)
            continue;   /* synthetic */
        snprintf(dir, sizeof dir, "%.*s", !sl ? 1 : sl == img ? 1 : (int)(sl - img),
                 sl ? img : ".");
        if (strcmp(dir, last) == 0)
            continue;
        snprintf(last, sizeof last, "%s", dir);
        if (cli_io_input_dir(io, dir))
            return 1;
        /* images/… → labels/…, JPEGImages → Annotations */
        static const char *const swap[2][2] = {{"images", "labels"}, {"JPEGImages", "Annotations"}};
        for (int s = 0; s < 2; s++) {
            char *hit = NULL;
            size_t lf = strlen(swap[s][0]);
            for (char *p = strstr(dir, swap[s][0]); p; p = strstr(p + 1, swap[s][0]))
                if ((p == dir || p[-1] == '/') && (p[lf] == '/' || p[lf] == '\0'))
                    hit = p;
            if (!hit)
                continue;
            char other[4096];
            snprintf(other, sizeof other, "%.*s%s%s", (int)(hit - dir), dir, swap[s][1],
                     hit + lf);
            if (cli_io_input_dir(io, other))
                return 1;
        }
    }
    return 0;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The project folder is written while training runs (checkpoints survive a
 * failure), so it is not staged; it is checked here instead: a folder or a
 * new name in an existing folder, not an input folder, none of its run
 * files an input or -o, and no earlier run's files unless --resume (which
 * continues it) or --exist-ok. Returns 0 or CLI_USAGE (printed). */
static int check_project(const cli_io *io, const train_args *a)
{
    struct stat st;
    const char *dir = a->project;
    char path[4200];
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "yolopr train: refusing to write --project %s: it exists and is not a "
                "folder\n", dir);
        return CLI_USAGE;
    }
    int exists = stat(dir, &st) == 0;
    for (int i = 0; i < io->ndirs; i++)
        if (exists && io->dirs[i].dev == st.st_dev && io->dirs[i].ino == st.st_ino) {
            fprintf(stderr, "yolopr train: refusing to write --project %s: it is the input "
                    "folder %s\n", dir, io->dirs[i].path);
            return CLI_USAGE;
        }
    if (!exists) {
        const char *sl = strrchr(dir, '/');
        snprintf(path, sizeof path, "%.*s", sl ? (sl == dir ? 1 : (int)(sl - dir)) : 1,
                 sl ? dir : ".");
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "yolopr train: refusing to write --project %s: its folder does not "
                    "exist\n", dir);
            return CLI_USAGE;
        }
        return 0;
    }
    const char *earlier = NULL;
    for (int k = 0; run_files[k]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, run_files[k]);
        if (stat(path, &st) != 0)
            continue;
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "yolopr train: refusing to write --project %s: %s is not a regular "
                    "file\n", dir, path);
            return CLI_USAGE;
        }
        int resumed = a->resume && same_file(path, a->resume);
        for (int i = 0; !resumed && i < io->nin; i++)
            if (io->in[i].dev == st.st_dev && io->in[i].ino == st.st_ino) {
                fprintf(stderr, "yolopr train: refusing to write --project %s: %s is the input "
                        "%s\n", dir, path, io->in[i].path);
                return CLI_USAGE;
            }
        if (same_file(path, a->out)) {
            fprintf(stderr, "yolopr train: refusing to write -o %s: it is the run's own %s\n",
                    a->out, path);
            return CLI_USAGE;
        }
        if (!earlier && !resumed)
            earlier = run_files[k];
    }
    /* -o as a new name inside the project, spelled as one of its files */
    const char *base = strrchr(a->out, '/');
    base = base ? base + 1 : a->out;
    snprintf(path, sizeof path, "%.*s", (int)(base - a->out) ? (int)(base - a->out) : 1,
             (base - a->out) ? a->out : ".");
    for (int k = 0; run_files[k]; k++)
        if (strcmp(base, run_files[k]) == 0 && same_file(path, dir)) {
            fprintf(stderr, "yolopr train: refusing to write -o %s: the run writes its own %s "
                    "there\n", a->out, run_files[k]);
            return CLI_USAGE;
        }
    if (earlier && !a->resume && !a->exist_ok) {
        fprintf(stderr, "yolopr train: --project %s holds an earlier run (%s): continue it with "
                "--resume %s/last.safetensors, choose another --project, or give --exist-ok to "
                "write over it\n", dir, earlier, dir);
        return CLI_USAGE;
    }
    return 0;
}

/* Every file train reads, the project folder and -o, checked before any
 * work (the resume checkpoint may be the project's last.safetensors: the run
 * continues there). Returns 0, 1 or CLI_USAGE (printed). */
static int train_files(cli_io *io, const train_args *a, const ypr_dataset *const ds[2],
                       int *out)
{
    const char *hyp_file =
        a->hyp && strcmp(a->hyp, "p5") != 0 && strcmp(a->hyp, "tiny") != 0 ? a->hyp : NULL;
    if (cli_io_input(io, a->model) || cli_io_input(io, a->teacher) ||
        cli_io_input(io, hyp_file) || cli_io_input(io, a->synth ? NULL : a->data) ||
        data_dirs(io, ds[0]) || data_dirs(io, ds[1]))
        return 1;
    if (cli_io_input(io, a->resume) || (*out = cli_io_output(io, "-o", a->out)) < 0)
        return 1;
    int rc = cli_io_prepare(io);
    return rc ? rc : check_project(io, a);
}

/* ------------------------------------------------------------ datasets */

static int report_skipped(const char *what, const ypr_dataset *ds)
{
    int skipped = ypr_dataset_num_skipped(ds);
    if (ypr_dataset_count(ds) == 0) {
        fprintf(stderr, "yolopr train: %s: no image left (%d skipped, see the warnings above)\n",
                what, skipped);
        return 1;
    }
    if (skipped)
        fprintf(stderr, "yolopr train: %s: %d image(s) skipped: %d with image problems, %d with "
                "label problems (see the warnings above)\n", what, skipped,
                ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_IMAGE),
                ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_LABELS));
    return 0;
}

/* ds[0] the training set, ds[1] the validation set (NULL with --no-eval).
 * The synthetic validation set is drawn with another seed. */
static int open_data(const train_args *a, ypr_dataset *ds[2])
{
    int rc;
    if (a->synth) {
        int nval = a->synth_count / 4 > 0 ? a->synth_count / 4 : 1;
        if ((rc = ypr_dataset_synth(a->synth_count, a->synth_size, a->synth_classes, 1,
                                    &ds[0])) < 0 ||
            (!a->no_eval && (rc = ypr_dataset_synth(nval, a->synth_size, a->synth_classes, 2,
                                                    &ds[1])) < 0))
            return cli_fail("--data synth", rc);
        return 0;
    }
    if ((rc = ypr_dataset_open(a->data, "train", YPR_DATASET_SKIP, &ds[0])) < 0)
        return cli_fail(a->data, rc);
    if (report_skipped("train", ds[0]))
        return 1;
    if (a->no_eval)
        return 0;
    if ((rc = ypr_dataset_open(a->data, "val", YPR_DATASET_SKIP, &ds[1])) < 0)
        return cli_fail(a->data, rc);
    return report_skipped("val", ds[1]);
}

/* A checkpoint loads as is; a cfg or built-in name is built with the
 * dataset's class count. */
static int load_model(const char *path, int nc, ypr_model **m)
{
    int checkpoint = cli_is_checkpoint(path);
    int rc = checkpoint ? ypr_model_load(path, m) : ypr_model_from_cfg(path, nc, 0, 0, 0, m);
    return rc < 0 ? cli_fail(path, rc) : 0;
}

/* ------------------------------------------------------------ progress */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Resident memory of the process in GB (0 where /proc is absent). */
static double rss_gb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e9;
}

typedef struct progress {
    ypr_trainer *t;
    const ypr_model *m;
    int64_t params;   /* of the model at the last epoch start: pruning shows */
    int tty, log_every, batch, size;
    int epoch;        /* of the line on screen; -1 before the first batch */
    int shown;        /* completed epochs whose results were printed */
    double t0;        /* start of the epoch's first batch */
} progress;

static void print_header(void)
{
    printf("\n%10s%10s%10s%10s%10s%10s%10s%10s%14s\n", "Epoch", "mem", "box", "obj", "cls",
           "total", "lr", "img_size", "batches");
}

/* The evaluation line of a completed epoch from its values @p v (indexed
 * by ypr_train_value). */
static void print_values(int e, const double *v)
{
    if (!isnan(v[YPR_TV_MAP50])) {   /* NaN: the epoch was not evaluated */
        printf("%20s%12s%12s%12s%12s\n", "Class", "P", "R", "mAP@.5", "mAP@.5:.95");
        printf("%20s%12.3g%12.3g%12.3g%12.3g\n", "all", v[YPR_TV_P], v[YPR_TV_R],
               v[YPR_TV_MAP50], v[YPR_TV_MAP]);
    }
    printf("epoch %d done in %.1f s (loss %.4g", e, v[YPR_TV_SECONDS], v[YPR_TV_TOTAL]);
    if (!isnan(v[YPR_TV_FITNESS]))
        printf(", fitness %.4g", v[YPR_TV_FITNESS]);
    printf(")\n");
}

/* Results of the epochs completed but not yet shown (the trainer reports
 * each epoch's results through the callback; this catches any it did not). */
static void flush_results(progress *p)
{
    int done = ypr_trainer_epochs_done(p->t);
    for (; p->shown < done; p->shown++) {
        double v[YPR_TV_COUNT_];
        for (int k = 0; k < YPR_TV_COUNT_; k++)
            if (ypr_trainer_result(p->t, p->shown, k, &v[k]) < 0)
                v[k] = NAN;
        print_values(p->shown, v);
    }
    fflush(stdout);
}

/* Called after each batch (iter 0 … iters-1) and once more after the epoch
 * (iter == iters) with the epoch's results. */
static int on_batch(void *user, int epoch, int epochs, int iter, int iters, const double *v)
{
    progress *p = user;
    if (iter >= iters) {
        if (p->tty)
            putchar('\n');   /* end the updating line */
        if (p->shown <= epoch) {
            print_values(epoch, v);
            p->shown = epoch + 1;
        }
        fflush(stdout);
        return interrupted != 0;
    }
    if (epoch != p->epoch) {
        flush_results(p);
        int64_t params = ypr_model_num_params(p->m);
        if (params != p->params)
            printf("pruned before epoch %d: %lld => %lld parameters\n", epoch,
                   (long long)p->params, (long long)params);
        p->params = params;
        print_header();
        p->epoch = epoch;
        p->t0 = now();
    }
    char ep[32], mem[32], it[32];
    snprintf(ep, sizeof ep, "%d/%d", epoch, epochs - 1);
    snprintf(mem, sizeof mem, "%.3gG", rss_gb());
    snprintf(it, sizeof it, "%d/%d", iter + 1, iters);
    double its = v[YPR_TV_IMAGES_PER_SEC] / (p->batch > 0 ? p->batch : 1);
    if (p->tty || iter + 1 == iters || (iter + 1) % p->log_every == 0) {
        printf("%s%10s%10s%10.4g%10.4g%10.4g%10.4g%10.3g%10d%14s  %.0fs, %.2f it/s%s",
               p->tty ? "\r" : "", ep, mem, v[YPR_TV_BOX], v[YPR_TV_OBJ], v[YPR_TV_CLS],
               v[YPR_TV_TOTAL], v[YPR_TV_LR], p->size, it, now() - p->t0, its,
               p->tty ? "\033[K" : "\n");
        fflush(stdout);
    }
    return interrupted != 0;
}

/* ------------------------------------------------------------- setup */

static int set_int(ypr_trainer *t, int key, int64_t v, const char *opt)
{
    int rc = ypr_trainer_set_int(t, key, v);
    return rc < 0 ? cli_fail(opt, rc) : 0;
}

/* Push every option given into the trainer (the rest keep the library's
 * defaults). Hyper-parameters first: a preset resets them, --loss overrides
 * the hyp's loss_ota. */
static int configure(ypr_trainer *t, const train_args *a, int size)
{
    int rc;
    if (a->hyp && (strcmp(a->hyp, "p5") == 0 || strcmp(a->hyp, "tiny") == 0)) {
        if (set_int(t, YPR_TRAIN_HYP_PRESET, a->hyp[0] == 'p' ? HYP_P5 : HYP_TINY, "--hyp"))
            return 1;
    } else if (a->hyp && (rc = ypr_trainer_load_hyp(t, a->hyp)) < 0)
        return cli_fail(a->hyp, rc);
    const struct { int given; int key; int64_t v; const char *opt; } ints[] = {
        {a->loss >= 0, YPR_TRAIN_LOSS, a->loss, "--loss"},
        {a->epochs >= 0, YPR_TRAIN_EPOCHS, a->epochs, "--epochs"},
        {a->batch >= 0, YPR_TRAIN_BATCH, a->batch, "--batch"},
        {1, YPR_TRAIN_SIZE, size, "--size"},
        {a->workers >= 0, YPR_TRAIN_WORKERS, a->workers, "--workers"},
        {a->seed >= 0, YPR_TRAIN_SEED, a->seed, "--seed"},
        {a->linear_lr, YPR_TRAIN_LINEAR_LR, 1, "--linear-lr"},
        {a->no_eval, YPR_TRAIN_EVAL, 0, "--no-eval"},
        {a->freeze >= 0, YPR_TRAIN_FREEZE, a->freeze, "--freeze"},
        {a->no_augment, YPR_TRAIN_AUGMENT, 0, "--no-augment"},
        {a->eval_images >= 0, YPR_TRAIN_EVAL_IMAGES, a->eval_images, "--eval-images"},
        {a->sparsity >= 0, YPR_TRAIN_SPARSITY, a->sparsity, "--sparsity"},
        {a->prune, YPR_TRAIN_PRUNE_STEPS, a->k.steps, "--prune-steps"},
        {a->prune_every >= 0, YPR_TRAIN_PRUNE_EVERY, a->prune_every, "--prune-every"},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].given && set_int(t, ints[i].key, ints[i].v, ints[i].opt))
            return 1;
    if (a->reg >= 0 && (rc = ypr_trainer_set_float(t, YPR_TRAIN_SPARSITY_LAMBDA, a->reg)) < 0)
        return cli_fail("--reg", rc);
    return 0;
}

typedef struct run {
    ypr_dataset *ds[2];
    ypr_model *m, *teacher;
    ypr_depgraph *g;
    ypr_pruner *p;
    ypr_trainer *t;
} run;

static void run_free(run *r)
{
    ypr_trainer_free(r->t);
    ypr_pruner_free(r->p);
    ypr_depgraph_free(r->g);
    ypr_model_free(r->teacher);
    ypr_model_free(r->m);
    ypr_dataset_free(r->ds[0]);
    ypr_dataset_free(r->ds[1]);
}

/* The trainer with its teacher, pruner and settings; *size gets the
 * training size. Returns 0 or 1 (printed). */
static int build(run *r, train_args *a, int *size)
{
    int rc, nc = ypr_dataset_num_classes(r->ds[0]);
    if (load_model(a->resume ? a->resume : a->model, nc, &r->m))
        return 1;
    if (a->threads > 0 && (rc = ypr_model_set_threads(r->m, a->threads)) < 0)
        return cli_fail("--threads", rc);
    int64_t s = 0;
    if (a->size > 0)
        s = a->size;
    else if ((rc = ypr_model_get_int(r->m, YPR_MODEL_INPUT_SIZE, &s)) < 0)
        return cli_fail("input size", rc);
    *size = (int)s;
    if ((rc = ypr_trainer_create(r->m, r->ds[0], r->ds[1], &r->t)) < 0)
        return cli_fail("trainer", rc);
    if (a->teacher) {
        if (load_model(a->teacher, nc, &r->teacher))
            return 1;
        if ((rc = ypr_trainer_set_teacher(r->t, r->teacher)) < 0)
            return cli_fail("--teacher", rc);
        if (a->distill >= 0 && (rc = ypr_trainer_set_float(r->t, YPR_TRAIN_DISTILL,
                                                            a->distill)) < 0)
            return cli_fail("--distill", rc);
    }
    if (a->resume) {
        int64_t steps = 0, epochs = 0, sparsity = -1;
        if ((rc = ypr_trainer_resume(r->t, a->resume)) < 0)
            return cli_fail(a->resume, rc);
        ypr_trainer_get_int(r->t, YPR_TRAIN_SIZE, &s);
        ypr_trainer_get_int(r->t, YPR_TRAIN_EPOCHS, &epochs);
        ypr_trainer_get_int(r->t, YPR_TRAIN_PRUNE_STEPS, &steps);
        ypr_trainer_get_int(r->t, YPR_TRAIN_SPARSITY, &sparsity);
        *size = (int)s;
        if (ypr_trainer_epochs_done(r->t) >= epochs) {
            fprintf(stderr, "yolopr train: %s: the run is complete (%lld of %lld epochs): "
                    "nothing to resume\n", a->resume, (long long)epochs, (long long)epochs);
            return 1;
        }
        /* pruning steps or sparse training: a pruner on the model as it is now;
         * its settings, progress and gradients come from the checkpoint */
        if ((steps > 0 || sparsity >= 0) &&
            ((rc = ypr_depgraph_build(r->m, &r->g)) < 0 ||
             (rc = ypr_pruner_create(r->g, &r->p)) < 0 ||
             (rc = ypr_trainer_set_pruner(r->t, r->p)) < 0))
            return cli_fail("pruner", rc);
        return 0;
    }
    if (configure(r->t, a, *size))
        return 1;
    if (a->prune || a->sparsity >= 0) {
        a->k.size = *size;   /* MAC targets count at the training size */
        if ((rc = ypr_depgraph_build(r->m, &r->g)) < 0 || (rc = ypr_pruner_create(r->g, &r->p)) < 0)
            return cli_fail("pruner", rc);
        if (cli_prune_configure(r->p, &a->k))
            return 1;
        if ((rc = ypr_trainer_set_pruner(r->t, r->p)) < 0)
            return cli_fail("pruner", rc);
    }
    return 0;
}

/* Run the epochs with progress and Ctrl-C handling. Returns 0 or 1 (printed). */
static int train(run *r, const train_args *a, int size)
{
    int64_t epochs = 0, batch = 0;
    ypr_trainer_get_int(r->t, YPR_TRAIN_EPOCHS, &epochs);
    ypr_trainer_get_int(r->t, YPR_TRAIN_BATCH, &batch);
    int start = ypr_trainer_epochs_done(r->t);
    printf("train: %s, %lld parameters, %d classes; %d training images, %d validation; "
           "size %d, batch %lld, epochs %d..%lld; project %s\n",
           a->resume ? a->resume : a->model, (long long)ypr_model_num_params(r->m),
           ypr_model_num_classes(r->m), ypr_dataset_count(r->ds[0]),
           r->ds[1] ? ypr_dataset_count(r->ds[1]) : 0, size, (long long)batch,
           start > 0 ? start : 0, (long long)epochs - 1, a->project);
    progress p = {.t = r->t, .m = r->m, .params = ypr_model_num_params(r->m), .tty = isatty(STDOUT_FILENO), .log_every = a->log_every,
                  .batch = (int)batch, .size = size, .epoch = -1, .shown = start > 0 ? start : 0};
    int rc = ypr_trainer_set_callback(r->t, on_batch, &p);
    if (rc < 0)
        return cli_fail("callback", rc);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;   /* a second Ctrl-C ends the process at once */
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    double t0 = now();
    rc = ypr_trainer_run(r->t);
    sigaction(SIGINT, &old, NULL);
    flush_results(&p);
    int done = ypr_trainer_epochs_done(r->t);
    if (rc == YPR_ECANCELED && interrupted && done > (start > 0 ? start : 0)) {
        fprintf(stderr, "yolopr train: interrupted after %d completed epoch(s); the checkpoints "
                "are in %s (continue with --resume %s/last.safetensors)\n", done, a->project,
                a->project);
        return 1;
    }
    if (rc == YPR_ECANCELED && interrupted) {
        fprintf(stderr, "yolopr train: interrupted before an epoch completed: nothing new to "
                "resume from%s%s\n", a->resume ? "; the checkpoint is still " : "",
                a->resume ? a->resume : "");
        return 1;
    }
    if (rc < 0) {
        cli_fail("train", rc);
        fprintf(stderr, "yolopr train: the checkpoints so far are in %s\n", a->project);
        return 1;
    }
    printf("%d epoch(s) completed in %.3f hours\n",
           ypr_trainer_epochs_done(r->t) - (start > 0 ? start : 0), (now() - t0) / 3600.0);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse_train(argc, argv, &a);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if ((rc = default_project(&a)))
        return rc;
    if (a.threads > 0)
        ypr_set_num_threads(a.threads);
    run r;
    memset(&r, 0, sizeof r);
    cli_io io;
    cli_io_init(&io, "train");
    int out = -1;
    int status = open_data(&a, r.ds);
    if (!status)
        status = train_files(&io, &a, (const ypr_dataset *const *)r.ds, &out);
    int size = 0;
    if (!status)
        status = build(&r, &a, &size);
    if (!status && (rc = ypr_trainer_set_output(r.t, a.project)) < 0)
        status = cli_fail(a.project, rc);
    if (!status)
        status = train(&r, &a, size);
    if (!status && r.p) {
        char *text;
        if ((rc = ypr_pruner_report(r.p, &text, 0)) < 0)
            status = cli_fail("pruner report", rc);
        else {
            fputs(text, stdout);
            ypr_free(text);
        }
    }
    if (!status && (rc = ypr_model_save(r.m, io.out[out].stage)) < 0)
        status = cli_fail(a.out, rc);
    if (!status && !(status = cli_io_commit(&io)))
        printf("saved %s (EMA weights); checkpoints and results.csv in %s\n", a.out, a.project);
    cli_io_free(&io);
    run_free(&r);
    return status;
}
