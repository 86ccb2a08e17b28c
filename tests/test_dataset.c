/* Datasets through the public API: the synthetic dataset (determinism,
 * labels that match what is drawn), the YOLO writer and reader round trip,
 * hand-made YOLO trees with each kind of label problem (STRICT and SKIP),
 * Pascal VOC with a difficult object, data .yaml forms, missing keys and
 * splits, corrupt images, FIFOs/directories/link loops given as any input,
 * VOC trees without Annotations/ or with truncated XML, skip counting and
 * the cap on skip warnings. Files are made in the working folder. */
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "yolopr.h"

#define ROOT "dataset_work"

/* ------------------------------------------------------------- helpers */

static void mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0777);
            *p = '/';
        }
    mkdir(buf, 0777);
}

static void write_file(const char *path, const char *text)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) {
        *sl = 0;
        mkdirs(dir);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_png(const char *path, int w, int h, uint8_t v)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) {
        *sl = 0;
        mkdirs(dir);
    }
    uint8_t *rgb = malloc((size_t)w * h * 3);
    assert_non_null(rgb);
    for (int i = 0; i < w * h * 3; i++)
        rgb[i] = (uint8_t)(v + i % 7);
    assert_int_equal(ypr_image_save_png(path, rgb, w, h), YPR_OK);
    free(rgb);
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static void expect_open(const char *path, const char *split, int policy, int code,
                        const char *what)
{
    ypr_dataset *ds = (ypr_dataset *)1;
    int rc = ypr_dataset_open(path, split, policy, &ds);
    if (rc != code)
        fail_msg("%s: got %s (%s), want %s", path, ypr_err_name(rc), ypr_last_error(),
                 ypr_err_name(code));
    assert_null(ds);
    if (!contains(ypr_last_error(), what))
        fail_msg("'%s' not in '%s'", what, ypr_last_error());
}

/* rm -rf (the work folder is reused between runs) */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* number of entries in a folder other than . and .., -1 if unreadable */
static int entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int nwarn;
static void count_log(void *user, int level, const char *msg)
{
    (void)user;
    (void)msg;
    if (level == YPR_LOG_WARN)
        nwarn++;
}

/* ---------------------------------------------------------- synthetic */

static void test_synth_args(void **state)
{
    (void)state;
    ypr_dataset *ds = (ypr_dataset *)1;
    assert_int_equal(ypr_dataset_synth(0, 64, 3, 1, &ds), YPR_EINVAL);
    assert_null(ds);
    assert_int_equal(ypr_dataset_synth(10, 31, 3, 1, &ds), YPR_EINVAL);
    assert_int_equal(ypr_dataset_synth(10, 64, 0, 1, &ds), YPR_EINVAL);
    assert_int_equal(ypr_dataset_synth(10, 64, 81, 1, &ds), YPR_EINVAL);
    assert_int_equal(ypr_dataset_synth(10, 64, 3, 1, NULL), YPR_EINVAL);
    assert_int_equal(ypr_dataset_synth(10, 64, 80, 1, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 10);
    assert_int_equal(ypr_dataset_num_classes(ds), 80);
    assert_string_equal(ypr_dataset_class_name(ds, 0), "circle");
    assert_string_equal(ypr_dataset_class_name(ds, 1), "square");
    assert_non_null(ypr_dataset_class_name(ds, 79));
    assert_null(ypr_dataset_class_name(ds, 80));
    assert_string_equal(ypr_dataset_image_path(ds, 3), "");
    /* all 80 names distinct */
    for (int a = 0; a < 80; a++)
        for (int b = a + 1; b < 80; b++)
            assert_string_not_equal(ypr_dataset_class_name(ds, a), ypr_dataset_class_name(ds, b));
    uint8_t *rgb;
    int w, h, n;
    assert_int_equal(ypr_dataset_image(ds, 10, &rgb, &w, &h), YPR_ERANGE);
    assert_int_equal(ypr_dataset_image(ds, -1, &rgb, &w, &h), YPR_ERANGE);
    assert_int_equal(ypr_dataset_labels(ds, 10, NULL, 0, &n), YPR_ERANGE);
    assert_int_equal(ypr_dataset_labels(ds, 0, NULL, 3, &n), YPR_EINVAL);
    ypr_dataset_free(ds);
    ypr_dataset_free(NULL);
}

static void test_synth_determinism(void **state)
{
    (void)state;
    ypr_dataset *a, *b, *c;
    assert_int_equal(ypr_dataset_synth(6, 128, 5, 42, &a), YPR_OK);
    assert_int_equal(ypr_dataset_synth(6, 128, 5, 42, &b), YPR_OK);
    assert_int_equal(ypr_dataset_synth(6, 128, 5, 43, &c), YPR_OK);
    int pix_diff = 0, lab_diff = 0;
    for (int i = 0; i < 6; i++) {
        uint8_t *pa, *pb, *pc;
        int w, h, w2, h2;
        assert_int_equal(ypr_dataset_image(a, i, &pa, &w, &h), YPR_OK);
        assert_int_equal(ypr_dataset_image(b, i, &pb, &w2, &h2), YPR_OK);
        assert_int_equal(w, 128);
        assert_int_equal(h, 128);
        assert_int_equal(w2, 128);
        assert_memory_equal(pa, pb, (size_t)w * h * 3);
        /* image order does not matter: rendering image i again gives the same */
        uint8_t *pa2;
        assert_int_equal(ypr_dataset_image(a, i, &pa2, &w, &h), YPR_OK);
        assert_memory_equal(pa, pa2, (size_t)w * h * 3);
        assert_int_equal(ypr_dataset_image(c, i, &pc, &w, &h), YPR_OK);
        pix_diff += memcmp(pa, pc, (size_t)w * h * 3) != 0;
        float ra[48], rb[48], rc[48];
        int na, nb, nc;
        assert_int_equal(ypr_dataset_labels(a, i, ra, 8, &na), YPR_OK);
        assert_int_equal(ypr_dataset_labels(b, i, rb, 8, &nb), YPR_OK);
        assert_int_equal(ypr_dataset_labels(c, i, rc, 8, &nc), YPR_OK);
        assert_int_equal(na, nb);
        assert_memory_equal(ra, rb, (size_t)na * 6 * sizeof(float));
        lab_diff += na != nc || memcmp(ra, rc, (size_t)na * 6 * sizeof(float)) != 0;
        ypr_free(pa);
        ypr_free(pa2);
        ypr_free(pb);
        ypr_free(pc);
    }
    assert_int_equal(pix_diff, 6);
    assert_true(lab_diff >= 5);
    ypr_dataset_free(a);
    ypr_dataset_free(b);
    ypr_dataset_free(c);
}

/* Mean absolute colour difference between the 2-px band just inside a box
 * and the 2-px band just outside it (parts inside the image). A tight box
 * around a drawn object has its object on the inside band; a box that is
 * not around anything sees the same smooth background on both sides. */
static double edge_contrast(const uint8_t *rgb, int W, int H, const float *r)
{
    int x1 = (int)r[1], y1 = (int)r[2], x2 = (int)r[3], y2 = (int)r[4];
    double in[3] = {0}, out[3] = {0};
    long nin = 0, nout = 0;
    for (int y = y1 - 2; y < y2 + 2; y++)
        for (int x = x1 - 2; x < x2 + 2; x++) {
            if (x < 0 || y < 0 || x >= W || y >= H)
                continue;
            int inside = x >= x1 && x < x2 && y >= y1 && y < y2;
            int band_in = inside && (x < x1 + 2 || x >= x2 - 2 || y < y1 + 2 || y >= y2 - 2);
            if (!inside || band_in) {
                const uint8_t *p = rgb + ((size_t)y * W + x) * 3;
                for (int c = 0; c < 3; c++)
                    (inside ? in : out)[c] += p[c];
                if (inside)
                    nin++;
                else
                    nout++;
            }
        }
    if (!nin || !nout)
        return 1e9;   /* box fills the image: nothing outside to compare */
    double d = 0;
    for (int c = 0; c < 3; c++)
        d += fabs(in[c] / nin - out[c] / nout);
    return d / 3;
}

static void test_synth_labels_match_pixels(void **state)
{
    (void)state;
    const int N = 40, S = 160;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(N, S, 8, 7, &ds), YPR_OK);
    uint8_t *img[40];
    float rows[40][48];
    int n[40], total = 0, empty = 0;
    long small = 0, clipped = 0;
    for (int i = 0; i < N; i++) {
        int w, h;
        assert_int_equal(ypr_dataset_image(ds, i, &img[i], &w, &h), YPR_OK);
        assert_int_equal(ypr_dataset_labels(ds, i, rows[i], 8, &n[i]), YPR_OK);
        assert_true(n[i] >= 0 && n[i] <= 8);
        empty += n[i] == 0;
        total += n[i];
        for (int k = 0; k < n[i]; k++) {
            const float *r = rows[i] + k * 6;
            assert_true(r[0] >= 0 && r[0] < 8 && r[0] == floorf(r[0]));
            assert_true(r[1] >= 0 && r[2] >= 0 && r[3] <= S && r[4] <= S);
            assert_true(r[3] - r[1] >= 3 && r[4] - r[2] >= 3);
            assert_true(r[5] == 0);
            small += (r[3] - r[1]) * (r[4] - r[2]) < 0.01f * S * S;
            clipped += r[1] == 0 || r[2] == 0 || r[3] == S || r[4] == S;
        }
        /* capacity smaller than the count: count is still the total */
        int n2;
        float one[6];
        assert_int_equal(ypr_dataset_labels(ds, i, one, 1, &n2), YPR_OK);
        assert_int_equal(n2, n[i]);
    }
    assert_true(empty <= 2);
    assert_true(total >= 2 * N);
    assert_true(small > 0);     /* some small objects */
    assert_true(clipped > 0);   /* some cut by the border */
    /* the real labels: nearly every box has a visible edge contrast */
    int good = 0, cnt = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < n[i]; k++, cnt++)
            good += edge_contrast(img[i], S, S, rows[i] + k * 6) > 12;
    /* the control: each image scored with the next image's labels */
    int ctl = 0, cnt2 = 0;
    for (int i = 0; i < N; i++) {
        int j = (i + 1) % N;
        for (int k = 0; k < n[j]; k++, cnt2++)
            ctl += edge_contrast(img[i], S, S, rows[j] + k * 6) > 12;
    }
    double fr = (double)good / cnt, fc = (double)ctl / cnt2;
    print_message("edge contrast > 12: labels %.2f, control %.2f\n", fr, fc);
    assert_true(fr >= 0.7);
    assert_true(fc <= fr - 0.4);
    for (int i = 0; i < N; i++)
        ypr_free(img[i]);
    ypr_dataset_free(ds);
}

