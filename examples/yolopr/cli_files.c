/* What a yolopr command reads and writes: outputs are checked against the
 * inputs before any work, written under temporary names beside their final
 * ones, and moved into place together only when the command succeeded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int oom(const cli_io *io)
{
    fprintf(stderr, "yolopr %s: out of memory\n", io->cmd);
    return 1;
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

/* "a/b/c" → "a/b" and "c"; "c" → "." and "c"; "/c" → "/" and "c". */
static char *parent_of(const char *path, const char **base)
{
    const char *sl = strrchr(path, '/');
    *base = sl ? sl + 1 : path;
    if (!sl)
        return strdup(".");
    size_t n = sl == path ? 1 : (size_t)(sl - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

void cli_io_init(cli_io *io, const char *cmd)
{
    memset(io, 0, sizeof *io);
    io->cmd = cmd;
}

static int push_in(cli_io *io, cli_in **v, int *n, int *cap, const struct stat *st,
                   const char *path)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        cli_in *nv = realloc(*v, (size_t)c * sizeof *nv);
        if (!nv)
            return oom(io);
        *v = nv;
        *cap = c;
    }
    char *p = strdup(path);
    if (!p)
        return oom(io);
    (*v)[(*n)++] = (cli_in){st->st_dev, st->st_ino, p};
    return 0;
}

int cli_io_input(cli_io *io, const char *path)
{
    struct stat st;
    if (!path || stat(path, &st) != 0)
        return 0;   /* not a file: a built-in model name, or the reader reports it */
    return push_in(io, &io->in, &io->nin, &io->incap, &st, path);
}

int cli_io_input_dir(cli_io *io, const char *dir)
{
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    for (int i = 0; i < io->ndirs; i++)
        if (io->dirs[i].dev == st.st_dev && io->dirs[i].ino == st.st_ino)
            return 0;
    return push_in(io, &io->dirs, &io->ndirs, &io->dircap, &st, dir);
}

/* The input folder (cli_io_input_dir) that @p dir is, or NULL. */
static const char *listed_dir(const cli_io *io, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return NULL;
    for (int i = 0; i < io->ndirs; i++)
        if (io->dirs[i].dev == st.st_dev && io->dirs[i].ino == st.st_ino)
            return io->dirs[i].path;
    return NULL;
}

int cli_io_output_dir(cli_io *io, const char *opt, const char *dir, const char *const *names)
{
    if (io->nout == io->outcap) {
        int cap = io->outcap ? 2 * io->outcap : 8;
        cli_out *out = realloc(io->out, (size_t)cap * sizeof *out);
        if (!out)
            return oom(io), -1;
        io->out = out;
        io->outcap = cap;
    }
    cli_out *o = &io->out[io->nout];
    memset(o, 0, sizeof *o);
    o->opt = strdup(opt);
    o->path = strdup(dir);
    o->names = names;
    if (!o->opt || !o->path) {
        free(o->opt);
        free(o->path);
        return oom(io), -1;
    }
    return io->nout++;
}

int cli_io_output(cli_io *io, const char *opt, const char *path)
{
    return cli_io_output_dir(io, opt, path, NULL);
}

/* Identity of an output: the file's device and inode when it exists, else
 * its folder's and its name (so two spellings of one new name agree). */
typedef struct out_key {
    dev_t dev;
    ino_t ino;
    char *base;              /* owned; NULL when the file exists */
    const char *opt, *path;  /* for messages */
    char *own;               /* the path of a file inside a folder output (owned) */
} out_key;

static int same_key(const out_key *a, const out_key *b)
{
    if (a->dev != b->dev || a->ino != b->ino || !a->base != !b->base)
        return 0;
    return !a->base || strcmp(a->base, b->base) == 0;
}

/* Why @p path (in folder @p parent) may not be written, in @p why; "" if it
 * may: a new name in an existing folder, or a regular file that is none of
 * the inputs. @p dir 1 for a folder output. Fills @p key. */
