/* Training augmentation and the batch loader (lib/data/augment.c,
 * loader.c): hand-worked transforms on tiny images, YOLOv7's box filter,
 * mosaic bounds on synthetic data, and the loader's determinism (worker
 * count, resuming, epochs), letterbox-only mode, errors and shutdown.
 * White-box. Test files are written in the working directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/data/data.h"

/* ------------------------------------------------------------ helpers */

static uint8_t *noise_image(int w, int h, uint64_t seed)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    assert_non_null(p);
    ypr_rng r;
    ypr__rng_seed(&r, seed);
    for (int i = 0; i < w * h * 3; i++)
        p[i] = (uint8_t)(ypr__rng_u64(&r) >> 56);
    return p;
}

static const ypr_aug_cfg hyp_p5 = {   /* YOLOv7 hyp.scratch.p5.yaml */
    .hsv_h = 0.015f, .hsv_s = 0.7f, .hsv_v = 0.4f, .degrees = 0, .translate = 0.2f,
    .scale = 0.9f, .shear = 0, .perspective = 0, .flipud = 0, .fliplr = 0.5f,
    .mosaic = 1, .mixup = 0.15f};

/* ------------------------------------------------------------ transforms */

static void test_identity_warp(void **state)
{
    (void)state;
    int w = 37, h = 29;
    uint8_t *src = noise_image(w, h, 1), *dst = malloc((size_t)w * h * 3);
    assert_non_null(dst);
    const double eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    assert_int_equal(ypr__aug_warp(src, w, h, eye, 0, dst, w, h), 0);
    assert_memory_equal(src, dst, (size_t)w * h * 3);
    assert_int_equal(ypr__aug_warp(src, w, h, eye, 1, dst, w, h), 0);
    assert_memory_equal(src, dst, (size_t)w * h * 3);
    float rows[2 * YPR_AUG_ROW] = {3, 1.5f, 2, 20, 17, 0, 4, 4, 30, 25};
    float copy[2 * YPR_AUG_ROW];
    memcpy(copy, rows, sizeof rows);
    assert_int_equal(ypr__aug_warp_boxes(rows, 2, eye, 0, 1.0, w, h), 2);
    assert_memory_equal(rows, copy, sizeof rows);
    /* a singular matrix is refused */
    const double zero[9] = {0};
    assert_int_equal(ypr__aug_warp(src, w, h, zero, 0, dst, w, h), YPR_EINVAL);
    /* an integer translation moves pixels exactly and fills with 114 */
    const double shift[9] = {1, 0, 3, 0, 1, -2, 0, 0, 1};
    assert_int_equal(ypr__aug_warp(src, w, h, shift, 0, dst, w, h), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int sx = x - 3, sy = y + 2;
                uint8_t want = sx >= 0 && sy < h ? src[(sy * w + sx) * 3 + c] : YPR_AUG_FILL;
                assert_int_equal(dst[(y * w + x) * 3 + c], want);
            }
    free(src);
    free(dst);
}

