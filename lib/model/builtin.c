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

static void gen_yolov7(gen *g)
{
    static const char bb_cat[] = "[-1, -3, -5, -6]", hd_cat[] = "[-1, -2, -3, -4, -5, -6]";
    header(g, "yolov7", anchors_p5);
    put(g, "backbone:\n  [\n");
    conv(g, -1, 32, 3, 1);
    conv(g, -1, 64, 3, 2);
    conv(g, -1, 64, 3, 1);
    conv(g, -1, 128, 3, 2);
    elan(g, 64, 64, 4, bb_cat, 256);
    mp_block(g, 128, -1);
    int p3 = elan(g, 128, 128, 4, bb_cat, 512);
    mp_block(g, 256, -1);
    int p4 = elan(g, 256, 256, 4, bb_cat, 1024);
    mp_block(g, 512, -1);
    elan(g, 256, 256, 4, bb_cat, 1024);
    put(g, "  ]\nhead:\n  [\n");
    int spp = layer(g, "[-1, 1, SPPCSPC, [512]]");
    upsample_merge(g, 256, p4);
    int h4 = elan(g, 256, 128, 4, hd_cat, 256);
    upsample_merge(g, 128, p3);
    int o3 = elan(g, 128, 64, 4, hd_cat, 128);
    mp_block(g, 128, h4);
    int o4 = elan(g, 256, 128, 4, hd_cat, 256);
    mp_block(g, 256, spp);
    int o5 = elan(g, 512, 256, 4, hd_cat, 512);
    char t[128];
    int r[3], src[3] = {o3, o4, o5}, c[3] = {256, 512, 1024};
    for (int i = 0; i < 3; i++) {
        snprintf(t, sizeof t, "[%d, 1, RepConv, [%d, 3, 1]]", src[i], c[i]);
        r[i] = layer(g, t);
    }
    snprintf(t, sizeof t, "[[%d, %d, %d], 1, IDetect, [nc, anchors]]", r[0], r[1], r[2]);
    layer(g, t);
    put(g, "  ]\n");
}

static void gen_yolov7x(gen *g)
{
    static const char cat[] = "[-1, -3, -5, -7, -8]";
    header(g, "yolov7x", anchors_p5);
    put(g, "backbone:\n  [\n");
    conv(g, -1, 40, 3, 1);
    conv(g, -1, 80, 3, 2);
    conv(g, -1, 80, 3, 1);
    conv(g, -1, 160, 3, 2);
    elan(g, 64, 64, 6, cat, 320);
    mp_block(g, 160, -1);
    int p3 = elan(g, 128, 128, 6, cat, 640);
    mp_block(g, 320, -1);
    int p4 = elan(g, 256, 256, 6, cat, 1280);
    mp_block(g, 640, -1);
    elan(g, 256, 256, 6, cat, 1280);
    put(g, "  ]\nhead:\n  [\n");
    int spp = layer(g, "[-1, 1, SPPCSPC, [640]]");
    upsample_merge(g, 320, p4);
    int h4 = elan(g, 256, 256, 6, cat, 320);
    upsample_merge(g, 160, p3);
    int o3 = elan(g, 128, 128, 6, cat, 160);
    mp_block(g, 160, h4);
    int o4 = elan(g, 256, 256, 6, cat, 320);
    mp_block(g, 320, spp);
    int o5 = elan(g, 512, 512, 6, cat, 640);
    int r0 = conv(g, o3, 320, 3, 1), r1 = conv(g, o4, 640, 3, 1), r2 = conv(g, o5, 1280, 3, 1);
    char t[128];
    snprintf(t, sizeof t, "[[%d, %d, %d], 1, IDetect, [nc, anchors]]", r0, r1, r2);
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
        gen_yolov7(&g);
    else if (strcmp(name, "yolov7x") == 0)
        gen_yolov7x(&g);
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