static void check_target(const cli_io *io, const char *path, const char *parent,
                         const char *base, int dir, out_key *key, char *why, size_t n)
{
    struct stat st;
    const char *listed = listed_dir(io, dir ? path : parent);
    why[0] = '\0';
    if (listed) {
        snprintf(why, n, "it would land in the input folder %.1024s", listed);
    } else if (stat(path, &st) == 0) {
        if (dir && !S_ISDIR(st.st_mode))
            snprintf(why, n, "it exists and is not a folder");
        else if (!dir && S_ISDIR(st.st_mode))
            snprintf(why, n, "it is a folder");
        else if (!dir && !S_ISREG(st.st_mode))
            snprintf(why, n, "it is not a regular file (a device, FIFO or socket)");
        for (int i = 0; !dir && !why[0] && i < io->nin; i++)
            if (io->in[i].dev == st.st_dev && io->in[i].ino == st.st_ino)
                snprintf(why, n, "it is the input %.1024s", io->in[i].path);
        key->dev = st.st_dev;
        key->ino = st.st_ino;
    } else if (errno != ENOENT) {
        snprintf(why, n, "%s", strerror(errno));
    } else if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, n, "its folder does not exist");
    } else {
        key->dev = st.st_dev;
        key->ino = st.st_ino;
        key->base = strdup(base);
        if (!key->base)
            snprintf(why, n, "out of memory");
    }
}

static int check_output(const cli_io *io, const char *opt, const char *path, int dir,
                        out_key *key)
{
    const char *base;
    char why[1200];
    size_t n = strlen(path);
    *key = (out_key){.opt = opt, .path = path};
    if (n == 0 || (!dir && path[n - 1] == '/')) {
        snprintf(why, sizeof why, "not a file name");
    } else {
        char *parent = parent_of(path, &base);
        if (!parent)
            return oom(io);
        check_target(io, path, parent, base, dir, key, why, sizeof why);
        free(parent);
    }
    if (!why[0])
        return 0;
    fprintf(stderr, "yolopr %s: refusing to write %s %s: %s\n", io->cmd, opt, path, why);
    return CLI_USAGE;
}

/* A fresh temporary name beside @p path (".NAME.yolopr-XXXXXX"), created
 * with the mode a new file (or folder) would get. */
static char *make_stage(const char *path, int dir)
{
    const char *base;
    char *parent = parent_of(path, &base);
    if (!parent)
        return NULL;
    size_t n = strlen(parent) + strlen(base) + 32;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "%s/.%s.yolopr-XXXXXX", parent, base);
    free(parent);
    if (!t)
        return NULL;
    mode_t mask = umask(0);
    umask(mask);
    int ok;
    if (dir) {
        ok = mkdtemp(t) != NULL;
        ok = ok && chmod(t, 0777 & ~mask) == 0;
    } else {
        int fd = mkstemp(t);
        ok = fd >= 0 && fchmod(fd, 0666 & ~mask) == 0;
        if (fd >= 0)
            close(fd);
        if (fd >= 0 && !ok)
            unlink(t);
    }
    if (!ok) {
        free(t);
        return NULL;
    }
    return t;
}

static int check_all(cli_io *io, out_key *keys, int *nkeys)
{
    for (int i = 0; i < io->nout; i++) {
        cli_out *o = &io->out[i];
        int rc = check_output(io, o->opt, o->path, o->names != NULL, &keys[*nkeys]);
        if (rc)
            return rc;
        (*nkeys)++;
        /* the files a folder output holds are outputs too, when it exists */
        struct stat st;
        for (int k = 0; o->names && o->names[k] && stat(o->path, &st) == 0; k++) {
            char *p = join(o->path, o->names[k]);
            if (!p)
                return oom(io);
            rc = check_output(io, o->opt, p, 0, &keys[*nkeys]);
            if (rc) {
                free(p);
                return rc;
            }
            keys[(*nkeys)++].own = p;
        }
    }
    for (int i = 0; i < *nkeys; i++)
        for (int j = 0; j < i; j++)
            if (same_key(&keys[i], &keys[j])) {
                fprintf(stderr, "yolopr %s: refusing to write one file twice: %s %s and %s %s\n",
                        io->cmd, keys[j].opt, keys[j].path, keys[i].opt, keys[i].path);
                return CLI_USAGE;
            }
    return 0;
}