static void test_flips(void **state)
{
    (void)state;
    int w = 8, h = 6;
    uint8_t *img = noise_image(w, h, 2), *orig = malloc((size_t)w * h * 3);
    assert_non_null(orig);
    memcpy(orig, img, (size_t)w * h * 3);
    float rows[YPR_AUG_ROW] = {1, 1, 2, 4, 5};
    ypr__aug_fliplr(img, w, h, rows, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            assert_memory_equal(img + (y * w + x) * 3, orig + (y * w + (w - 1 - x)) * 3, 3);
    /* pixels 1..3 of 8 become pixels 4..6: edges 4 and 7 */
    assert_true(rows[0] == 1 && rows[1] == 4 && rows[2] == 2 && rows[3] == 7 && rows[4] == 5);
    ypr__aug_fliplr(img, w, h, rows, 1);
    assert_memory_equal(img, orig, (size_t)w * h * 3);
    ypr__aug_flipud(img, w, h, rows, 1);
    for (int y = 0; y < h; y++)
        assert_memory_equal(img + y * w * 3, orig + (h - 1 - y) * w * 3, (size_t)w * 3);
    /* rows 2..4 of 6 become rows 1..3: edges 1 and 4 */
    assert_true(rows[1] == 1 && rows[2] == 1 && rows[3] == 4 && rows[4] == 4);
    free(img);
    free(orig);
}

/* A filled rectangle of a colour found nowhere else, warped by random
 * matrices: the transformed label must frame the colour's pixels. */
static void test_perspective_moves_box(void **state)
{
    (void)state;
    const int W = 160, H = 160;
    uint8_t *src = noise_image(W, H, 3), *dst = malloc((size_t)W * H * 3);
    assert_non_null(dst);
    for (int i = 0; i < W * H; i++)
        src[i * 3 + 1] = (uint8_t)(100 + src[i * 3 + 1] % 100);   /* green 100..199 */
    const int bx1 = 50, by1 = 60, bx2 = 100, by2 = 90;            /* pixel edges */
    for (int y = by1; y < by2; y++)
        for (int x = bx1; x < bx2; x++) {
            uint8_t *p = src + (y * W + x) * 3;
            p[0] = 255, p[1] = 0, p[2] = 255;
        }
    ypr_aug_cfg c = {.degrees = 20, .translate = 0.05f, .scale = 0.3f, .shear = 5};
    for (int t = 0; t < 12; t++) {
        ypr_rng r;
        ypr__rng_seed(&r, 100 + (uint64_t)t);
        c.perspective = t >= 8 ? 0.0005f : 0.0f;
        double m[9], s;
        ypr__aug_perspective_matrix(&r, &c, W, H, W, H, m, &s);
        assert_true(s >= 0.7 - 1e-9 && s <= 1.4 + 1e-9);
        assert_int_equal(ypr__aug_warp(src, W, H, m, c.perspective != 0, dst, W, H), 0);
        float row[YPR_AUG_ROW] = {7, bx1, by1, bx2, by2};
        assert_int_equal(ypr__aug_warp_boxes(row, 1, m, c.perspective != 0, s, W, H), 1);
        assert_true(row[0] == 7);
        int lx = W, ly = H, hx = -1, hy = -1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const uint8_t *p = dst + (y * W + x) * 3;
                if (p[0] >= 200 && p[1] <= 50 && p[2] >= 200) {
                    lx = x < lx ? x : lx, hx = x > hx ? x : hx;
                    ly = y < ly ? y : ly, hy = y > hy ? y : hy;
                }
            }
        assert_true(hx >= 0);
        /* the box must lie inside the frame for the comparison to hold */
        assert_true(row[1] > 0 && row[2] > 0 && row[3] < W && row[4] < H);
        assert_true(fabsf(row[1] - (float)lx) <= 2.0f);
        assert_true(fabsf(row[2] - (float)ly) <= 2.0f);
        assert_true(fabsf(row[3] - (float)(hx + 1)) <= 2.0f);
        assert_true(fabsf(row[4] - (float)(hy + 1)) <= 2.0f);
    }
    free(src);
    free(dst);
}

static void test_hsv(void **state)
{
    (void)state;
    int n = 40 * 30;
    uint8_t *img = noise_image(40, 30, 4), *orig = malloc((size_t)n * 3);
    assert_non_null(orig);
    memcpy(orig, img, (size_t)n * 3);
    ypr__aug_hsv(img, n, 1.0, 1.0, 1.0);
    assert_memory_equal(img, orig, (size_t)n * 3);
    /* hand-worked: V halved (grey, red); hue ×1.5 turns green (H 60) cyan (H 90) */
    uint8_t px[4][3] = {{100, 100, 100}, {200, 0, 0}, {0, 200, 0}, {0, 0, 0}};
    ypr__aug_hsv(px[0], 2, 1.0, 1.0, 0.5);
    assert_true(px[0][0] == 50 && px[0][1] == 50 && px[0][2] == 50);
    assert_true(px[1][0] == 100 && px[1][1] == 0 && px[1][2] == 0);
    ypr__aug_hsv(px[2], 2, 1.5, 1.0, 1.0);
    assert_true(px[2][0] == 0 && px[2][1] == 200 && px[2][2] == 200);
    assert_true(px[3][0] == 0 && px[3][1] == 0 && px[3][2] == 0);
    /* S to zero: grey at V = max */
    uint8_t q[3] = {30, 90, 180};
    ypr__aug_hsv(q, 1, 1.0, 0.0, 1.0);
    assert_true(q[0] == 180 && q[1] == 180 && q[2] == 180);
    free(img);
    free(orig);
}

