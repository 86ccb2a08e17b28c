/* Pascal VOC trees: Annotations/<id>.xml, ImageSets/Main/<split>.txt,
 * JPEGImages/<id>.jpg, read with a small tolerant XML reader for the subset
 * VOC annotations use (elements, text, comments, CDATA, <?…?>, entities).
 *
 * Boxes: VOC's pixel coordinates are 1-based; like the VOC→YOLO conversion
 * YOLOv7 users run (ultralytics' VOC.yaml: centre − 1, size xmax − xmin), a
 * box becomes x1 = xmin − 1, x2 = xmax − 1 (same for y). `difficult` is kept
 * in the 6th label column.
 *
 * Class names: classes.txt or labels.txt in the tree's root if present; else
 * the 20 VOC classes in the standard order if every object's name is one of
 * them; else the sorted set of names found (with a warning). */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data.h"

#define XML_MAX_DEPTH 32
#define XML_TEXT_MAX 512
#define XML_ERR_LEN 160

static const char *const voc20[20] = {
    "aeroplane", "bicycle", "bird",  "boat",        "bottle", "bus",         "car",
    "cat",       "chair",   "cow",   "diningtable", "dog",    "horse",       "motorbike",
    "person",    "pottedplant", "sheep", "sofa",    "train",  "tvmonitor"};

typedef struct vobj {
    char *name;
    double b[4];          /* xmin ymin xmax ymax */
    int have;             /* bit k: b[k] present */
    int bad;              /* a coordinate was not a number */
    int difficult;
    int line;
} vobj;

typedef struct vann {
    char *xml;            /* annotation path */
    char *id;
    int split_line;
    char *filename;
    int w, h;
    vobj *o;
    int n, cap;
    int skip;             /* already reported and skipped */
    int missing;          /* no annotation file */
} vann;

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static void vann_clear(vann *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->o[i].name);
    free(a->o);
    free(a->filename);
    free(a->xml);
    free(a->id);
    memset(a, 0, sizeof *a);
}

