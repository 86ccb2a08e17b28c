/* What a YOLO data .yaml means. The text is read by core's YAML reader
 * (libyaml), so every style tools write is accepted: PyYAML's dumps (block
 * sequences at column 0), flow or block collections, quotes, comments, a
 * byte-order mark. This file gives the keys their meaning:
 *
 * - `path:` the folder split paths are relative to (itself relative to the
 *   file's folder, or to the working folder); the file's folder if absent;
 * - `train` / `val` / `test`: the split, a path or a list of paths, each an
 *   image folder, a `.txt` list of images or an image (resolve() below);
 * - `nc` and `names` (a list, or a mapping `{0: a, 1: b}` as YOLOv8 writes);
 *   either may be absent, both must agree.
 *
 * Every other key (YOLOv5's `download:` scripts, Roboflow's `roboflow:`
 * block …) is ignored whatever it holds. Every error names `file:line`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define YPR_DY_MAX_CLASSES 100000   /* nc, names entries, class indices */

/* The value of top-level `key` (NULL if absent); *knode gets its key node,
 * whose line messages about the whole value name. */
static const ypr_yaml *lookup(const ypr_yaml *map, const char *key, const ypr_yaml **knode)
{
    size_t n = strlen(key);
    for (int i = 0; i < map->n; i++) {
        const ypr_yaml *k = map->keys[i];
        if (k->type == YPR_YAML_SCALAR && k->len == n && memcmp(k->s, key, n) == 0) {
            *knode = k;
            return map->items[i];
        }
    }
    *knode = NULL;
    return NULL;
}

static const char *kind(const ypr_yaml *v)
{
    return v->type == YPR_YAML_SEQ ? "a list" : v->type == YPR_YAML_MAP ? "a mapping" : "a value";
}

/* The text of scalar `v` ("" for null); YPR_EFORMAT naming `what` for a
 * list, a mapping or text holding a NUL byte. */
static int text_of(const ypr_yaml *v, const char *what, const char **out)
{
    if (v->type != YPR_YAML_SCALAR)
        return ypr__yaml_error(v, YPR_EFORMAT, "%s must be a single value, not %s", what,
                               kind(v));
    if (strlen(v->s) != v->len)
        return ypr__yaml_error(v, YPR_EFORMAT, "%s holds a NUL byte", what);
    *out = ypr__yaml_is_null(v) ? "" : v->s;
    return YPR_OK;
}

/* A class count or index: decimal digits (quoted too: YOLOv7 calls int() on
 * it) in [lo, hi]; -1 otherwise. */
static long count_of(const ypr_yaml *v, long lo, long hi)
{
    if (v->type != YPR_YAML_SCALAR || v->len == 0 || v->len > 7 || strlen(v->s) != v->len)
        return -1;
    long x = 0;
    for (const char *p = v->s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        x = x * 10 + (*p - '0');
    }
    return x >= lo && x <= hi ? x : -1;
}

/* ------------------------------------------------------------ names */

/* names as a list: one entry per class, null entries unnamed */
static int names_list(const ypr_yaml *v, const char **names)
{
    for (int i = 0; i < v->n; i++)
        TRY(text_of(v->items[i], "a class name", &names[i]));
    return YPR_OK;
}