static void test_box_candidates(void **state)
{
    (void)state;
    const float b10[4] = {0, 0, 10, 10};
    const float same[4] = {0, 0, 10, 10}, thin[4] = {0, 0, 2, 10}, small[4] = {5, 5, 8, 8},
                ok4[4] = {5, 5, 9, 9};
    assert_int_equal(ypr__aug_box_candidate(b10, same, 2, 20, 0.1f), 1);
    assert_int_equal(ypr__aug_box_candidate(b10, thin, 2, 20, 0.1f), 0);    /* w 2, not > 2 */
    assert_int_equal(ypr__aug_box_candidate(b10, small, 2, 20, 0.1f), 0);   /* 9/100 area */
    assert_int_equal(ypr__aug_box_candidate(b10, ok4, 2, 20, 0.1f), 1);     /* 16/100 area */
    const float b50[4] = {0, 0, 50, 5}, ar20[4] = {0, 0, 61, 3}, ar19[4] = {0, 0, 59, 3};
    assert_int_equal(ypr__aug_box_candidate(b50, ar20, 2, 20, 0.1f), 0);   /* aspect 20.3 */
    assert_int_equal(ypr__aug_box_candidate(b50, ar19, 2, 20, 0.1f), 1);   /* aspect 19.7 */
    /* through warp_boxes: the old box is scaled by s before the area test */
    const double eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    float r1[YPR_AUG_ROW] = {0, 0, 0, 10, 10};
    assert_int_equal(ypr__aug_warp_boxes(r1, 1, eye, 0, 2.0, 100, 100), 1);   /* 100/400 */
    float r2[YPR_AUG_ROW] = {0, 0, 0, 10, 10};
    assert_int_equal(ypr__aug_warp_boxes(r2, 1, eye, 0, 4.0, 100, 100), 0);   /* 100/1600 */
    /* clipping, then compaction keeps the order of the survivors */
    const double left5[9] = {1, 0, -5, 0, 1, 0, 0, 0, 1};
    float rr[3 * YPR_AUG_ROW] = {1, 2, 2, 12, 12, 2, 0, 0, 6, 6, 3, 20, 10, 30, 20};
    assert_int_equal(ypr__aug_warp_boxes(rr, 3, left5, 0, 1.0, 22, 22), 2);
    const float want[2 * YPR_AUG_ROW] = {1, 0, 2, 7, 12, 3, 15, 10, 22, 20};
    for (int i = 0; i < 2 * YPR_AUG_ROW; i++)
        assert_float_equal(rr[i], want[i], 1e-5);
}

static void test_mosaic_place(void **state)
{
    (void)state;
    int s = 4, s2 = 8;
    uint8_t canvas[8 * 8 * 3];
    memset(canvas, YPR_AUG_FILL, sizeof canvas);
    uint8_t img[2 * 3 * 3];   /* 3 wide, 2 high */
    for (int i = 0; i < (int)sizeof img; i++)
        img[i] = (uint8_t)i;
    float rows[YPR_AUG_ROW] = {5, 0, 0, 3, 2};
    /* top-left tile: the image's bottom-right corner at the centre (5, 3) */
    ypr__aug_mosaic_place(canvas, s, 5, 3, 0, img, 3, 2, rows, 1);
    for (int y = 0; y < s2; y++)
        for (int x = 0; x < s2; x++) {
            int in = x >= 2 && x < 5 && y >= 1 && y < 3;
            for (int c = 0; c < 3; c++)
                assert_int_equal(canvas[(y * s2 + x) * 3 + c],
                                 in ? img[((y - 1) * 3 + (x - 2)) * 3 + c] : YPR_AUG_FILL);
        }
    assert_true(rows[1] == 2 && rows[2] == 1 && rows[3] == 5 && rows[4] == 3);
    /* bottom-right tile cut by the canvas at (8, 8): labels clipped */
    float r3[YPR_AUG_ROW] = {5, 0, 0, 3, 2};
    ypr__aug_mosaic_place(canvas, s, 6, 7, 3, img, 3, 2, r3, 1);
    assert_memory_equal(canvas + (7 * s2 + 6) * 3, img, 6);
    assert_true(r3[1] == 6 && r3[2] == 7 && r3[3] == 8 && r3[4] == 8);
}

