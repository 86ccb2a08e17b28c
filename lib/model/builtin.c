/* Built-in architectures, generated as cfg text from their building blocks
 * (stem, ELAN aggregation blocks, MP down-sampling blocks, SPPCSPC, the
 * detection head) so that tests and the demo need no files. Layer indices
 * are tracked as the text is emitted, so `from` references stay right. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct gen {
    char *buf;
    size_t len, cap;
    int layer;        /* index of the next layer */
    int oom;
    const char *act;  /* extra Conv args, e.g. ", None, 1, nn.LeakyReLU(0.1)" */
} gen;

static void put(gen *g, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || g->oom)
        return;
    if (g->len + (size_t)n + 1 > g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 4096;
        while (nc < g->len + (size_t)n + 1)
            nc *= 2;
        char *b = realloc(g->buf, nc);
        if (!b) {
            g->oom = 1;
            return;
        }
        g->buf = b;
        g->cap = nc;
    }
    memcpy(g->buf + g->len, tmp, (size_t)n + 1);
    g->len += (size_t)n;
}

/* One layer line; returns its index. */
static int conv(gen *g, int from, int c, int k, int s)
{
    put(g, "   [%d, 1, Conv, [%d, %d, %d%s]],  # %d\n", from, c, k, s, g->act, g->layer);
    return g->layer++;
}

static int layer(gen *g, const char *text)
{
    put(g, "   %s,  # %d\n", text, g->layer);
    return g->layer++;
}

/* ELAN block: two 1×1 branches, a chain of `depth` 3×3 convs on the second,
 * concatenating the outputs listed in `cat` (relative indices), then a 1×1
 * transition to `out` channels. */
static int elan(gen *g, int c_branch, int c_mid, int depth, const char *cat, int out)
{
    conv(g, -1, c_branch, 1, 1);
    conv(g, -2, c_branch, 1, 1);
    for (int i = 0; i < depth; i++)
        conv(g, -1, c_mid, 3, 1);
    put(g, "   [%s, 1, Concat, [1]],  # %d\n", cat, g->layer++);
    return conv(g, -1, out, 1, 1);
}

/* Down-sampling block: max-pool branch and strided-conv branch, concatenated
 * (with an extra earlier layer `with` in the head; -1 for none). */
static int mp_block(gen *g, int c, int with)
{
    layer(g, "[-1, 1, MP, []]");
    conv(g, -1, c, 1, 1);
    conv(g, -3, c, 1, 1);
    conv(g, -1, c, 3, 2);
    if (with >= 0)
        put(g, "   [[-1, -3, %d], 1, Concat, [1]],  # %d\n", with, g->layer);
    else
        put(g, "   [[-1, -3], 1, Concat, [1]],  # %d\n", g->layer);
    return g->layer++;
}

static int upsample_merge(gen *g, int c, int route)
{
    conv(g, -1, c, 1, 1);
    layer(g, "[-1, 1, nn.Upsample, [None, 2, 'nearest']]");
    conv(g, route, c, 1, 1);
    return layer(g, "[[-1, -2], 1, Concat, [1]]");
}

static void header(gen *g, const char *name, const char *anchors)
{
    put(g, "# %s (libyolopr built-in, training layout)\n"
           "nc: 80\ndepth_multiple: 1.0\nwidth_multiple: 1.0\nanchors:\n%s", name, anchors);
}

static const char anchors_p5[] =
    "  - [12,16, 19,36, 40,28]\n  - [36,75, 76,55, 72,146]\n  - [142,110, 192,243, 459,401]\n";
static const char anchors_tiny[] =
    "  - [10,13, 16,30, 33,23]\n  - [30,61, 62,45, 59,119]\n  - [116,90, 156,198, 373,326]\n";

/* yolov7 and yolov7x share one layout (stem, four ELAN stages with MP
 * down-sampling, SPPCSPC, a PAN head of ELANs, three output convs); only
 * widths, ELAN depth and concat patterns differ. */
typedef struct p5_spec {
    const char *name;
    int stem[4];             /* 3×3 convs: s1, s2, s1, s2 */
    int depth;               /* 3×3 convs per ELAN */
    const char *bb_cat, *hd_cat;
    int bb[4][3];            /* backbone ELANs: branch, mid, out */
    int mp[3];               /* backbone MP blocks */
    int spp, up[2];          /* SPPCSPC width, upsample-merge widths */
    int hd[4][3];            /* head ELANs: P4 top-down, P3, P4, P5 */
    int hd_mp[2];            /* head MP blocks */
    int out[3];              /* output convs */
    int repconv;             /* output convs are RepConv (else Conv) */
} p5_spec;

static const p5_spec spec_yolov7 = {
    "yolov7", {32, 64, 64, 128}, 4, "[-1, -3, -5, -6]", "[-1, -2, -3, -4, -5, -6]",
    {{64, 64, 256}, {128, 128, 512}, {256, 256, 1024}, {256, 256, 1024}}, {128, 256, 512},
    512, {256, 128}, {{256, 128, 256}, {128, 64, 128}, {256, 128, 256}, {512, 256, 512}},
    {128, 256}, {256, 512, 1024}, 1};

static const p5_spec spec_yolov7x = {
    "yolov7x", {40, 80, 80, 160}, 6, "[-1, -3, -5, -7, -8]", "[-1, -3, -5, -7, -8]",
    {{64, 64, 320}, {128, 128, 640}, {256, 256, 1280}, {256, 256, 1280}}, {160, 320, 640},
    640, {320, 160}, {{256, 256, 320}, {128, 128, 160}, {256, 256, 320}, {512, 512, 640}},
    {160, 320}, {320, 640, 1280}, 0};