/* decode &lt; &gt; &amp; &quot; &apos; &#N; in place, then trim */
static char *xml_text(char *s)
{
    char *o = s;
    for (char *p = s; *p;) {
        if (*p == '&') {
            static const struct { const char *e; char c; } ent[] = {
                {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
            int done = 0;
            for (size_t k = 0; k < 5 && !done; k++) {
                size_t n = strlen(ent[k].e);
                if (strncmp(p, ent[k].e, n) == 0) {
                    *o++ = ent[k].c;
                    p += n;
                    done = 1;
                }
            }
            if (!done && p[1] == '#') {
                char *end;
                long v = p[2] == 'x' ? strtol(p + 3, &end, 16) : strtol(p + 2, &end, 10);
                if (*end == ';' && v > 0 && v < 128) {
                    *o++ = (char)v;
                    p = end + 1;
                    done = 1;
                }
            }
            if (!done)
                *o++ = *p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return ypr__trim(s);
}

static int push_obj(vann *a, int line)
{
    if (a->n == a->cap) {
        int nc = a->cap ? a->cap * 2 : 8;
        vobj *no = realloc(a->o, (size_t)nc * sizeof *no);
        RETURN_IF(!no, YPR_ENOMEM, "out of memory");
        a->o = no;
        a->cap = nc;
    }
    memset(&a->o[a->n], 0, sizeof a->o[a->n]);
    a->o[a->n].line = line;
    return a->n++;
}

static int tag_is(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

typedef struct xlevel {
    char name[48];
    int line;
    size_t tlen;
    char text[XML_TEXT_MAX];
} xlevel;

/* An element closes: use its text according to where it sits. */
static int xml_end(vann *a, xlevel *st, int d, int cur_obj)
{
    const char *name = st[d].name;
    const char *parent = d > 0 ? st[d - 1].name : "";
    const char *grand = d > 1 ? st[d - 2].name : "";
    char *t = xml_text(st[d].text);
    if (cur_obj >= 0) {
        vobj *o = &a->o[cur_obj];
        if (tag_is(name, "name") && tag_is(parent, "object")) {
            free(o->name);
            o->name = dupn(t, strlen(t));
            RETURN_IF(!o->name, YPR_ENOMEM, "out of memory");
            o->line = st[d].line;
        } else if (tag_is(name, "difficult") && tag_is(parent, "object")) {
            o->difficult = atoi(t) != 0;
        } else if (tag_is(parent, "bndbox") && tag_is(grand, "object")) {
            static const char *const k[4] = {"xmin", "ymin", "xmax", "ymax"};
            for (int i = 0; i < 4; i++)
                if (tag_is(name, k[i])) {
                    char *end;
                    double v = strtod(t, &end);
                    if (end == t || *end || !isfinite(v))
                        o->bad = st[d].line;
                    o->b[i] = v;
                    o->have |= 1 << i;
                }
        }
    } else if (tag_is(name, "filename") && tag_is(parent, "annotation")) {
        free(a->filename);
        a->filename = dupn(t, strlen(t));
        RETURN_IF(!a->filename, YPR_ENOMEM, "out of memory");
    } else if (tag_is(parent, "size") && (tag_is(name, "width") || tag_is(name, "height"))) {
        long v = strtol(t, NULL, 10);
        if (v > 0 && v < 1000000) {
            if (tag_is(name, "width"))
                a->w = (int)v;
            else
                a->h = (int)v;
        }
    }
    return YPR_OK;
}

/* Parse an annotation. A syntax problem returns YPR_EFORMAT with *err_line
 * and err (XML_ERR_LEN bytes) set. A file that ends inside an element
 * (truncated: the objects after the cut would be lost silently) or has no
 * <annotation> element is a syntax problem. */
static int xml_parse(char *x, size_t len, vann *a, int *err_line, char *err)
{
    xlevel *st = calloc(XML_MAX_DEPTH, sizeof *st);
    RETURN_IF(!st, YPR_ENOMEM, "out of memory");
    int depth = 0, line = 1, cur_obj = -1, obj_depth = -1, rc = YPR_OK, roots = 0;
    size_t i = 0;
    err[0] = 0;
#define COUNT_LINES(from, to)                                                \
    for (size_t q_ = (from); q_ < (to); q_++)                                \
        line += x[q_] == '\n';
    while (i < len && rc == YPR_OK) {
        if (x[i] != '<') {
            size_t j = i;
            while (j < len && x[j] != '<')
                j++;
            if (depth > 0) {
                xlevel *l = &st[depth - 1];
                size_t n = j - i;
                if (l->tlen + n >= XML_TEXT_MAX)
                    n = XML_TEXT_MAX - 1 - l->tlen;
                memcpy(l->text + l->tlen, x + i, n);
                l->tlen += n;
                l->text[l->tlen] = 0;
            }
            COUNT_LINES(i, j);
            i = j;
            continue;
        }
        const char *close = NULL;
        size_t skip = 0;
        if (strncmp(x + i, "<!--", 4) == 0) {
            close = "-->";
            skip = 4;
        } else if (strncmp(x + i, "<![CDATA[", 9) == 0) {
            char *e = strstr(x + i + 9, "]]>");
            if (!e) {
                snprintf(err, XML_ERR_LEN, "unterminated CDATA");
                break;
            }
            size_t n = (size_t)(e - (x + i + 9));
            if (depth > 0) {
                xlevel *l = &st[depth - 1];
                if (l->tlen + n >= XML_TEXT_MAX)
                    n = XML_TEXT_MAX - 1 - l->tlen;
                memcpy(l->text + l->tlen, x + i + 9, n);
                l->tlen += n;
                l->text[l->tlen] = 0;
            }
            size_t j = (size_t)(e - x) + 3;
            COUNT_LINES(i, j);
            i = j;
            continue;
        } else if (x[i + 1] == '?') {
            close = "?>";
            skip = 2;
        } else if (x[i + 1] == '!') {
            close = ">";
            skip = 2;
        }
        if (close) {
            char *e = strstr(x + i + skip, close);
            if (!e) {
                snprintf(err, XML_ERR_LEN, "unterminated comment or declaration");
                break;
            }
            size_t j = (size_t)(e - x) + strlen(close);
            COUNT_LINES(i, j);
            i = j;
            continue;
        }
        /* a tag: find its '>' outside quoted attribute values */
        size_t j = i + 1;
        char q = 0;
        while (j < len && (q || x[j] != '>')) {
            if (q && x[j] == q)
                q = 0;
            else if (!q && (x[j] == '"' || x[j] == '\''))
                q = x[j];
            j++;
        }
        if (j >= len) {
            snprintf(err, XML_ERR_LEN, "unterminated tag");
            break;
        }
        int end_tag = x[i + 1] == '/';
        int self_close = x[j - 1] == '/';
        size_t ns = i + 1 + (size_t)end_tag, ne = ns;
        while (ne < j && !isspace((unsigned char)x[ne]) && x[ne] != '/' && x[ne] != '>')
            ne++;
        char name[48];
        size_t nl = ne - ns < sizeof name - 1 ? ne - ns : sizeof name - 1;
        memcpy(name, x + ns, nl);
        name[nl] = 0;
        if (!nl) {
            snprintf(err, XML_ERR_LEN, "tag without a name");
            break;
        }
        int tag_line = line;
        COUNT_LINES(i, j + 1);
        i = j + 1;
        if (end_tag) {
            int d = depth - 1;
            while (d >= 0 && !tag_is(st[d].name, name))
                d--;
            if (d < 0)
                continue;   /* stray end tag: tolerated */
            while (depth > d && rc == YPR_OK) {
                depth--;
                rc = xml_end(a, st, depth, cur_obj);
                if (depth == obj_depth) {
                    cur_obj = -1;
                    obj_depth = -1;
                }
            }
            continue;
        }
        if (self_close)
            continue;
        if (depth >= XML_MAX_DEPTH) {
            snprintf(err, XML_ERR_LEN, "elements nested too deeply");
            break;
        }
        if (depth == 0)
            roots += tag_is(name, "annotation");
        xlevel *l = &st[depth];
        memcpy(l->name, name, nl + 1);
        l->line = tag_line;
        l->tlen = 0;
        l->text[0] = 0;
        if (tag_is(name, "object") && cur_obj < 0) {
            int k = push_obj(a, tag_line);
            if (k < 0) {
                rc = k;
                break;
            }
            cur_obj = k;
            obj_depth = depth;
        }
        depth++;
    }
#undef COUNT_LINES
    if (rc == YPR_OK && !err[0] && depth > 0)
        snprintf(err, XML_ERR_LEN, "truncated: <%s> (line %d) is not closed at the end of the "
                 "file", st[depth - 1].name, st[depth - 1].line);
    else if (rc == YPR_OK && !err[0] && roots == 0)
        snprintf(err, XML_ERR_LEN, "no <annotation> element");
    free(st);
    if (rc < 0)
        return rc;
    if (err[0]) {
        *err_line = line;
        return YPR_EFORMAT;
    }
    return YPR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_vann_id(const void *a, const void *b)
{
    return strcmp(((const vann *)a)->id, ((const vann *)b)->id);
}

/* Add a copy of name unless it is there already. */
static int names_add(ypr_strvec *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return YPR_OK;
    return ypr__sv_push(s, dupn(name, strlen(name)));
}

/* Append an annotation holding a copy of id[0, k) and the line of the split
 * file that named it (0: found by listing Annotations/). */
static int add_id(vann **v, int *n, int *cap, const char *id, size_t k, int line)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 256;
        vann *nv = realloc(*v, (size_t)nc * sizeof *nv);
        RETURN_IF(!nv, YPR_ENOMEM, "out of memory");
        *v = nv;
        *cap = nc;
    }
    vann *a = &(*v)[*n];
    memset(a, 0, sizeof *a);
    a->id = dupn(id, k);
    RETURN_IF(!a->id, YPR_ENOMEM, "out of memory");
    a->split_line = line;
    (*n)++;
    return YPR_OK;
}

/* the ids of the split (or of every annotation when split is NULL and there
 * is no val.txt) */
static int read_ids(const char *root, const char *split, vann **out, int *count, char **setfile)
{
    *out = NULL;
    *count = 0;
    *setfile = NULL;
    char rel[512];
    snprintf(rel, sizeof rel, "ImageSets/Main/%s.txt", split ? split : "val");
    char *sf = ypr__path_join(root, rel);
    RETURN_IF(!sf, YPR_ENOMEM, "out of memory");
    vann *v = NULL;
    int n = 0, cap = 0, rc = YPR_OK;
    char *text = NULL;
    size_t len;
    if (ypr__exists(sf)) {
        rc = ypr__read_text(sf, YPR_DS_XML_MAX, &text, &len);
        if (rc < 0) {
            free(sf);
            return rc;
        }
        int line = 0;
        for (char *p = text; rc == YPR_OK && p && *p;) {
            line++;
            char *s = ypr__next_line(&p);
            while (isspace((unsigned char)*s))
                s++;
            size_t k = 0;
            while (s[k] && !isspace((unsigned char)s[k]))
                k++;
            if (k && n >= YPR_DS_MAX_IMAGES)
                rc = ypr__error(YPR_ERANGE, "%s: more than %d images", sf, YPR_DS_MAX_IMAGES);
            else if (k)
                rc = add_id(&v, &n, &cap, s, k, line);
        }
        free(text);
    } else if (split) {
        rc = ypr__error(YPR_ENOTFOUND, "%s: split '%s' not found (no %s)", root, split, sf);
    } else {
        free(sf);
        sf = ypr__path_join(root, "Annotations");
        DIR *d = sf ? opendir(sf) : NULL;
        if (!d) {
            rc = ypr__error(YPR_EIO, "%s: cannot list Annotations/", root);
        } else {
            struct dirent *e;
            while (rc == YPR_OK && (e = readdir(d))) {
                size_t k = strlen(e->d_name);
                if (k < 5 || e->d_name[0] == '.' || strcasecmp(e->d_name + k - 4, ".xml") != 0)
                    continue;
                if (n >= YPR_DS_MAX_IMAGES)
                    rc = ypr__error(YPR_ERANGE, "%s: more than %d annotations", sf,
                                    YPR_DS_MAX_IMAGES);
                else
                    rc = add_id(&v, &n, &cap, e->d_name, k - 4, 0);
            }
            closedir(d);
            if (n > 1)
                qsort(v, (size_t)n, sizeof *v, cmp_vann_id);
        }
    }
    if (rc < 0) {
        for (int k = 0; k < n; k++)
            vann_clear(&v[k]);
        free(v);
        free(sf);
        return rc;
    }
    *out = v;
    *count = n;
    *setfile = sf;
    return YPR_OK;
}

static char *find_image(const char *root, const vann *a)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"};
    char rel[1024];
    for (size_t k = 0; k < sizeof ext / sizeof *ext; k++) {
        snprintf(rel, sizeof rel, "JPEGImages/%s%s", a->id, ext[k]);
        char *p = ypr__path_join(root, rel);
        if (!p || ypr__exists(p))
            return p;
        free(p);
    }
    if (a->filename && a->filename[0] && !strchr(a->filename, '/')) {
        snprintf(rel, sizeof rel, "JPEGImages/%s", a->filename);
        char *p = ypr__path_join(root, rel);
        if (!p || ypr__exists(p))
            return p;
        free(p);
    }
    return NULL;
}

int ypr__voc_open(const char *root, const char *split, int policy, ypr_dataset *ds)
{
    vann *anns;
    int n;
    char *setfile;
    TRY(read_ids(root, split, &anns, &n, &setfile));
    ypr_strvec found = {0};
    int rc = YPR_OK;
    /* pass 1: read every annotation */
    for (int i = 0; i < n && rc == YPR_OK; i++) {
        vann *a = &anns[i];
        char rel[1024];
        snprintf(rel, sizeof rel, "Annotations/%s.xml", a->id);
        a->xml = ypr__path_join(root, rel);
        if (!a->xml) {
            rc = ypr__error(YPR_ENOMEM, "out of memory");
            break;
        }
        char *text;
        size_t len;
        rc = ypr__read_text(a->xml, YPR_DS_XML_MAX, &text, &len);
        if (rc == YPR_ENOTFOUND) {
            a->missing = 1;   /* reported in pass 2, against the split file's line */
            rc = YPR_OK;
            continue;
        }
        if (rc < 0 && rc != YPR_ENOMEM) {
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, rc, a->xml, 0, "%s",
                                 ypr__error_detail(a->xml));
            a->skip = 1;
            rc = rc < 0 ? rc : YPR_OK;
            continue;
        }
        if (rc < 0)
            break;
        int el = 0;
        char err[XML_ERR_LEN];
        rc = xml_parse(text, len, a, &el, err);
        free(text);
        if (rc == YPR_EFORMAT && err[0]) {
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, el,
                                 "malformed XML: %s", err);
            a->skip = 1;
            rc = rc < 0 ? rc : YPR_OK;
            continue;
        }
        for (int k = 0; rc == YPR_OK && k < a->n; k++)
            if (a->o[k].name && a->o[k].name[0])
                rc = names_add(&found, a->o[k].name);
    }
    /* class names */
    if (rc == YPR_OK) {
        char *cf = ypr__path_join(root, "classes.txt");
        char *lf = ypr__path_join(root, "labels.txt");
        const char *file = cf && ypr__exists(cf) ? cf : lf && ypr__exists(lf) ? lf : NULL;
        if (!cf || !lf) {
            rc = ypr__error(YPR_ENOMEM, "out of memory");
        } else if (file) {
            char *text = NULL;
            size_t len;
            rc = ypr__read_text(file, YPR_DS_NAMES_MAX, &text, &len);
            ypr_strvec cl = {0};
            for (char *p = rc == YPR_OK ? text : NULL; rc == YPR_OK && p && *p;) {
                char *s = xml_text(ypr__next_line(&p));
                if (*s)
                    rc = names_add(&cl, s);
            }
            free(text);
            if (rc == YPR_OK) {
                rc = cl.n ? ypr__ds_set_names(ds, cl.n, (const char *const *)cl.v)
                          : ypr__error(YPR_EFORMAT, "%s: no class names", file);
            }
            ypr__sv_free(&cl);
        } else {
            int all_voc = 1;
            for (int k = 0; k < found.n && all_voc; k++) {
                int hit = 0;
                for (int c = 0; c < 20; c++)
                    hit |= strcmp(found.v[k], voc20[c]) == 0;
                all_voc = hit;
            }
            if (all_voc) {
                rc = ypr__ds_set_names(ds, 20, voc20);
            } else {
                qsort(found.v, (size_t)found.n, sizeof *found.v, cmp_str);
                ypr__log(YPR_LOG_WARN, "%s: object names are not the 20 VOC classes; using the "
                         "%d names found, sorted (add classes.txt to fix the order)", root,
                         found.n);
                rc = ypr__ds_set_names(ds, found.n, (const char *const *)found.v);
            }
        }
        free(cf);
        free(lf);
    }
    /* pass 2: validate and add */
    for (int i = 0; i < n && rc == YPR_OK; i++) {
        vann *a = &anns[i];
        if (a->skip)
            continue;
        const char *from = setfile ? setfile : root;
        if (a->missing) {
            rc = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_ENOTFOUND, from, a->split_line,
                                 "missing annotation %s", a->xml);
            rc = rc < 0 ? rc : YPR_OK;   /* skipped: go on with the next */
            continue;
        }
        char *img = find_image(root, a);
        if (!img) {
            rc = ypr__ds_problem(ds, policy, YPR_DS_IMAGE, YPR_ENOTFOUND, from, a->split_line,
                                 "missing image JPEGImages/%s.jpg", a->id);
            rc = rc < 0 ? rc : YPR_OK;
            continue;
        }
        ypr_ds_item it = {0};
        it.path = img;
        int irc = ypr__image_size(img, &it.w, &it.h);
        if (irc < 0) {
            rc = irc == YPR_ENOMEM ? irc
                                   : ypr__ds_problem(ds, policy, YPR_DS_IMAGE, irc, img, 0, "%s",
                                                     ypr__error_detail(img));
            free(img);
            rc = rc < 0 ? rc : YPR_OK;
            continue;
        }
        double W = it.w ? it.w : a->w, H = it.h ? it.h : a->h;
        it.rows = a->n ? malloc((size_t)a->n * 6 * sizeof(float)) : NULL;
        if (a->n && !it.rows) {
            free(img);
            rc = ypr__error(YPR_ENOMEM, "out of memory");
            break;
        }
        int prob = 0;
        for (int k = 0; k < a->n && !prob; k++) {
            vobj *o = &a->o[k];
            int cls = -1;
            for (int c = 0; c < ds->nc && o->name; c++)
                if (strcmp(ds->names[c], o->name) == 0)
                    cls = c;
            if (!o->name || !o->name[0])
                prob = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, o->line,
                                       "object without a <name>");
            else if (cls < 0)
                prob = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, o->line,
                                       "unknown class '%.60s'", o->name);
            else if (o->bad)
                prob = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, o->bad,
                                       "malformed box coordinate");
            else if (o->have != 15)
                prob = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, o->line,
                                       "object without a complete <bndbox>");
            else if (o->b[2] < o->b[0] || o->b[3] < o->b[1])
                prob = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, o->line,
                                       "box with xmax < xmin or ymax < ymin");
            else if (o->b[0] < 0 || o->b[1] < 0 || (W > 0 && o->b[2] > W + 1) ||
                     (H > 0 && o->b[3] > H + 1))
                prob = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, o->line,
                                       "box (%g, %g, %g, %g) outside the %gx%g image", o->b[0],
                                       o->b[1], o->b[2], o->b[3], W, H);
            for (int j = 0; j < k && !prob; j++)
                if (a->o[j].have == 15 && memcmp(a->o[j].b, o->b, sizeof o->b) == 0 &&
                    a->o[j].name && strcmp(a->o[j].name, o->name) == 0)
                    prob = ypr__ds_problem(ds, policy, YPR_DS_LABELS, YPR_EFORMAT, a->xml, o->line,
                                           "duplicate box (same as line %d)", a->o[j].line);
            if (prob)
                break;
            float *r = it.rows + (size_t)k * 6;
            r[0] = (float)cls;
            for (int c = 0; c < 4; c++)
                r[1 + c] = (float)(o->b[c] - 1);
            r[5] = (float)o->difficult;
        }
        if (prob) {
            free(it.rows);
            free(it.path);
            rc = prob < 0 ? prob : YPR_OK;
            continue;
        }
        it.n = a->n;
        rc = ypr__ds_push(ds, &it);
    }
    for (int i = 0; i < n; i++)
        vann_clear(&anns[i]);
    free(anns);
    free(setfile);
    ypr__sv_free(&found);
    return rc;
}