static void test_beta(void **state)
{
    (void)state;
    ypr_rng r;
    ypr__rng_seed(&r, 9);
    double sum = 0, sq = 0;
    const int n = 4000;
    for (int i = 0; i < n; i++) {
        double b = ypr__aug_beta(&r, 8.0, 8.0);
        assert_true(b > 0 && b < 1);
        sum += b;
        sq += b * b;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* Beta(8, 8): mean 1/2, variance 1/68 */
    assert_true(fabs(mean - 0.5) < 0.01);
    assert_true(fabs(var - 1.0 / 68.0) < 0.002);
}

/* Mosaic samples of synthetic images: S×S, pixels in [0, 1], labels inside. */
static void test_mosaic_sample(void **state)
{
    (void)state;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(6, 96, 5, 11, &ds), 0);
    ypr_aug_scratch sc;
    memset(&sc, 0, sizeof sc);
    const int S = 64;
    float *chw = malloc((size_t)3 * S * S * sizeof(float));
    assert_non_null(chw);
    ypr_aug_cfg c = hyp_p5;
    c.mixup = 0.5f;
    c.degrees = 5;
    c.shear = 2;
    int total = 0;
    for (int t = 0; t < 16; t++) {
        ypr_rng r;
        ypr__rng_seed(&r, 50 + (uint64_t)t);
        const float *lab;
        int n;
        for (int i = 0; i < 3 * S * S; i++)
            chw[i] = -1.0f;
        assert_int_equal(ypr__aug_sample(ds, t % 6, 1, &c, S, &r, &sc, chw, &lab, &n), 0);
        for (int i = 0; i < 3 * S * S; i++)
            assert_true(chw[i] >= 0.0f && chw[i] <= 1.0f);
        for (int j = 0; j < n; j++) {
            const float *l = lab + j * YPR_AUG_ROW;
            assert_true(l[0] >= 0 && l[0] < 5 && l[0] == floorf(l[0]));
            assert_true(l[3] > 2.0f / S && l[4] > 2.0f / S);
            assert_true(l[1] - l[3] / 2 >= -1e-5f && l[1] + l[3] / 2 <= 1 + 1e-5f);
            assert_true(l[2] - l[4] / 2 >= -1e-5f && l[2] + l[4] / 2 <= 1 + 1e-5f);
        }
        total += n;
    }
    assert_true(total > 0);
    ypr__aug_scratch_free(&sc);
    free(chw);
    ypr_dataset_free(ds);
}

/* ------------------------------------------------------------ the loader */

typedef struct run {
    int nb;
    float **img;
    float **tgt;
    int *n;
    int64_t *nt;
} run;

static void run_free(run *r)
{
    for (int j = 0; j < r->nb; j++) {
        free(r->img[j]);
        free(r->tgt[j]);
    }
    free(r->img);
    free(r->tgt);
    free(r->n);
    free(r->nt);
    memset(r, 0, sizeof *r);
}