int cli_io_prepare(cli_io *io)
{
    int total = 0;
    for (int i = 0; i < io->nout; i++) {
        total++;
        for (int k = 0; io->out[i].names && io->out[i].names[k]; k++)
            total++;
    }
    out_key *keys = calloc((size_t)total + 1, sizeof *keys);
    if (!keys)
        return oom(io);
    int nkeys = 0;
    int rc = check_all(io, keys, &nkeys);
    for (int i = 0; i < nkeys; i++) {
        free(keys[i].base);
        free(keys[i].own);
    }
    free(keys);
    for (int i = 0; rc == 0 && i < io->nout; i++) {
        cli_out *o = &io->out[i];
        o->stage = make_stage(o->path, o->names != NULL);
        if (!o->stage) {
            fprintf(stderr, "yolopr %s: %s %s: cannot create a temporary file beside it: %s\n",
                    io->cmd, o->opt, o->path, strerror(errno));
            rc = 1;
        }
    }
    return rc;
}

int cli_io_write_text(cli_io *io, int i, const char *text)
{
    cli_out *o = &io->out[i];
    FILE *f = fopen(o->stage, "w");
    int ok = f && fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "yolopr %s: cannot write %s: %s\n", io->cmd, o->path, strerror(errno));
        return 1;
    }
    return 0;
}

/* Move the files of folder output @p o from its temporary folder into it. */
static int commit_dir(const cli_out *o)
{
    struct stat st;
    if (stat(o->path, &st) != 0)
        return errno == ENOENT ? rename(o->stage, o->path) : -1;
    for (int k = 0; o->names[k]; k++) {
        char *from = join(o->stage, o->names[k]), *to = join(o->path, o->names[k]);
        int rc = !from || !to ? -1
               : access(from, F_OK) != 0 ? 0
               : rename(from, to);
        free(from);
        free(to);
        if (rc)
            return rc;
    }
    return rmdir(o->stage);
}

int cli_io_commit(cli_io *io)
{
    for (int i = 0; i < io->nout; i++) {
        cli_out *o = &io->out[i];
        struct stat st;
        int rc;
        if (o->names)
            rc = commit_dir(o);
        else if (stat(o->path, &st) == 0 && !S_ISREG(st.st_mode)) {
            errno = EEXIST;   /* it changed since cli_io_prepare() */
            rc = -1;
        } else
            rc = rename(o->stage, o->path);
        if (rc) {
            fprintf(stderr, "yolopr %s: cannot move %s into place: %s\n", io->cmd, o->path,
                    strerror(errno));
            return 1;
        }
        o->committed = 1;
    }
    return 0;
}

static void remove_stage(const cli_out *o)
{
    if (!o->names) {
        unlink(o->stage);
        return;
    }
    for (int k = 0; o->names[k]; k++) {
        char *p = join(o->stage, o->names[k]);
        if (p)
            unlink(p);
        free(p);
    }
    if (rmdir(o->stage) != 0 && errno != ENOENT)
        fprintf(stderr, "yolopr: warning: could not remove the temporary folder %s\n", o->stage);
}

void cli_io_free(cli_io *io)
{
    for (int i = 0; i < io->nin; i++)
        free(io->in[i].path);
    for (int i = 0; i < io->ndirs; i++)
        free(io->dirs[i].path);
    for (int i = 0; i < io->nout; i++) {
        cli_out *o = &io->out[i];
        if (o->stage && !o->committed)
            remove_stage(o);
        free(o->stage);
        free(o->opt);
        free(o->path);
    }
    free(io->in);
    free(io->dirs);
    free(io->out);
    memset(io, 0, sizeof *io);
}