/* names as a mapping index → name: every index from 0 to the largest once */
static int names_map(const ypr_yaml *k, const ypr_yaml *v, const char ***out, int *n)
{
    long top = -1;
    for (int i = 0; i < v->n; i++) {
        long idx = count_of(v->keys[i], 0, YPR_DY_MAX_CLASSES - 1);
        if (idx < 0) {
            const ypr_yaml *key = v->keys[i];
            return ypr__yaml_error(key, YPR_EFORMAT, "names: key '%.40s' is not a class index "
                                   "(0 to %d)", key->type == YPR_YAML_SCALAR ? key->s : "…",
                                   YPR_DY_MAX_CLASSES - 1);
        }
        if (idx > top)
            top = idx;
    }
    *out = NULL;
    *n = 0;
    if (top < 0)
        return YPR_OK;   /* `names: {}`: the caller says it is empty */
    const char **names = calloc((size_t)top + 1, sizeof *names);
    RETURN_IF(!names, YPR_ENOMEM, "%s: out of memory", v->file);
    int rc = YPR_OK;
    for (int i = 0; i < v->n && rc == YPR_OK; i++) {
        long idx = count_of(v->keys[i], 0, YPR_DY_MAX_CLASSES - 1);
        if (names[idx])
            rc = ypr__yaml_error(v->keys[i], YPR_EFORMAT, "names: class %ld given twice", idx);
        else
            rc = text_of(v->items[i], "a class name", &names[idx]);
    }
    for (long i = 0; i <= top && rc == YPR_OK; i++)
        if (!names[i])
            rc = ypr__yaml_error(k, YPR_EFORMAT, "names has no entry for class %ld", i);
    if (rc < 0) {
        free(names);
        return rc;
    }
    *out = names;
    *n = (int)top + 1;
    return YPR_OK;
}

/* `nc` and `names` into *nc (-1 if neither is given) and *names (NULL, or
 * *nc strings pointing into the tree). */
static int read_classes(const ypr_yaml *y, int *nc, const char ***names)
{
    const ypr_yaml *nck, *nk;
    const ypr_yaml *ncv = lookup(y, "nc", &nck), *nv = lookup(y, "names", &nk);
    *nc = -1;
    *names = NULL;
    if (ncv && !ypr__yaml_is_null(ncv)) {
        long l = count_of(ncv, 1, YPR_DY_MAX_CLASSES);
        if (l < 0)
            return ypr__yaml_error(nck, YPR_EFORMAT, "nc must be a positive integer (at most "
                                   "%d), got %.40s", YPR_DY_MAX_CLASSES,
                                   ncv->type == YPR_YAML_SCALAR ? ncv->s : kind(ncv));
        *nc = (int)l;
    }
    if (!nv || ypr__yaml_is_null(nv))
        return YPR_OK;
    const char **list = NULL;
    int n = 0, rc = YPR_OK;
    if (nv->type == YPR_YAML_SEQ) {
        if (nv->n > YPR_DY_MAX_CLASSES)
            return ypr__yaml_error(nk, YPR_EFORMAT, "names has %d entries (at most %d)", nv->n,
                                   YPR_DY_MAX_CLASSES);
        n = nv->n;
        list = calloc((size_t)(n ? n : 1), sizeof *list);
        RETURN_IF(!list, YPR_ENOMEM, "%s: out of memory", nv->file);
        rc = names_list(nv, list);
    } else if (nv->type == YPR_YAML_MAP) {
        rc = names_map(nk, nv, &list, &n);
    } else {
        return ypr__yaml_error(nk, YPR_EFORMAT, "names must be a list (or a mapping index: "
                               "name), not a single value");
    }
    if (rc == YPR_OK && n < 1)
        rc = ypr__yaml_error(nk, YPR_EFORMAT, "names is empty");
    if (rc == YPR_OK && *nc >= 0 && n != *nc)
        rc = ypr__yaml_error(nk, YPR_EFORMAT, "names has %d entries but nc is %d", n, *nc);
    if (rc < 0) {
        free(list);
        return rc;
    }
    *nc = n;
    *names = list;
    return YPR_OK;
}

/* ------------------------------------------------------------ paths */

/* The folder split paths are relative to: `path:` joined to the file's
 * folder, else `path:` itself (from the working folder), else the file's
 * folder. malloc'd in *root. */
static int read_root(const ypr_yaml *y, const char *file, char **root)
{
    const ypr_yaml *pk;
    const ypr_yaml *pv = lookup(y, "path", &pk);
    const char *p = "";
    if (pv)
        TRY(text_of(pv, "path", &p));
    char *dir = ypr__path_dir(file);
    RETURN_IF(!dir, YPR_ENOMEM, "dataset: out of memory");
    char *r = NULL;
    if (p[0]) {
        r = ypr__path_join(dir, p);
        if (r && !ypr__is_dir(r)) {
            free(r);
            r = ypr__strdup(ypr__is_dir(p) ? p : dir);
        }
    } else {
        r = ypr__strdup(dir);
    }
    free(dir);
    RETURN_IF(!r, YPR_ENOMEM, "dataset: out of memory");
    *root = r;
    return YPR_OK;
}