/* Every batch of epoch `epoch` from batch `first` on, copied. */
static run collect(const ypr_dataset *ds, const ypr_loader_opts *o, int epoch, int first)
{
    ypr_loader *l;
    assert_int_equal(ypr__loader_create(ds, o, &l), 0);
    int nb = ypr__loader_num_batches(l);
    assert_int_equal(nb, (ypr_dataset_count(ds) + o->batch - 1) / o->batch);
    run r = {nb - first, calloc((size_t)nb, sizeof(float *)), calloc((size_t)nb, sizeof(float *)),
             calloc((size_t)nb, sizeof(int)), calloc((size_t)nb, sizeof(int64_t))};
    assert_int_equal(ypr__loader_start(l, epoch, first), 0);
    size_t per = (size_t)3 * o->size * o->size;
    for (int j = 0; j < r.nb; j++) {
        ypr_batch b;
        assert_int_equal(ypr__loader_next(l, &b), 0);
        int want = ypr_dataset_count(ds) - (first + j) * o->batch;
        assert_int_equal(b.n, want < o->batch ? want : o->batch);
        r.n[j] = b.n;
        r.nt[j] = b.nt;
        assert_non_null(b.images);
        assert_non_null(b.targets);
        r.img[j] = malloc(per * (size_t)b.n * sizeof(float));
        r.tgt[j] = malloc((size_t)(b.nt ? b.nt : 1) * 6 * sizeof(float));
        memcpy(r.img[j], b.images, per * (size_t)b.n * sizeof(float));
        memcpy(r.tgt[j], b.targets, (size_t)b.nt * 6 * sizeof(float));
        for (int64_t k = 0; k < b.nt; k++)
            assert_true(b.targets[k * 6] >= 0 && b.targets[k * 6] < b.n);
    }
    ypr_batch b;
    assert_int_equal(ypr__loader_next(l, &b), YPR_ENOTFOUND);
    assert_int_equal(ypr__loader_next(l, &b), YPR_ENOTFOUND);
    ypr__loader_free(l);
    return r;
}

static void assert_same(const run *a, int ao, const run *b, int bo, int size)
{
    for (int j = 0; j + bo < b->nb && j + ao < a->nb; j++) {
        assert_int_equal(a->n[j + ao], b->n[j + bo]);
        assert_int_equal(a->nt[j + ao], b->nt[j + bo]);
        assert_memory_equal(a->img[j + ao], b->img[j + bo],
                            (size_t)3 * size * size * a->n[j + ao] * sizeof(float));
        assert_memory_equal(a->tgt[j + ao], b->tgt[j + bo],
                            (size_t)a->nt[j + ao] * 6 * sizeof(float));
    }
}

static ypr_loader_opts train_opts(void)
{
    ypr_loader_opts o = {.batch = 4, .size = 64, .augment = 1, .aug = hyp_p5, .workers = 1,
                         .seed = 1234, .shuffle = 1};
    o.aug.mixup = 0.5f;
    o.aug.flipud = 0.3f;
    o.aug.degrees = 3;
    o.aug.mosaic = 0.7f;
    return o;
}

static void test_loader_determinism(void **state)
{
    (void)state;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(10, 64, 4, 5, &ds), 0);
    ypr_loader_opts o = train_opts();
    run one = collect(ds, &o, 0, 0);
    assert_int_equal(one.nb, 3);
    o.workers = 3;
    run three = collect(ds, &o, 0, 0);
    assert_same(&one, 0, &three, 0, o.size);
    run resumed = collect(ds, &o, 0, 1);
    assert_int_equal(resumed.nb, 2);
    assert_same(&one, 1, &resumed, 0, o.size);
    run epoch1 = collect(ds, &o, 1, 0);
    assert_true(memcmp(one.img[0], epoch1.img[0], (size_t)4 * 3 * 64 * 64 * sizeof(float)) != 0);
    int64_t labels = 0;
    for (int j = 0; j < one.nb; j++)
        labels += one.nt[j];
    assert_true(labels > 0);
    run_free(&one);
    run_free(&three);
    run_free(&resumed);
    run_free(&epoch1);
    ypr_dataset_free(ds);
}