static void gen_p5(gen *g, const p5_spec *sp)
{
    char t[128];
    header(g, sp->name, anchors_p5);
    put(g, "backbone:\n  [\n");
    for (int i = 0; i < 4; i++)
        conv(g, -1, sp->stem[i], 3, 1 + (i & 1));
    int p[4];
    for (int i = 0; i < 4; i++) {
        if (i)
            mp_block(g, sp->mp[i - 1], -1);
        p[i] = elan(g, sp->bb[i][0], sp->bb[i][1], sp->depth, sp->bb_cat, sp->bb[i][2]);
    }
    put(g, "  ]\nhead:\n  [\n");
    snprintf(t, sizeof t, "[-1, 1, SPPCSPC, [%d]]", sp->spp);
    int spp = layer(g, t);
    upsample_merge(g, sp->up[0], p[2]);
    int h4 = elan(g, sp->hd[0][0], sp->hd[0][1], sp->depth, sp->hd_cat, sp->hd[0][2]);
    upsample_merge(g, sp->up[1], p[1]);
    int o3 = elan(g, sp->hd[1][0], sp->hd[1][1], sp->depth, sp->hd_cat, sp->hd[1][2]);
    mp_block(g, sp->hd_mp[0], h4);
    int o4 = elan(g, sp->hd[2][0], sp->hd[2][1], sp->depth, sp->hd_cat, sp->hd[2][2]);
    mp_block(g, sp->hd_mp[1], spp);
    int o5 = elan(g, sp->hd[3][0], sp->hd[3][1], sp->depth, sp->hd_cat, sp->hd[3][2]);
    int r[3], src[3] = {o3, o4, o5};
    for (int i = 0; i < 3; i++) {
        if (sp->repconv) {
            snprintf(t, sizeof t, "[%d, 1, RepConv, [%d, 3, 1]]", src[i], sp->out[i]);
            r[i] = layer(g, t);
        } else {
            r[i] = conv(g, src[i], sp->out[i], 3, 1);
        }
    }
    snprintf(t, sizeof t, "[[%d, %d, %d], 1, IDetect, [nc, anchors]]", r[0], r[1], r[2]);
    layer(g, t);
    put(g, "  ]\n");
}

static void gen_tiny(gen *g)
{
    static const char cat[] = "[-1, -2, -3, -4]";
    g->act = ", None, 1, nn.LeakyReLU(0.1)";
    header(g, "yolov7-tiny", anchors_tiny);
    put(g, "backbone:\n  [\n");
    conv(g, -1, 32, 3, 2);
    conv(g, -1, 64, 3, 2);
    elan(g, 32, 32, 2, cat, 64);
    layer(g, "[-1, 1, MP, []]");
    int p3 = elan(g, 64, 64, 2, cat, 128);
    layer(g, "[-1, 1, MP, []]");
    int p4 = elan(g, 128, 128, 2, cat, 256);
    layer(g, "[-1, 1, MP, []]");
    elan(g, 256, 256, 2, cat, 512);
    put(g, "  ]\nhead:\n  [\n");
    conv(g, -1, 256, 1, 1);
    conv(g, -2, 256, 1, 1);
    layer(g, "[-1, 1, SP, [5]]");
    layer(g, "[-2, 1, SP, [9]]");
    layer(g, "[-3, 1, SP, [13]]");
    layer(g, "[[-1, -2, -3, -4], 1, Concat, [1]]");
    conv(g, -1, 256, 1, 1);
    layer(g, "[[-1, -7], 1, Concat, [1]]");
    int h5 = conv(g, -1, 256, 1, 1);
    upsample_merge(g, 128, p4);
    int h4 = elan(g, 64, 64, 2, cat, 128);
    upsample_merge(g, 64, p3);
    int o3 = elan(g, 32, 32, 2, cat, 64);
    char t[128];
    conv(g, -1, 128, 3, 2);
    snprintf(t, sizeof t, "[[-1, %d], 1, Concat, [1]]", h4);
    layer(g, t);
    int o4 = elan(g, 64, 64, 2, cat, 128);
    conv(g, -1, 256, 3, 2);
    snprintf(t, sizeof t, "[[-1, %d], 1, Concat, [1]]", h5);
    layer(g, t);
    int o5 = elan(g, 128, 128, 2, cat, 256);
    int r0 = conv(g, o3, 128, 3, 1), r1 = conv(g, o4, 256, 3, 1), r2 = conv(g, o5, 512, 3, 1);
    snprintf(t, sizeof t, "[[%d, %d, %d], 1, IDetect, [nc, anchors]]", r0, r1, r2);
    layer(g, t);
    put(g, "  ]\n");
}

int ypr__builtin_cfg(const char *name, char **text)
{
    *text = NULL;
    gen g = {NULL, 0, 0, 0, 0, ""};
    if (strcmp(name, "yolov7") == 0)
        gen_p5(&g, &spec_yolov7);
    else if (strcmp(name, "yolov7x") == 0)
        gen_p5(&g, &spec_yolov7x);
    else if (strcmp(name, "yolov7-tiny") == 0)
        gen_tiny(&g);
    else
        return YPR_ENOTFOUND;
    if (g.oom) {
        free(g.buf);
        return ypr__error(YPR_ENOMEM, "out of memory");
    }
    *text = g.buf;
    return YPR_OK;
}