/* A split entry: root/p, then p from the working folder, then root/(p
 * without a leading ../) (Roboflow exports write `../valid/images` next to
 * the data.yaml). malloc'd (root/p when nothing exists) or NULL (OOM). */
static char *resolve(const char *root, const char *p)
{
    char *a = ypr__path_join(root, p);
    if (!a || p[0] == '/' || ypr__exists(a))
        return a;
    if (ypr__exists(p)) {
        free(a);
        return ypr__strdup(p);
    }
    if (strncmp(p, "../", 3) == 0) {
        char *b = ypr__path_join(root, p + 3);
        if (b && ypr__exists(b)) {
            free(a);
            return b;
        }
        free(b);
    }
    return a;
}

/* One entry of the split: its images join the dataset. */
static int add_entry(ypr_ds_open *c, const ypr_yaml *v, const char *root, const char *split)
{
    const char *e = "";
    char what[96];
    snprintf(what, sizeof what, "an entry of split '%.40s'", split);
    TRY(text_of(v, what, &e));
    if (!e[0])
        return ypr__yaml_error(v, YPR_EFORMAT, "empty path in split '%s'", split);
    char *full = resolve(root, e);
    RETURN_IF(!full, YPR_ENOMEM, "dataset: out of memory");
    int rc;
    if (!ypr__exists(full))
        rc = ypr__yaml_error(v, YPR_ENOTFOUND, "split '%s': '%s' not found (looked for %s)",
                             split, e, full);
    else
        rc = ypr__ds_add_source(c, full);
    free(full);
    return rc;
}

/* ------------------------------------------------------------ open */

static int open_tree(ypr_ds_open *c, const ypr_yaml *y, const char *path, const char *split)
{
    if (y->type != YPR_YAML_MAP)
        return ypr__yaml_error(y, YPR_EFORMAT, "a data .yaml is a mapping of keys (path, train, "
                               "val, test, nc, names), not %s",
                               ypr__yaml_is_null(y) ? "an empty document" : kind(y));
    int nc;
    const char **names;
    TRY(read_classes(y, &nc, &names));
    char *root = NULL;
    const ypr_yaml *sk, *sv = lookup(y, split, &sk);
    int rc = YPR_OK;
    if (nc < 0)
        rc = ypr__error(YPR_ENOTFOUND, "%s: missing key 'nc' (and 'names')", path);
    else if (!sv)
        rc = ypr__error(YPR_ENOTFOUND, "%s: missing key '%s' (the split)", path, split);
    else if (ypr__yaml_is_null(sv) || (sv->type == YPR_YAML_SEQ && sv->n == 0))
        rc = ypr__yaml_error(sk, YPR_ENOTFOUND, "split '%s' is empty", split);
    else if (sv->type == YPR_YAML_MAP)
        rc = ypr__yaml_error(sk, YPR_EFORMAT, "split '%s' must be a path or a list of paths, "
                             "not a mapping", split);
    if (rc == YPR_OK)
        rc = read_root(y, path, &root);
    if (rc == YPR_OK)
        rc = ypr__ds_set_names(c->ds, nc, names);
    int ns = rc == YPR_OK && sv->type == YPR_YAML_SEQ ? sv->n : 1;
    for (int i = 0; rc == YPR_OK && i < ns; i++)
        rc = add_entry(c, sv->type == YPR_YAML_SEQ ? sv->items[i] : sv, root, split);
    free(root);
    free(names);
    return rc;
}

int ypr__ds_open_yaml(ypr_ds_open *c, const char *path, const char *split)
{
    char *text;
    size_t len;
    TRY(ypr__read_text(path, YPR_YAML_MAX_BYTES, &text, &len));
    ypr_yaml *y;
    int rc = ypr__yaml_parse(text, len, path, &y);
    free(text);
    TRY(rc);
    rc = open_tree(c, y, path, split);
    ypr__yaml_free(y);
    return rc;
}