/* A small YOLO folder dataset of non-square PNGs (labels normalized). */
static void write_png(const char *path, int w, int h, uint64_t seed)
{
    ypr_image img = {w, h, noise_image(w, h, seed)};
    assert_int_equal(ypr__png_write(path, &img), 0);
    free(img.rgb);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_folder_dataset(void)
{
    mkdir("aug_ds", 0755);
    mkdir("aug_ds/images", 0755);
    mkdir("aug_ds/labels", 0755);
    write_png("aug_ds/images/a.png", 50, 30, 21);
    write_text("aug_ds/labels/a.txt", "1 0.5 0.5 0.4 0.6\n0 0.2 0.3 0.2 0.2\n");
    write_png("aug_ds/images/b.png", 20, 40, 22);
    write_text("aug_ds/labels/b.txt", "2 0.25 0.75 0.5 0.5\n");
    write_png("aug_ds/images/c.png", 64, 64, 23);
    write_text("aug_ds/labels/c.txt", "");
}

static void test_loader_letterbox_only(void **state)
{
    (void)state;
    make_folder_dataset();
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open("aug_ds/images", NULL, YPR_DATASET_STRICT, &ds), 0);
    assert_int_equal(ypr_dataset_count(ds), 3);
    const int S = 32;
    ypr_loader_opts o = {.batch = 2, .size = S, .augment = 0, .aug = hyp_p5, .workers = 2,
                         .seed = 7, .shuffle = 0};
    run r = collect(ds, &o, 3, 0);
    assert_int_equal(r.nb, 2);
    float *want = malloc((size_t)3 * S * S * sizeof(float));
    assert_non_null(want);
    for (int i = 0; i < 3; i++) {
        uint8_t *rgb;
        int w, h;
        assert_int_equal(ypr_dataset_image(ds, i, &rgb, &w, &h), 0);
        ypr_letterbox lb;
        assert_int_equal(ypr__letterbox(rgb, w, h, S, S, 114, want, &lb), 0);
        ypr_free(rgb);
        assert_memory_equal(r.img[i / 2] + (size_t)(i % 2) * 3 * S * S, want,
                            (size_t)3 * S * S * sizeof(float));
        float rows[16 * 6];
        int n;
        assert_int_equal(ypr_dataset_labels(ds, i, rows, 16, &n), 0);
        const float *t = r.tgt[i / 2];
        int64_t k = 0;
        while (k < r.nt[i / 2] && t[k * 6] != (float)(i % 2))
            k++;
        for (int j = 0; j < n; j++, k++) {
            const float *l = rows + j * 6, *g = t + k * 6;
            assert_true(k < r.nt[i / 2] && g[0] == (float)(i % 2) && g[1] == l[0]);
            float x1 = l[1] * lb.ratio + lb.pad_x, x2 = l[3] * lb.ratio + lb.pad_x;
            float y1 = l[2] * lb.ratio + lb.pad_y, y2 = l[4] * lb.ratio + lb.pad_y;
            assert_float_equal(g[2], (x1 + x2) / 2 / S, 1e-5);
            assert_float_equal(g[3], (y1 + y2) / 2 / S, 1e-5);
            assert_float_equal(g[4], (x2 - x1) / S, 1e-5);
            assert_float_equal(g[5], (y2 - y1) / S, 1e-5);
        }
    }
    /* image a: 50×30 → 32×19 (ratio 0.64), pad (32-19)/2 = 6.5 → top 6 */
    assert_int_equal(r.nt[0], 3);
    assert_float_equal(r.tgt[0][2], 0.5f, 1e-5);
    assert_float_equal(r.tgt[0][3], (0.5f * 30 * 0.64f + 6) / S, 1e-5);
    assert_float_equal(r.tgt[0][4], 0.4f * 50 * 0.64f / S, 1e-5);
    run_free(&r);
    free(want);

    /* an image that no longer decodes: the error names it */
    write_text("aug_ds/images/b.png", "not a png any more");
    ypr_loader *l;
    o.augment = 1;
    assert_int_equal(ypr__loader_create(ds, &o, &l), 0);
    assert_int_equal(ypr__loader_start(l, 0, 0), 0);
    ypr_batch b;
    int rc = ypr__loader_next(l, &b);
    assert_true(rc < 0);
    assert_non_null(strstr(ypr_last_error(), "b.png"));
    ypr__loader_free(l);
    ypr_dataset_free(ds);
    unlink("aug_ds/images/a.png");
    unlink("aug_ds/images/b.png");
    unlink("aug_ds/images/c.png");
    unlink("aug_ds/labels/a.txt");
    unlink("aug_ds/labels/b.txt");
    unlink("aug_ds/labels/c.txt");
    rmdir("aug_ds/images");
    rmdir("aug_ds/labels");
    rmdir("aug_ds");
}