/* ---------------------------------------------------- write / open again */

static void test_write_open_roundtrip(void **state)
{
    (void)state;
    ypr_dataset *ds, *back;
    assert_int_equal(ypr_dataset_synth(12, 96, 6, 3, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/rt"), YPR_OK);
    assert_int_equal(ypr_dataset_open(ROOT "/rt/data.yaml", "val", YPR_DATASET_STRICT, &back),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(back), 12);
    assert_int_equal(ypr_dataset_num_skipped(back), 0);
    assert_int_equal(ypr_dataset_num_classes(back), 6);
    for (int c = 0; c < 6; c++)
        assert_string_equal(ypr_dataset_class_name(ds, c), ypr_dataset_class_name(back, c));
    for (int i = 0; i < 12; i++) {
        assert_true(contains(ypr_dataset_image_path(back, i), "images/val/"));
        uint8_t *pa, *pb;
        int w, h, w2, h2;
        assert_int_equal(ypr_dataset_image(ds, i, &pa, &w, &h), YPR_OK);
        assert_int_equal(ypr_dataset_image(back, i, &pb, &w2, &h2), YPR_OK);
        assert_int_equal(w, w2);
        assert_int_equal(h, h2);
        assert_memory_equal(pa, pb, (size_t)w * h * 3);
        ypr_free(pa);
        ypr_free(pb);
        float ra[48], rb[48];
        int na, nb;
        assert_int_equal(ypr_dataset_labels(ds, i, ra, 8, &na), YPR_OK);
        assert_int_equal(ypr_dataset_labels(back, i, rb, 8, &nb), YPR_OK);
        assert_int_equal(na, nb);
        for (int k = 0; k < na * 6; k++) {
            double scale = (k % 6 >= 1 && k % 6 <= 4) ? 96.0 : 1.0;
            assert_true(fabs(ra[k] - rb[k]) / scale <= 1e-5);
        }
    }
    ypr_dataset_free(back);
    /* also as a folder of images, and default split */
    assert_int_equal(ypr_dataset_open(ROOT "/rt", NULL, YPR_DATASET_STRICT, &back), YPR_OK);
    assert_int_equal(ypr_dataset_count(back), 12);
    ypr_dataset_free(back);
    assert_int_equal(ypr_dataset_open(ROOT "/rt/data.yaml", NULL, YPR_DATASET_STRICT, &back),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(back), 12);
    ypr_dataset_free(back);
    /* a smaller dataset is not written over it: nothing is replaced or deleted */
    char *yaml_before = strdup(read_all(ROOT "/rt/data.yaml"));
    assert_non_null(yaml_before);
    ypr_dataset *small;
    assert_int_equal(ypr_dataset_synth(5, 64, 6, 3, &small), YPR_OK);
    assert_int_equal(ypr_dataset_write_yolo(small, ROOT "/rt"), YPR_ESTATE);
    assert_true(contains(ypr_last_error(), ROOT "/rt"));
    assert_true(contains(ypr_last_error(), "not empty"));
    assert_string_equal(read_all(ROOT "/rt/data.yaml"), yaml_before);
    free(yaml_before);
    assert_int_equal(entries(ROOT "/rt/images/val"), 12);
    assert_int_equal(entries(ROOT "/rt/labels/val"), 12);
    assert_int_equal(ypr_dataset_open(ROOT "/rt/data.yaml", "val", YPR_DATASET_STRICT, &back),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(back), 12);
    ypr_dataset_free(back);
    ypr_dataset_free(small);
    ypr_dataset_free(ds);
}

/* The writer takes only a new or an empty folder and never touches what a
 * user had there; a failed write leaves the target as it was. */
static void test_write_target(void **state)
{
    (void)state;
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_synth(3, 64, 2, 1, &ds), YPR_OK);
    /* a folder holding a user's file, even a hidden one: refused, untouched */
    write_file(ROOT "/wt/keep/notes.txt", "mine\n");
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/wt/keep"), YPR_ESTATE);
    assert_true(contains(ypr_last_error(), ROOT "/wt/keep"));
    assert_true(contains(ypr_last_error(), "notes.txt"));
    assert_string_equal(read_all(ROOT "/wt/keep/notes.txt"), "mine\n");
    assert_int_equal(entries(ROOT "/wt/keep"), 1);
    write_file(ROOT "/wt/hidden/.gitkeep", "");
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/wt/hidden"), YPR_ESTATE);
    assert_int_equal(entries(ROOT "/wt/hidden"), 1);
    /* an empty folder produced by an earlier layout (images/ only) is not empty */
    mkdirs(ROOT "/wt/layout/images");
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/wt/layout"), YPR_ESTATE);
    assert_int_equal(entries(ROOT "/wt/layout"), 1);
    assert_int_equal(entries(ROOT "/wt/layout/images"), 0);
    /* a file: refused */
    write_file(ROOT "/wt/file", "x");
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/wt/file"), YPR_EIO);
    assert_true(contains(ypr_last_error(), "not a folder"));
    assert_string_equal(read_all(ROOT "/wt/file"), "x");
    /* an existing empty folder and a new nested one: written */
    mkdirs(ROOT "/wt/empty");
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/wt/empty"), YPR_OK);
    assert_int_equal(entries(ROOT "/wt/empty"), 3);   /* images, labels, data.yaml */
    assert_int_equal(entries(ROOT "/wt/empty/images/val"), 3);
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/wt/new/a/b"), YPR_OK);
    ypr_dataset *back;
    assert_int_equal(ypr_dataset_open(ROOT "/wt/new/a/b/data.yaml", "val", YPR_DATASET_STRICT,
                                      &back), YPR_OK);
    assert_int_equal(ypr_dataset_count(back), 3);
    ypr_dataset_free(back);
    assert_int_equal(ypr_dataset_write_yolo(NULL, ROOT "/wt/x"), YPR_EINVAL);
    assert_int_equal(ypr_dataset_write_yolo(ds, ""), YPR_EINVAL);
    assert_false(exists(ROOT "/wt/x"));
    ypr_dataset_free(ds);

    /* a write that fails half-way (the second image no longer decodes)
     * removes what it wrote: a new folder is gone, an empty one stays empty */
    write_png(ROOT "/wt/src/images/a.png", 40, 30, 10);
    write_png(ROOT "/wt/src/images/b.png", 40, 30, 20);
    write_png(ROOT "/wt/src/images/c.png", 40, 30, 30);
    write_file(ROOT "/wt/src/labels/a.txt", "0 0.5 0.5 0.5 0.5\n");
    assert_int_equal(ypr_dataset_open(ROOT "/wt/src", NULL, YPR_DATASET_STRICT, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 3);
    char png_head[64];
    FILE *f = fopen(ROOT "/wt/src/images/b.png", "rb");
    assert_non_null(f);
    assert_int_equal(fread(png_head, 1, sizeof png_head, f), sizeof png_head);
    fclose(f);
    f = fopen(ROOT "/wt/src/images/b.png", "wb");   /* header kept, pixel data cut */
    assert_non_null(f);
    fwrite(png_head, 1, sizeof png_head, f);
    fclose(f);
    int rc = ypr_dataset_write_yolo(ds, ROOT "/wt/fail/new");
    assert_true(rc < 0);
    assert_true(contains(ypr_last_error(), "b.png"));
    assert_false(exists(ROOT "/wt/fail"));
    mkdirs(ROOT "/wt/fail2");
    assert_true(ypr_dataset_write_yolo(ds, ROOT "/wt/fail2") < 0);
    assert_true(contains(ypr_last_error(), "b.png"));
    assert_int_equal(entries(ROOT "/wt/fail2"), 0);
    ypr_dataset_free(ds);
}

/* ------------------------------------------------------- YOLO problems */

#define BAD ROOT "/bad"

static void make_bad_tree(void)
{
    const char *imgs[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (int i = 0; i < 8; i++) {
        char p[256];
        snprintf(p, sizeof p, BAD "/images/val/%s.png", imgs[i]);
        write_png(p, 64, 48, (uint8_t)(i * 20));
    }
    write_file(BAD "/labels/val/a.txt", "0 0.5 0.5 0.2 0.2\n1 0.25 0.25 0.1 0.1\n");
    write_file(BAD "/labels/val/b.txt", "0 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.2 0.2\n");      /* nc */
    write_file(BAD "/labels/val/c.txt", "1 1.5 0.5 0.2 0.2\n");                        /* coord */
    write_file(BAD "/labels/val/d.txt", "0 0.5 0.5 0.2 0.2\n\n0 0.5 0.5 0.1\n");       /* malformed */
    write_file(BAD "/labels/val/e.txt", "2 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.1 0.1\n2 0.5 0.5 0.2 0.2\n"); /* dup */
    /* f: no label file; g: empty label file */
    write_file(BAD "/labels/val/g.txt", "");
    write_file(BAD "/labels/val/h.txt", "0 0.5 0.5 0.2 0.2\r\n1 abc 0.5 0.2 0.2\r\n");   /* malformed */
    const char *lists[][2] = {
        {"class", "images/val/a.png\nimages/val/b.png\n"},
        {"coord", "images/val/a.png\n./images/val/c.png\n"},
        {"malformed", "images/val/a.png\nimages/val/d.png\n"},
        {"dup", "images/val/e.png\n"},
        {"missing", "images/val/a.png\nimages/val/zz.png\n"},
        {"text", "images/val/h.png\n"},
        {"all", "images/val/a.png\nimages/val/b.png\nimages/val/c.png\nimages/val/d.png\n"
                "images/val/e.png\nimages/val/f.png\nimages/val/g.png\nimages/val/zz.png\n"
                "images/val/h.png\n"},
    };
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        char p[256], y[512];
        snprintf(p, sizeof p, BAD "/%s.txt", lists[i][0]);
        write_file(p, lists[i][1]);
        snprintf(p, sizeof p, BAD "/%s.yaml", lists[i][0]);
        snprintf(y, sizeof y, "val: %s.txt\nnc: 3\nnames: ['x', 'y', 'z']\n", lists[i][0]);
        write_file(p, y);
    }
}

static void expect_fail(const char *yaml, int code, const char *where)
{
    ypr_dataset *ds = (ypr_dataset *)1;
    assert_int_equal(ypr_dataset_open(yaml, "val", YPR_DATASET_STRICT, &ds), code);
    assert_null(ds);
    if (!contains(ypr_last_error(), where))
        fail_msg("'%s' not in '%s'", where, ypr_last_error());
}

static void test_yolo_problems_strict(void **state)
{
    (void)state;
    make_bad_tree();
    expect_fail(BAD "/class.yaml", YPR_EFORMAT, "labels/val/b.txt:2");
    expect_fail(BAD "/class.yaml", YPR_EFORMAT, ">= nc");
    expect_fail(BAD "/coord.yaml", YPR_EFORMAT, "labels/val/c.txt:1");
    expect_fail(BAD "/coord.yaml", YPR_EFORMAT, "outside [0, 1]");
    expect_fail(BAD "/malformed.yaml", YPR_EFORMAT, "labels/val/d.txt:3");
    expect_fail(BAD "/malformed.yaml", YPR_EFORMAT, "malformed");
    expect_fail(BAD "/dup.yaml", YPR_EFORMAT, "labels/val/e.txt:3");
    expect_fail(BAD "/dup.yaml", YPR_EFORMAT, "duplicate");
    expect_fail(BAD "/missing.yaml", YPR_ENOTFOUND, "missing.txt:2");
    expect_fail(BAD "/missing.yaml", YPR_ENOTFOUND, "zz.png");
    expect_fail(BAD "/text.yaml", YPR_EFORMAT, "labels/val/h.txt:2");
}

static void test_yolo_problems_skip(void **state)
{
    (void)state;
    make_bad_tree();
    nwarn = 0;
    ypr_set_log_callback(count_log, NULL, YPR_LOG_INFO);
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open(BAD "/all.yaml", "val", YPR_DATASET_SKIP, &ds), YPR_OK);
    ypr_set_log_callback(NULL, NULL, YPR_LOG_WARN);
    /* kept: a (2 boxes), f (no label file), g (empty); skipped: b c d e zz h */
    assert_int_equal(ypr_dataset_count(ds), 3);
    assert_int_equal(ypr_dataset_num_skipped(ds), 6);
    assert_true(nwarn >= 6);
    int n;
    float r[12];
    assert_true(contains(ypr_dataset_image_path(ds, 0), "a.png"));
    assert_int_equal(ypr_dataset_labels(ds, 0, r, 2, &n), YPR_OK);
    assert_int_equal(n, 2);
    /* 0 0.5 0.5 0.2 0.2 on 64x48 → 25.6 19.2 38.4 28.8 */
    assert_float_equal(r[0], 0, 0);
    assert_float_equal(r[1], 25.6, 1e-4);
    assert_float_equal(r[2], 19.2, 1e-4);
    assert_float_equal(r[3], 38.4, 1e-4);
    assert_float_equal(r[4], 28.8, 1e-4);
    assert_float_equal(r[6], 1, 0);
    assert_true(contains(ypr_dataset_image_path(ds, 1), "f.png"));
    assert_int_equal(ypr_dataset_labels(ds, 1, r, 2, &n), YPR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ypr_dataset_labels(ds, 2, r, 2, &n), YPR_OK);
    assert_int_equal(n, 0);
    ypr_dataset_free(ds);
}

/* -------------------------------------------------------------- VOC */

#define VOC ROOT "/voc"

static void test_voc(void **state)
{
    (void)state;
    write_png(VOC "/JPEGImages/000001.png", 100, 80, 50);
    write_png(VOC "/JPEGImages/000002.png", 60, 60, 90);
    write_file(VOC "/Annotations/000001.xml",
               "<?xml version=\"1.0\"?>\n"
               "<annotation>\n"
               "  <folder>VOC2007</folder>\n"
               "  <filename>000001.jpg</filename>\n"
               "  <!-- a comment with <object> inside -->\n"
               "  <size><width>100</width><height>80</height><depth>3</depth></size>\n"
               "  <object>\n"
               "    <name>dog</name>\n"
               "    <pose>Left</pose><truncated>1</truncated><difficult>0</difficult>\n"
               "    <bndbox><xmin>11</xmin><ymin>21</ymin><xmax>51</xmax><ymax>61</ymax></bndbox>\n"
               "  </object>\n"
               "  <object>\n"
               "    <name>person</name>\n"
               "    <difficult>1</difficult>\n"
               "    <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>30.5</xmax><ymax>40</ymax></bndbox>\n"
               "    <part><name>head</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>9</xmax>"
               "<ymax>9</ymax></bndbox></part>\n"
               "  </object>\n"
               "</annotation>\n");
    write_file(VOC "/Annotations/000002.xml",
               "<annotation><filename>000002.jpg</filename>\n"
               "<object><name><![CDATA[cat]]></name>\n"
               "<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>25</xmax><ymax>35</ymax></bndbox>"
               "</object></annotation>\n");
    write_file(VOC "/Annotations/000003.xml",
               "<annotation>\n<object><name>unicorn</name>\n"
               "<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>25</xmax><ymax>35</ymax></bndbox>"
               "</object></annotation>\n");
    write_file(VOC "/Annotations/000004.xml", "<annotation>\n<object><name>cat</name\n");
    write_file(VOC "/ImageSets/Main/val.txt", "000001\n000002\n");
    write_file(VOC "/ImageSets/Main/bad.txt", "000001\n000003\n");
    write_file(VOC "/ImageSets/Main/broken.txt", "000002\n000004\n");
    write_file(VOC "/ImageSets/Main/gone.txt", "000001\n000009\n");

    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open(VOC, "val", YPR_DATASET_STRICT, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 2);
    assert_int_equal(ypr_dataset_num_classes(ds), 20);
    assert_string_equal(ypr_dataset_class_name(ds, 11), "dog");
    assert_string_equal(ypr_dataset_class_name(ds, 14), "person");
    float r[18];
    int n;
    assert_int_equal(ypr_dataset_labels(ds, 0, r, 3, &n), YPR_OK);
    assert_int_equal(n, 2);
    const float dog[6] = {11, 10, 20, 50, 60, 0};
    const float person[6] = {14, 0, 0, 29.5f, 39, 1};
    for (int k = 0; k < 6; k++) {
        assert_float_equal(r[k], dog[k], 1e-5);
        assert_float_equal(r[6 + k], person[k], 1e-5);
    }
    assert_int_equal(ypr_dataset_labels(ds, 1, r, 3, &n), YPR_OK);
    assert_int_equal(n, 1);
    assert_float_equal(r[0], 7, 0);   /* cat */
    uint8_t *rgb;
    int w, h;
    assert_int_equal(ypr_dataset_image(ds, 0, &rgb, &w, &h), YPR_OK);
    assert_int_equal(w, 100);
    assert_int_equal(h, 80);
    ypr_free(rgb);
    ypr_dataset_free(ds);

    ds = (ypr_dataset *)1;
    assert_int_equal(ypr_dataset_open(VOC, "train", YPR_DATASET_STRICT, &ds), YPR_ENOTFOUND);
    assert_null(ds);
    assert_true(contains(ypr_last_error(), "train"));
    /* names beyond the 20 VOC classes: the sorted names found */
    write_png(VOC "/JPEGImages/000003.png", 60, 60, 90);
    assert_int_equal(ypr_dataset_open(VOC, "bad", YPR_DATASET_STRICT, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_num_classes(ds), 3);
    assert_string_equal(ypr_dataset_class_name(ds, 0), "dog");
    assert_string_equal(ypr_dataset_class_name(ds, 2), "unicorn");
    ypr_dataset_free(ds);
    /* with classes.txt, a name outside it is a problem (file and line) */
    write_png(VOC "2/JPEGImages/000003.png", 60, 60, 90);
    write_png(VOC "2/JPEGImages/000002.png", 60, 60, 90);
    write_file(VOC "2/Annotations/000003.xml",
               "<annotation>\n<object><name>unicorn</name>\n"
               "<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>25</xmax><ymax>35</ymax></bndbox>"
               "</object></annotation>\n");
    write_file(VOC "2/Annotations/000002.xml",
               "<annotation><object><name>cat</name><bndbox><xmin>5</xmin><ymin>5</ymin>"
               "<xmax>25</xmax><ymax>35</ymax></bndbox></object></annotation>\n");
    write_file(VOC "2/classes.txt", "dog\ncat\n");
    write_file(VOC "2/ImageSets/Main/val.txt", "000002\n000003\n");
    assert_int_equal(ypr_dataset_open(VOC "2", NULL, YPR_DATASET_STRICT, &ds), YPR_EFORMAT);
    assert_true(contains(ypr_last_error(), "000003.xml:2"));
    assert_true(contains(ypr_last_error(), "unicorn"));
    assert_int_equal(ypr_dataset_open(VOC "2", "val", YPR_DATASET_SKIP, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 1);
    assert_int_equal(ypr_dataset_num_skipped(ds), 1);
    assert_string_equal(ypr_dataset_class_name(ds, 1), "cat");
    ypr_dataset_free(ds);
    /* truncated XML */
    assert_int_equal(ypr_dataset_open(VOC, "broken", YPR_DATASET_STRICT, &ds), YPR_EFORMAT);
    assert_true(contains(ypr_last_error(), "000004.xml"));
    assert_int_equal(ypr_dataset_open(VOC, "broken", YPR_DATASET_SKIP, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 1);
    assert_int_equal(ypr_dataset_num_skipped(ds), 1);
    ypr_dataset_free(ds);
    /* missing annotation, named with the split file's line */
    assert_int_equal(ypr_dataset_open(VOC, "gone", YPR_DATASET_STRICT, &ds), YPR_ENOTFOUND);
    assert_true(contains(ypr_last_error(), "gone.txt:2"));
    /* writing VOC as YOLO leaves the difficult box out */
    assert_int_equal(ypr_dataset_open(VOC, "val", YPR_DATASET_STRICT, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_write_yolo(ds, ROOT "/voc_yolo"), YPR_OK);
    ypr_dataset *back;
    assert_int_equal(ypr_dataset_open(ROOT "/voc_yolo/data.yaml", "val", YPR_DATASET_STRICT,
                                      &back), YPR_OK);
    assert_int_equal(ypr_dataset_num_classes(back), 20);
    assert_int_equal(ypr_dataset_labels(back, 0, r, 3, &n), YPR_OK);
    assert_int_equal(n, 1);
    for (int k = 0; k < 5; k++)
        assert_float_equal(r[k], dog[k], 1e-4);
    ypr_dataset_free(back);
    ypr_dataset_free(ds);
}

/* ----------------------------------------------------------- data yaml */

#define YML ROOT "/yml"

static void test_yaml_forms(void **state)
{
    (void)state;
    write_png(YML "/set/images/f1/a.png", 40, 30, 10);
    write_png(YML "/set/images/f1/b.png", 40, 30, 20);
    write_png(YML "/set/images/f2/c.png", 40, 30, 30);
    write_png(YML "/set/images/f3/d.png", 40, 30, 40);
    write_file(YML "/set/labels/f1/a.txt", "1 0.5 0.5 0.5 0.5\n");
    write_file(YML "/set/labels/f3/d.txt", "0 0.5 0.5 1 1\n");
    write_file(YML "/set/list.txt", "./images/f3/d.png\nimages/f1/a.png\n");
    /* list of folders, `path:`, names as a block list, comments */
    write_file(YML "/folders.yaml",
               "# a comment\n"
               "path: set   # root\n"
               "train: [images/f1,\n"
               "        images/f2]\n"
               "val: list.txt\n"
               "test:\n"
               "nc: 2\n"
               "names:\n"
               "  - 'cat # not a comment'\n"
               "  - \"dog\"\n"
               "download: |\n"
               "  echo this: is ignored\n");
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open(YML "/folders.yaml", "train", YPR_DATASET_STRICT, &ds),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 3);
    assert_int_equal(ypr_dataset_num_classes(ds), 2);
    assert_string_equal(ypr_dataset_class_name(ds, 0), "cat # not a comment");
    assert_string_equal(ypr_dataset_class_name(ds, 1), "dog");
    assert_true(contains(ypr_dataset_image_path(ds, 2), "c.png"));
    ypr_dataset_free(ds);
    assert_int_equal(ypr_dataset_open(YML "/folders.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 2);
    assert_true(contains(ypr_dataset_image_path(ds, 0), "d.png"));
    float r[6];
    int n;
    assert_int_equal(ypr_dataset_labels(ds, 0, r, 1, &n), YPR_OK);
    assert_int_equal(n, 1);
    assert_float_equal(r[3], 40, 1e-5);
    assert_float_equal(r[4], 30, 1e-5);
    ypr_dataset_free(ds);
    /* an empty split */
    ds = (ypr_dataset *)1;
    assert_int_equal(ypr_dataset_open(YML "/folders.yaml", "test", YPR_DATASET_STRICT, &ds),
                     YPR_ENOTFOUND);
    assert_null(ds);
    assert_true(contains(ypr_last_error(), "test"));

    /* names as a mapping, nc from names, Roboflow's ../ paths */
    write_file(YML "/set/data.yaml",
               "train: ../train/images\nval: ../images/f1\nnames: {0: cat, 1: dog}\n");
    assert_int_equal(ypr_dataset_open(YML "/set/data.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 2);
    assert_string_equal(ypr_dataset_class_name(ds, 1), "dog");
    ypr_dataset_free(ds);

    /* missing keys, splits and folders: clear errors */
    write_file(YML "/nokeys.yaml", "val: set/images/f1\n");
    assert_int_equal(ypr_dataset_open(YML "/nokeys.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_ENOTFOUND);
    assert_true(contains(ypr_last_error(), "'nc'"));
    write_file(YML "/nosplit.yaml", "train: set/images/f1\nnc: 2\n");
    assert_int_equal(ypr_dataset_open(YML "/nosplit.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_ENOTFOUND);
    assert_true(contains(ypr_last_error(), "'val'"));
    write_file(YML "/nofolder.yaml", "val: set/images/nothere\nnc: 2\n");
    assert_int_equal(ypr_dataset_open(YML "/nofolder.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_ENOTFOUND);
    assert_true(contains(ypr_last_error(), "nofolder.yaml:1"));
    write_file(YML "/mismatch.yaml", "val: set/images/f1\nnc: 3\nnames: [a, b]\n");
    assert_int_equal(ypr_dataset_open(YML "/mismatch.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_EFORMAT);
    assert_true(contains(ypr_last_error(), "mismatch.yaml:3"));
    write_file(YML "/badnc.yaml", "val: set/images/f1\nnc: many\n");
    assert_int_equal(ypr_dataset_open(YML "/badnc.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_EFORMAT);
    write_file(YML "/unterminated.yaml", "val: set/images/f1\nnames: [a, b\n");
    assert_int_equal(ypr_dataset_open(YML "/unterminated.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_EFORMAT);
    write_file(YML "/garbage.yaml", "- just\n- a list\n");
    assert_int_equal(ypr_dataset_open(YML "/garbage.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_EFORMAT);
    assert_int_equal(ypr_dataset_open(YML "/absent.yaml", "val", YPR_DATASET_STRICT, &ds),
                     YPR_ENOTFOUND);
    assert_int_equal(ypr_dataset_open(YML "/folders.yaml", "val", 7, &ds), YPR_EINVAL);
    assert_int_equal(ypr_dataset_open(NULL, "val", 0, &ds), YPR_EINVAL);
    assert_int_equal(ypr_dataset_open(YML "/folders.yaml", "val", 0, NULL), YPR_EINVAL);
}

/* Data yamls as tools write them (PyYAML's dumps, YOLOv5/v7 and Roboflow
 * files with keys we do not read), and malformed YAML. The PyYAML texts are
 * what yaml.safe_dump(d, sort_keys=False) and yaml.dump(d, sort_keys=False,
 * default_flow_style=True) print for d = {'path': 'set', 'train':
 * ['images/f1', 'images/f2'], 'val': 'list.txt', 'test': None, 'nc': 2,
 * 'names': ['cat', 'dog']}; the lines of the malformed cases are the ones
 * PyYAML's yaml.safe_load reports. */
#define TOOLS ROOT "/tools"

static ypr_dataset *open_ok(const char *yaml, const char *split, int count)
{
    ypr_dataset *ds = NULL;
    int rc = ypr_dataset_open(yaml, split, YPR_DATASET_STRICT, &ds);
    if (rc != YPR_OK)
        fail_msg("%s: %s", yaml, ypr_last_error());
    assert_int_equal(ypr_dataset_count(ds), count);
    return ds;
}

static void expect_names(const ypr_dataset *ds, int n, const char *const *names)
{
    assert_int_equal(ypr_dataset_num_classes(ds), n);
    for (int i = 0; i < n; i++)
        assert_string_equal(ypr_dataset_class_name(ds, i), names[i]);
}

static void test_yaml_tools(void **state)
{
    (void)state;
    write_png(TOOLS "/set/images/f1/a.png", 40, 30, 10);
    write_png(TOOLS "/set/images/f1/b.png", 40, 30, 20);
    write_png(TOOLS "/set/images/f2/c.png", 40, 30, 30);
    write_file(TOOLS "/set/labels/f1/a.txt", "1 0.5 0.5 0.5 0.5\n");
    write_file(TOOLS "/set/list.txt", "images/f2/c.png\n");
    static const char *const catdog[] = {"cat", "dog"};

    /* PyYAML's block style: sequences at column 0, `test: null` */
    write_file(TOOLS "/pyyaml.yaml", "path: set\ntrain:\n- images/f1\n- images/f2\n"
                                     "val: list.txt\ntest: null\nnc: 2\nnames:\n- cat\n- dog\n");
    ypr_dataset *ds = open_ok(TOOLS "/pyyaml.yaml", "train", 3);
    expect_names(ds, 2, catdog);
    ypr_dataset_free(ds);
    ds = open_ok(TOOLS "/pyyaml.yaml", "val", 1);
    assert_true(contains(ypr_dataset_image_path(ds, 0), "c.png"));
    ypr_dataset_free(ds);
    expect_open(TOOLS "/pyyaml.yaml", "test", YPR_DATASET_STRICT, YPR_ENOTFOUND,
                "pyyaml.yaml:6: split 'test' is empty");

    /* PyYAML's flow style: the whole file one mapping over two lines */
    write_file(TOOLS "/flow.yaml", "{path: set, train: [images/f1, images/f2], val: list.txt, "
                                   "test: null, nc: 2, names: [\n    cat, dog]}\n");
    ds = open_ok(TOOLS "/flow.yaml", "train", 3);
    expect_names(ds, 2, catdog);
    ypr_dataset_free(ds);

    /* a BOM, CRLF lines, quoted names that are not null/bool/int/mapping,
     * escapes, a null entry (unnamed) */
    write_file(TOOLS "/bom.yaml", "\xEF\xBB\xBFpath: set\r\nval: images/f1\r\nnames:\r\n"
                                  "- cat\r\n- 'yes'\r\n- 'null'\r\n- '0'\r\n- 'a: b'\r\n- '#x'\r\n"
                                  "- \"caf\\u00e9 \\\"au lait\\\"\"\r\n- 'it''s'\r\n- null\r\n");
    ds = open_ok(TOOLS "/bom.yaml", "val", 2);
    static const char *const quoted[] = {"cat", "yes", "null", "0", "a: b", "#x",
                                         "caf\xC3\xA9 \"au lait\"", "it's", ""};
    expect_names(ds, 9, quoted);
    ypr_dataset_free(ds);

    /* YOLOv5 style: names as a block mapping (out of order), a download
     * script and a nested block whose text looks like our keys */
    write_file(TOOLS "/v5.yaml",
               "# YOLOv5 by Ultralytics, GPL-3.0 license\n"
               "# Train/val/test sets as 1) dir: path/to/imgs, 2) file: path/to/imgs.txt\n"
               "path: set  # dataset root dir\n"
               "train: images/f1  # train images (relative to 'path')\n"
               "val: [images/f1, images/f2]\n"
               "test:  # test images (optional)\n"
               "\n"
               "# Classes\n"
               "names:\n"
               "  1: dog\n"
               "  0: cat\n"
               "\n"
               "roboflow:\n"
               "  workspace: someone\n"
               "  names: [wrong, names]\n"
               "  val: nowhere\n"
               "  license: CC BY 4.0\n"
               "\n"
               "# Download script/URL (optional)\n"
               "download: |\n"
               "  from utils.general import download, Path\n"
               "  names: [not, yaml, here]\n"
               "  - nor: this\n"
               "  {\n"
               "  for p in 'train', 'val':\n"
               "      print(p)\n");
    ds = open_ok(TOOLS "/v5.yaml", "val", 3);
    expect_names(ds, 2, catdog);
    ypr_dataset_free(ds);
    ds = open_ok(TOOLS "/v5.yaml", "train", 2);
    ypr_dataset_free(ds);

    /* YOLOv7's coco.yaml style: names over several lines, a download
     * command; nc quoted (YOLOv7 calls int() on it) */
    write_file(TOOLS "/v7.yaml",
               "# download command/URL (optional)\n"
               "download: bash ./scripts/get_coco.sh\n"
               "\n"
               "train: ./set/images/f1  # 2 images\n"
               "val: ./set/list.txt\n"
               "nc: '2'\n"
               "names: [ 'cat',\n"
               "         'dog' ]\n");
    ds = open_ok(TOOLS "/v7.yaml", "train", 2);
    expect_names(ds, 2, catdog);
    ypr_dataset_free(ds);

    /* malformed YAML: EFORMAT naming file:line */
    write_file(TOOLS "/indent.yaml", "val: set/images/f1\nnc: 2\nnames:\n  - cat\n - dog\n");
    expect_open(TOOLS "/indent.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT, "indent.yaml:5:");
    write_file(TOOLS "/tab.yaml", "val: set/images/f1\nnc: 2\n\tnames: [a, b]\n");
    expect_open(TOOLS "/tab.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT, "tab.yaml:3:");
    write_file(TOOLS "/open.yaml", "val: set/images/f1\nnames: [a, b\nnc: 2\n");
    expect_open(TOOLS "/open.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT, "open.yaml:3:");
    write_file(TOOLS "/colon.yaml", "val: set/images/f1\nnc 2\nnames: [a, b]\n");
    expect_open(TOOLS "/colon.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT, "colon.yaml:3:");
    write_file(TOOLS "/dupkey.yaml", "val: set/images/f1\nnc: 2\nval: set/images/f2\n");
    expect_open(TOOLS "/dupkey.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "dupkey.yaml:3: duplicate key 'val' (first at line 1)");
    write_file(TOOLS "/alias.yaml", "val: &v set/images/f1\ntrain: *v\nnc: 2\n");
    expect_open(TOOLS "/alias.yaml", "val", YPR_DATASET_STRICT, YPR_EUNSUPPORTED,
                "alias.yaml:2:");
    write_file(TOOLS "/empty.yaml", "# nothing but a comment\n");
    expect_open(TOOLS "/empty.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "empty.yaml:1: a data .yaml is a mapping");

    /* well-formed YAML with the wrong shapes: the line of the culprit */
    write_file(TOOLS "/nested.yaml", "val: set/images/f1\nnames:\n- cat\n- [dog, hound]\n");
    expect_open(TOOLS "/nested.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "nested.yaml:4: a class name must be a single value, not a list");
    write_file(TOOLS "/key.yaml", "val: set/images/f1\nnames:\n  0: cat\n  one: dog\n");
    expect_open(TOOLS "/key.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "key.yaml:4: names: key 'one' is not a class index");
    write_file(TOOLS "/bigkey.yaml", "val: set/images/f1\nnames: {99999: x, 100000: y}\n");
    expect_open(TOOLS "/bigkey.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "bigkey.yaml:2: names: key '100000' is not a class index (0 to 99999)");
    write_file(TOOLS "/gap.yaml", "val: set/images/f1\nnames: {0: cat, 2: bird}\n");
    expect_open(TOOLS "/gap.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "gap.yaml:2: names has no entry for class 1");
    write_file(TOOLS "/twice.yaml", "val: set/images/f1\nnames: {0: cat, 1: dog, 00: x}\n");
    expect_open(TOOLS "/twice.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "twice.yaml:2: names: class 0 given twice");
    write_file(TOOLS "/scalar.yaml", "val: set/images/f1\nnames: cat\n");
    expect_open(TOOLS "/scalar.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "scalar.yaml:2: names must be a list");
    write_file(TOOLS "/nonames.yaml", "val: set/images/f1\nnames: {}\n");
    expect_open(TOOLS "/nonames.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "nonames.yaml:2: names is empty");
    write_file(TOOLS "/item.yaml", "val:\n- set/images/f1\n- set/images/nothere\nnc: 2\n");
    expect_open(TOOLS "/item.yaml", "val", YPR_DATASET_STRICT, YPR_ENOTFOUND,
                "item.yaml:3: split 'val': 'set/images/nothere' not found");
    write_file(TOOLS "/emptyitem.yaml", "val:\n- set/images/f1\n- ''\nnc: 2\n");
    expect_open(TOOLS "/emptyitem.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "emptyitem.yaml:3: empty path in split 'val'");
    write_file(TOOLS "/splitmap.yaml", "val: {images: set/images/f1}\nnc: 2\n");
    expect_open(TOOLS "/splitmap.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "splitmap.yaml:1: split 'val' must be a path or a list of paths");
    write_file(TOOLS "/pathlist.yaml", "path: [set]\nval: images/f1\nnc: 2\n");
    expect_open(TOOLS "/pathlist.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "pathlist.yaml:1: path must be a single value, not a list");
    write_file(TOOLS "/bignc.yaml", "val: set/images/f1\nnc: 100001\n");
    expect_open(TOOLS "/bignc.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "bignc.yaml:2: nc must be a positive integer");
    write_file(TOOLS "/zeronc.yaml", "val: set/images/f1\nnc: 0\n");
    expect_open(TOOLS "/zeronc.yaml", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "zeronc.yaml:2: nc must be a positive integer");
}

/* ------------------------------------------------------ corrupt images */

static void test_corrupt_images(void **state)
{
    (void)state;
    const char *dir = ROOT "/corrupt";
    write_png(ROOT "/corrupt/images/ok.png", 32, 32, 1);
    write_file(ROOT "/corrupt/images/garbage.png", "this is not a PNG at all\n");
    write_file(ROOT "/corrupt/labels/garbage.txt", "0 0.5 0.5 0.5 0.5\n");
    /* a real PNG cut short: its header reads, its pixels do not */
    write_png(ROOT "/corrupt/tmp_full.png", 200, 200, 3);
    FILE *f = fopen(ROOT "/corrupt/tmp_full.png", "rb");
    assert_non_null(f);
    uint8_t buf[120];
    assert_int_equal(fread(buf, 1, sizeof buf, f), sizeof buf);
    fclose(f);
    remove(ROOT "/corrupt/tmp_full.png");
    f = fopen(ROOT "/corrupt/images/truncated.png", "wb");
    assert_non_null(f);
    fwrite(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(ROOT "/corrupt/labels/truncated.txt", "0 0.5 0.5 0.5 0.5\n");
    write_file(ROOT "/corrupt/images/empty.jpg", "");

    /* a JPEG whose SOF0 claims 16384×16384 (2^28 pixels, within the absolute
     * limit) in a 27-byte file: refused from its header at open */
    static const uint8_t forged[] = {
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x40, 0x00, 0x40, 0x00, 0x03, 0x01, 0x22,
        0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9};
    f = fopen(ROOT "/corrupt/images/forged.jpg", "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(forged, 1, sizeof forged, f), sizeof forged);
    fclose(f);

    ypr_dataset *ds = (ypr_dataset *)1;
    /* STRICT: the first unreadable header (sorted: empty.jpg) fails the open */
    assert_int_equal(ypr_dataset_open(dir, NULL, YPR_DATASET_STRICT, &ds), YPR_EFORMAT);
    assert_null(ds);
    assert_true(contains(ypr_last_error(), "empty.jpg"));
    /* SKIP: empty.jpg, forged.jpg and garbage.png are image problems;
     * truncated.png has a readable header, stays, and fails when decoded */
    nwarn = 0;
    ypr_set_log_callback(count_log, NULL, YPR_LOG_WARN);
    assert_int_equal(ypr_dataset_open(dir, NULL, YPR_DATASET_SKIP, &ds), YPR_OK);
    ypr_set_log_callback(NULL, NULL, YPR_LOG_WARN);
    assert_int_equal(nwarn, 4);   /* one per skipped image, one summary */
    assert_int_equal(ypr_dataset_count(ds), 2);
    assert_int_equal(ypr_dataset_num_skipped(ds), 3);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_IMAGE), 3);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_LABELS), 0);
    assert_int_equal(ypr_dataset_num_classes(ds), 1);
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        const char *p = ypr_dataset_image_path(ds, i);
        uint8_t *rgb = NULL;
        int w, h, n;
        float r[6];
        int rc = ypr_dataset_image(ds, i, &rgb, &w, &h);
        if (contains(p, "ok.png")) {
            assert_int_equal(rc, YPR_OK);
            assert_int_equal(ypr_dataset_labels(ds, i, r, 1, &n), YPR_OK);
            assert_int_equal(n, 0);
            ypr_free(rgb);
            continue;
        }
        bad++;
        assert_true(contains(p, "truncated.png"));
        assert_int_equal(rc, YPR_EFORMAT);
        assert_null(rgb);
        if (!contains(ypr_last_error(), "truncated.png"))
            fail_msg("error does not name %s: %s", p, ypr_last_error());
        assert_int_equal(ypr_dataset_labels(ds, i, r, 1, &n), YPR_OK);
        assert_int_equal(n, 1);
        assert_float_equal(r[3], 150, 1e-4);
    }
    assert_int_equal(bad, 1);
    ypr_dataset_free(ds);
    /* the forged header, alone: named, and what is wrong with it */
    assert_int_equal(ypr_dataset_open(ROOT "/corrupt/images/forged.jpg", NULL,
                                      YPR_DATASET_STRICT, &ds), YPR_EFORMAT);
    assert_true(contains(ypr_last_error(), "forged.jpg: JPEG header claims 16384x16384"));
    assert_true(contains(ypr_last_error(), "truncated or forged header"));
    /* an empty folder is an error, not an empty dataset */
    mkdirs(ROOT "/emptydir");
    assert_int_equal(ypr_dataset_open(ROOT "/emptydir", NULL, YPR_DATASET_STRICT, &ds),
                     YPR_ENOTFOUND);
}

/* ------------------------------------- FIFOs, directories, link loops */

#define SPECIAL ROOT "/special"

/* Issue #9: a FIFO given as any input used to block forever; label files
 * that are directories, FIFOs or link loops were taken as "no objects".
 * (The alarm turns a blocking open into a failure instead of a hang.) */
static void test_special_inputs(void **state)
{
    (void)state;
    alarm(60);
    /* data .yaml: a FIFO, a directory */
    mkdirs(SPECIAL "/dir.yaml");
    unlink(SPECIAL "/fifo.yaml");
    assert_int_equal(mkfifo(SPECIAL "/fifo.yaml", 0600), 0);
    expect_open(SPECIAL "/fifo.yaml", "val", YPR_DATASET_STRICT, YPR_EIO,
                "fifo.yaml: not a regular file (a FIFO)");
    expect_open(SPECIAL "/fifo.yaml", "val", YPR_DATASET_SKIP, YPR_EIO, "(a FIFO)");
    expect_open(SPECIAL "/dir.yaml", "val", YPR_DATASET_STRICT, YPR_EIO,
                "dir.yaml: not a regular file (a directory)");

    /* label files: a FIFO, a directory, a link loop, a dangling link */
    static const char *const kinds[] = {"fifo", "dir", "loop", "dangling"};
    for (int k = 0; k < 4; k++) {
        char root[256], p[512], q[512];
        snprintf(root, sizeof root, SPECIAL "/lab_%s", kinds[k]);
        snprintf(p, sizeof p, "%s/images/val/a.png", root);
        write_png(p, 32, 24, 40);
        snprintf(p, sizeof p, "%s/images/val/b.png", root);
        write_png(p, 32, 24, 60);
        snprintf(p, sizeof p, "%s/labels/val/b.txt", root);
        write_file(p, "0 0.5 0.5 0.5 0.5\n");
        snprintf(p, sizeof p, "%s/labels/val/a.txt", root);
        snprintf(q, sizeof q, "%s/labels/val/a2.txt", root);
        rmdir(p);
        unlink(p);
        unlink(q);
        if (k == 0)
            assert_int_equal(mkfifo(p, 0600), 0);
        else if (k == 1)
            mkdirs(p);
        else if (k == 2) {
            assert_int_equal(symlink("a2.txt", p), 0);
            assert_int_equal(symlink("a.txt", q), 0);
        } else {
            assert_int_equal(symlink("nowhere.txt", p), 0);
        }
        static const char *const why[] = {"(a FIFO)", "(a directory)",
                                          "Too many levels of symbolic links",
                                          "dangling symbolic link"};
        snprintf(q, sizeof q, "%s/images/val", root);
        expect_open(q, NULL, YPR_DATASET_STRICT, YPR_EIO, "labels/val/a.txt");
        expect_open(q, NULL, YPR_DATASET_STRICT, YPR_EIO, why[k]);
        ypr_dataset *ds;
        assert_int_equal(ypr_dataset_open(q, NULL, YPR_DATASET_SKIP, &ds), YPR_OK);
        assert_int_equal(ypr_dataset_count(ds), 1);
        assert_true(contains(ypr_dataset_image_path(ds, 0), "b.png"));
        assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_LABELS), 1);
        assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_IMAGE), 0);
        ypr_dataset_free(ds);
    }

    /* images: a FIFO in a folder, in a list; a FIFO list; a FIFO classes.txt */
    write_png(SPECIAL "/img/images/good.png", 32, 24, 80);
    unlink(SPECIAL "/img/images/classes.txt");
    unlink(SPECIAL "/img/images/pipe.png");
    assert_int_equal(mkfifo(SPECIAL "/img/images/pipe.png", 0600), 0);
    expect_open(SPECIAL "/img/images", NULL, YPR_DATASET_STRICT, YPR_EIO,
                "pipe.png: not a regular file (a FIFO)");
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open(SPECIAL "/img/images", NULL, YPR_DATASET_SKIP, &ds),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 1);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_IMAGE), 1);
    ypr_dataset_free(ds);
    write_file(SPECIAL "/img/list.txt", "images/good.png\nimages/pipe.png\n");
    expect_open(SPECIAL "/img/list.txt", NULL, YPR_DATASET_STRICT, YPR_EIO,
                "list.txt:2: image '" SPECIAL "/img/images/pipe.png': not a regular file");
    unlink(SPECIAL "/img/fifo.txt");
    assert_int_equal(mkfifo(SPECIAL "/img/fifo.txt", 0600), 0);
    expect_open(SPECIAL "/img/fifo.txt", NULL, YPR_DATASET_STRICT, YPR_EIO,
                "fifo.txt: not a regular file (a FIFO)");
    write_file(SPECIAL "/img/fifo.yaml", "val: fifo.txt\nnc: 1\n");
    expect_open(SPECIAL "/img/fifo.yaml", "val", YPR_DATASET_SKIP, YPR_EIO,
                "fifo.txt: not a regular file (a FIFO)");
    unlink(SPECIAL "/img/images/classes.txt");
    assert_int_equal(mkfifo(SPECIAL "/img/images/classes.txt", 0600), 0);
    expect_open(SPECIAL "/img/images", NULL, YPR_DATASET_SKIP, YPR_EIO,
                "classes.txt: not a regular file (a FIFO)");
    unlink(SPECIAL "/img/images/classes.txt");

    /* VOC: a FIFO annotation, a FIFO split file */
    write_png(SPECIAL "/voc/JPEGImages/1.png", 32, 24, 90);
    write_file(SPECIAL "/voc/ImageSets/Main/val.txt", "1\n");
    unlink(SPECIAL "/voc/Annotations/1.xml");
    unlink(SPECIAL "/voc/ImageSets/Main/pipe.txt");
    mkdirs(SPECIAL "/voc/Annotations");
    assert_int_equal(mkfifo(SPECIAL "/voc/Annotations/1.xml", 0600), 0);
    assert_int_equal(mkfifo(SPECIAL "/voc/ImageSets/Main/pipe.txt", 0600), 0);
    expect_open(SPECIAL "/voc", "val", YPR_DATASET_STRICT, YPR_EIO,
                "Annotations/1.xml: not a regular file (a FIFO)");
    expect_open(SPECIAL "/voc", "val", YPR_DATASET_SKIP, YPR_EIO, "every image was skipped");
    expect_open(SPECIAL "/voc", "pipe", YPR_DATASET_SKIP, YPR_EIO,
                "pipe.txt: not a regular file (a FIFO)");
    alarm(0);
}

/* ----------------------------------------------- VOC structure problems */

static void test_voc_structure(void **state)
{
    (void)state;
    /* no Annotations/: an error, not a dataset of unlabelled images */
    write_png(ROOT "/voc_noann/JPEGImages/1.png", 32, 24, 10);
    write_file(ROOT "/voc_noann/ImageSets/Main/val.txt", "1\n");
    expect_open(ROOT "/voc_noann", "val", YPR_DATASET_STRICT, YPR_ENOTFOUND,
                "without an Annotations/ folder");
    expect_open(ROOT "/voc_noann", NULL, YPR_DATASET_SKIP, YPR_ENOTFOUND,
                "without an Annotations/ folder");

    /* XML cut after a complete object: the objects after the cut would be
     * lost, so the file is malformed (file and what is not closed) */
    static const char obj[] = "<object><name>dog</name><bndbox><xmin>2</xmin><ymin>2</ymin>"
                              "<xmax>9</xmax><ymax>9</ymax></bndbox></object>\n";
    char xml[512];
    snprintf(xml, sizeof xml, "<annotation>\n%s%s</annotation>\n", obj, obj);
    xml[strlen(xml) - strlen("</annotation>\n")] = 0;   /* cut the closing tag */
    write_png(ROOT "/voc_cut/JPEGImages/1.png", 32, 24, 10);
    write_png(ROOT "/voc_cut/JPEGImages/2.png", 32, 24, 20);
    write_file(ROOT "/voc_cut/Annotations/1.xml", xml);
    snprintf(xml, sizeof xml, "<annotation>\n%s</annotation>\n", obj);
    write_file(ROOT "/voc_cut/Annotations/2.xml", xml);
    write_file(ROOT "/voc_cut/Annotations/3.xml", "");
    write_png(ROOT "/voc_cut/JPEGImages/3.png", 32, 24, 30);
    write_file(ROOT "/voc_cut/ImageSets/Main/val.txt", "1\n2\n");
    write_file(ROOT "/voc_cut/ImageSets/Main/empty.txt", "3\n");
    expect_open(ROOT "/voc_cut", "val", YPR_DATASET_STRICT, YPR_EFORMAT,
                "1.xml:4: malformed XML: truncated: <annotation> (line 1) is not closed");
    expect_open(ROOT "/voc_cut", "empty", YPR_DATASET_STRICT, YPR_EFORMAT,
                "no <annotation> element");
    ypr_dataset *ds;
    assert_int_equal(ypr_dataset_open(ROOT "/voc_cut", "val", YPR_DATASET_SKIP, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 1);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_LABELS), 1);
    float r[12];
    int n;
    assert_int_equal(ypr_dataset_labels(ds, 0, r, 2, &n), YPR_OK);
    assert_int_equal(n, 1);
    ypr_dataset_free(ds);
    /* a missing image is an image problem, a missing annotation a label one */
    write_file(ROOT "/voc_cut/ImageSets/Main/gone.txt", "2\n4\n5\n");
    write_file(ROOT "/voc_cut/Annotations/4.xml", xml);
    assert_int_equal(ypr_dataset_open(ROOT "/voc_cut", "gone", YPR_DATASET_SKIP, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 1);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_IMAGE), 1);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_LABELS), 1);
    ypr_dataset_free(ds);
}

/* ------------------------------------ skipping everything; warning cap */

typedef struct warn_log { int per_image, summary, other; char first[512]; } warn_log;

static void collect_warn(void *user, int level, const char *msg)
{
    warn_log *w = user;
    if (level != YPR_LOG_WARN)
        return;
    if (contains(msg, "; image skipped")) {
        if (!w->per_image++)
            snprintf(w->first, sizeof w->first, "%s", msg);
    } else if (contains(msg, "image(s) skipped")) {
        w->summary++;
    } else {
        w->other++;
    }
}

static void test_skip_all_and_warning_cap(void **state)
{
    (void)state;
    /* 30 images whose labels name class 5 of nc 1, and 10 that are missing */
    for (int i = 0; i < 30; i++) {
        char p[256];
        snprintf(p, sizeof p, ROOT "/many/images/%02d.png", i);
        write_png(p, 16, 16, (uint8_t)i);
        snprintf(p, sizeof p, ROOT "/many/labels/%02d.txt", i);
        write_file(p, "5 0.5 0.5 0.2 0.2\n");
    }
    char all[4096] = "";
    for (int i = 0; i < 30; i++) {
        char p[64];
        snprintf(p, sizeof p, "images/%02d.png\n", i);
        strcat(all, p);
    }
    for (int i = 0; i < 10; i++) {
        char p[64];
        snprintf(p, sizeof p, "images/gone%02d.png\n", i);
        strcat(all, p);
    }
    write_file(ROOT "/many/all.txt", all);
    write_file(ROOT "/many/all.yaml", "val: all.txt\nnc: 1\n");

    /* every image skipped: the open fails with the counts and the first problem */
    warn_log w = {0};
    ypr_set_log_callback(collect_warn, &w, YPR_LOG_WARN);
    ypr_dataset *ds = (ypr_dataset *)1;
    int rc = ypr_dataset_open(ROOT "/many/all.yaml", "val", YPR_DATASET_SKIP, &ds);
    ypr_set_log_callback(NULL, NULL, YPR_LOG_WARN);
    assert_int_equal(rc, YPR_EFORMAT);
    assert_null(ds);
    assert_true(contains(ypr_last_error(), "every image was skipped (10 with image problems, "
                                           "30 with label problems)"));
    assert_true(contains(ypr_last_error(), "labels/00.txt:1: class id 5 >= nc (1)"));
    /* 40 problems: 20 warnings one by one, then a count */
    assert_int_equal(w.per_image, 20);
    assert_int_equal(w.summary, 1);
    assert_int_equal(w.other, 1);   /* "further skipped images are only counted" */
    assert_true(contains(w.first, "00.txt:1: class id 5 >= nc (1)"));

    /* one good image: the dataset opens with the counts by reason */
    write_png(ROOT "/many/images/zz.png", 16, 16, 99);
    strcat(all, "images/zz.png\n");
    write_file(ROOT "/many/all.txt", all);
    assert_int_equal(ypr_dataset_open(ROOT "/many/all.yaml", "val", YPR_DATASET_SKIP, &ds),
                     YPR_OK);
    assert_int_equal(ypr_dataset_count(ds), 1);
    assert_int_equal(ypr_dataset_num_skipped(ds), 40);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_IMAGE), 10);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_LABELS), 30);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, 0), YPR_EINVAL);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, 3), YPR_EINVAL);
    ypr_dataset_free(ds);
    assert_int_equal(ypr_dataset_num_skipped_for(NULL, YPR_DATASET_SKIPPED_IMAGE), YPR_EINVAL);
    assert_int_equal(ypr_dataset_synth(2, 64, 2, 1, &ds), YPR_OK);
    assert_int_equal(ypr_dataset_num_skipped_for(ds, YPR_DATASET_SKIPPED_LABELS), 0);
    ypr_dataset_free(ds);
}

int main(void)
{
    rm_tree(ROOT);
    mkdirs(ROOT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_args),
        cmocka_unit_test(test_synth_determinism),
        cmocka_unit_test(test_synth_labels_match_pixels),
        cmocka_unit_test(test_write_open_roundtrip),
        cmocka_unit_test(test_write_target),
        cmocka_unit_test(test_yolo_problems_strict),
        cmocka_unit_test(test_yolo_problems_skip),
        cmocka_unit_test(test_voc),
        cmocka_unit_test(test_yaml_forms),
        cmocka_unit_test(test_yaml_tools),
        cmocka_unit_test(test_corrupt_images),
        cmocka_unit_test(test_special_inputs),
        cmocka_unit_test(test_voc_structure),
        cmocka_unit_test(test_skip_all_and_warning_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