/* A real-world layout: the synthetic set written as JPEG files (decoded by
 * libjpeg-turbo in the loader threads) trains on the same boxes as its PNG
 * twin, with pixels within JPEG's loss, whatever the worker count. */
static void rm_tree(const char *dir, int n, const char *ext)
{
    char p[256];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/images/val/%06d.%s", dir, i, ext);
        unlink(p);
        snprintf(p, sizeof p, "%s/labels/val/%06d.txt", dir, i);
        unlink(p);
    }
    const char *sub[] = {"images/val", "labels/val", "images", "labels", "data.yaml"};
    for (int k = 0; k < 5; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, sub[k]);
        k == 4 ? unlink(p) : rmdir(p);
    }
    rmdir(dir);
}

static void test_loader_jpeg(void **state)
{
    (void)state;
    const int N = 12, S = 64;
    ypr_dataset *syn, *png, *jpg;
    assert_int_equal(ypr_dataset_synth(N, S, 3, 9, &syn), 0);
    assert_int_equal(ypr_dataset_write_yolo_jpeg(syn, "aug_jpg", 101), YPR_ERANGE);
    assert_int_equal(ypr_dataset_write_yolo_jpeg(syn, "aug_jpg", 95), 0);
    assert_int_equal(ypr_dataset_write_yolo(syn, "aug_png"), 0);
    assert_int_equal(ypr_dataset_open("aug_jpg/data.yaml", "val", YPR_DATASET_STRICT, &jpg), 0);
    assert_int_equal(ypr_dataset_open("aug_png/data.yaml", "val", YPR_DATASET_STRICT, &png), 0);
    assert_int_equal(ypr_dataset_count(jpg), N);
    assert_non_null(strstr(ypr_dataset_image_path(jpg, 0), "000000.jpg"));
    ypr_loader_opts o = train_opts();
    o.workers = 1;
    run a = collect(png, &o, 0, 0), b = collect(jpg, &o, 0, 0);
    o.workers = 3;
    run c = collect(jpg, &o, 0, 0);
    assert_same(&b, 0, &c, 0, o.size);   /* decoding in 1 or 3 threads: the same batches */
    double err = 0, n = 0;
    for (int j = 0; j < a.nb; j++) {
        assert_int_equal(a.nt[j], b.nt[j]);   /* the same boxes after the same augmentation */
        assert_memory_equal(a.tgt[j], b.tgt[j], (size_t)a.nt[j] * 6 * sizeof(float));
        for (size_t k = 0; k < (size_t)3 * o.size * o.size * (size_t)a.n[j]; k++, n++)
            err += fabs(a.img[j][k] - b.img[j][k]);
    }
    err /= n;
    print_message("JPEG q95 vs PNG: mean |difference| %.4f over %.0f values\n", err, n);
    assert_true(err > 0 && err < 0.03);   /* lossy, but the same pictures */
    run_free(&a);
    run_free(&b);
    run_free(&c);
    ypr_dataset_free(jpg);
    ypr_dataset_free(png);
    ypr_dataset_free(syn);
    rm_tree("aug_jpg", N, "jpg");
    rm_tree("aug_png", N, "png");
}

static void test_loader_errors(void **state)
{
    (void)state;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(5, 64, 3, 1, &ds), 0);
    ypr_loader *l = (ypr_loader *)&l;
    ypr_loader_opts o = train_opts();
    o.batch = 0;
    assert_int_equal(ypr__loader_create(ds, &o, &l), YPR_EINVAL);
    assert_null(l);
    o = train_opts();
    o.size = 48;
    assert_int_equal(ypr__loader_create(ds, &o, &l), YPR_EINVAL);
    assert_non_null(strstr(ypr_last_error(), "48"));
    o = train_opts();
    o.workers = 0;
    assert_int_equal(ypr__loader_create(ds, &o, &l), YPR_EINVAL);
    o = train_opts();
    o.aug.mosaic = 1.5f;
    assert_int_equal(ypr__loader_create(ds, &o, &l), YPR_EINVAL);
    o.aug.mosaic = NAN;
    assert_int_equal(ypr__loader_create(ds, &o, &l), YPR_EINVAL);
    o = train_opts();
    assert_int_equal(ypr__loader_create(NULL, &o, &l), YPR_EINVAL);
    assert_int_equal(ypr__loader_create(ds, &o, &l), 0);
    ypr_batch b;
    assert_int_equal(ypr__loader_next(l, &b), YPR_ESTATE);
    assert_int_equal(ypr__loader_start(l, -1, 0), YPR_EINVAL);
    assert_int_equal(ypr__loader_start(l, 0, 3), YPR_EINVAL);   /* 2 batches */
    assert_int_equal(ypr__loader_start(l, 0, 2), 0);            /* at the end */
    assert_int_equal(ypr__loader_next(l, &b), YPR_ENOTFOUND);
    ypr__loader_free(l);
    ypr__loader_free(NULL);
    ypr_dataset_free(ds);
}

/* Freeing while workers are busy, and restarting mid-epoch. */
static void test_loader_free_mid_epoch(void **state)
{
    (void)state;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(24, 64, 3, 2, &ds), 0);
    ypr_loader_opts o = train_opts();
    o.batch = 3;
    o.workers = 3;
    ypr_loader *l;
    assert_int_equal(ypr__loader_create(ds, &o, &l), 0);
    ypr__loader_free(l);                       /* never started */
    assert_int_equal(ypr__loader_create(ds, &o, &l), 0);
    assert_int_equal(ypr__loader_start(l, 0, 0), 0);
    ypr__loader_free(l);                       /* started, nothing taken */
    assert_int_equal(ypr__loader_create(ds, &o, &l), 0);
    assert_int_equal(ypr__loader_start(l, 0, 0), 0);
    ypr_batch b;
    assert_int_equal(ypr__loader_next(l, &b), 0);
    assert_int_equal(ypr__loader_next(l, &b), 0);
    /* restart mid-epoch: batch 5 of epoch 2 equals a fresh run's */
    assert_int_equal(ypr__loader_start(l, 2, 5), 0);
    assert_int_equal(ypr__loader_next(l, &b), 0);
    float *got = malloc((size_t)b.n * 3 * 64 * 64 * sizeof(float));
    assert_non_null(got);
    memcpy(got, b.images, (size_t)b.n * 3 * 64 * 64 * sizeof(float));
    int n = b.n;
    assert_int_equal(ypr__loader_next(l, &b), 0);
    ypr__loader_free(l);                       /* mid-epoch */
    o.workers = 1;
    run ref = collect(ds, &o, 2, 5);
    assert_int_equal(ref.n[0], n);
    assert_memory_equal(ref.img[0], got, (size_t)n * 3 * 64 * 64 * sizeof(float));
    run_free(&ref);
    free(got);
    ypr_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_warp),
        cmocka_unit_test(test_flips),
        cmocka_unit_test(test_perspective_moves_box),
        cmocka_unit_test(test_hsv),
        cmocka_unit_test(test_box_candidates),
        cmocka_unit_test(test_mosaic_place),
        cmocka_unit_test(test_beta),
        cmocka_unit_test(test_mosaic_sample),
        cmocka_unit_test(test_loader_determinism),
        cmocka_unit_test(test_loader_letterbox_only),
        cmocka_unit_test(test_loader_jpeg),
        cmocka_unit_test(test_loader_errors),
        cmocka_unit_test(test_loader_free_mid_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
