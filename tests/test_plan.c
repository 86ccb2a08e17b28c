/* The float execution plan, white-box: sibling 1×1 convs run as one conv
 * (lib/net/exec.c, merge_siblings); the detect head's first levels on a
 * lane of their own beside the neck (plan_streams); ypr_model_output's
 * layout against the plan's raw head maps.
 *
 * yolov7-tiny (built-in cfg, width 0.25, random weights) at 96×96 has
 * eight ELAN blocks whose cv1 and cv2 read one value and are written next
 * to each other into the block's concat: the batch-1 plan runs each pair
 * as one conv, and its head outputs equal, bit for bit, those of a plan
 * made with YPR_CONV_MERGE=0 (each output value is the same sum in the same
 * order), on one and on three threads, per float kernel set (YPR_SIMD).
 * The same for a pair stored the other way round (cv1 first) in a small
 * cfg.  Batch-2 plans copy their concats
 * (no value sits in a concat's buffer) and merge nothing.
 *
 * Lanes: on a pool of two, yolov7-tiny's batch-1 plan runs its first two
 * levels' head convs on one worker while the other runs the neck; its head
 * outputs equal, bit for bit, those of the plan made with YPR_PLAN_LANES=0
 * and of the one-thread plan, on every pass. Plans on one or three
 * workers, and batch-2 plans, have no lanes; with an observer the plan runs
 * its steps in order and shows every value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/model/model.h"
#include "test_util.h"

enum { S = 96 };

static float *head(ypr_plan *p, int level, int64_t *count)
{
    ypr_shape sh;
    const float *o = ypr__plan_output(p, level, &sh);
    assert_non_null(o);
    *count = ypr__plan_batch(p) * sh.c * sh.h * sh.w;
    float *copy = malloc((size_t)*count * sizeof(float));
    assert_non_null(copy);
    memcpy(copy, o, (size_t)*count * sizeof(float));
    return copy;
}

/* cv1 before cv2 in the concat (yolov7-tiny's ELAN concats put cv2 first);
 * widths not multiples of the micro-panel height */
static const char order_cfg[] =
    "nc: 2\n"
    "depth_multiple: 1.0\n"
    "width_multiple: 1.0\n"
    "anchors:\n"
    "  - [10,13, 16,30, 33,23]\n"
    "backbone:\n"
    "  [[-1, 1, Conv, [16, 3, 2]],\n"
    "   [-1, 1, Conv, [10, 1, 1]],\n"
    "   [-2, 1, Conv, [13, 1, 1]],\n"
    "   [[1, 2], 1, Concat, [1]],\n"
    "   [-1, 1, Conv, [16, 3, 1]],\n"
    "  ]\n"
    "head:\n"
    "  [[[4], 1, IDetect, [nc, anchors]],\n"
    "  ]\n";

/* model: yolov7-tiny (cfg NULL) or the cfg text; pairs: the merged plan's */
static void run_pairs(const char *cfg, int pairs, int threads)
{
    ypr_model *m = NULL;
    if (cfg)
        assert_int_equal(ypr_model_from_cfg_text(cfg, strlen(cfg), 0, 5, &m), YPR_OK);
    else
        assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 3, 0, 0.25, 11, &m), YPR_OK);
    ypr_pool *pool = NULL;
    assert_int_equal(ypr__pool_create(threads, &pool), YPR_OK);
    float *x = malloc(2 * 3 * S * S * sizeof(float));
    assert_non_null(x);
    for (int i = 0; i < 2 * 3 * S * S; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    float *out[2][3];
    int64_t count[2][3];
    int levels = 0;
    for (int merged = 0; merged < 2; merged++) {
        assert_int_equal(setenv("YPR_CONV_MERGE", merged ? "1" : "0", 1), 0);
        ypr_plan *p = NULL;
        assert_int_equal(ypr__plan_create(&m->net, pool, 1, S, S, &p), YPR_OK);
        assert_int_equal(ypr__plan_pair_convs(p), merged ? pairs : 0);
        assert_int_equal(ypr__plan_run(p, x), YPR_OK);
        levels = ypr__plan_num_outputs(p);
        assert_true(levels >= 1 && levels <= 3);
        for (int l = 0; l < levels; l++)
            out[merged][l] = head(p, l, &count[merged][l]);
        ypr__plan_free(p);
        /* a batch of two: concats are copied, nothing to merge */
        assert_int_equal(ypr__plan_create(&m->net, pool, 2, S, S, &p), YPR_OK);
        assert_int_equal(ypr__plan_pair_convs(p), 0);
        ypr__plan_free(p);
    }
    unsetenv("YPR_CONV_MERGE");
    for (int l = 0; l < levels; l++) {
        assert_int_equal(count[0][l], count[1][l]);
        assert_memory_equal(out[0][l], out[1][l], (size_t)count[0][l] * sizeof(float));
        free(out[0][l]);
        free(out[1][l]);
    }
    free(x);
    ypr__pool_free(pool);
    ypr_model_free(m);
}

/* ypr_model_output's [n, na, H, W, no] against the plan's raw head maps
 * [n, na·no, H, W], element by element: no = 7 and 8 (4-wide blocks with and
 * without a remainder), levels of 12², 6² and 3² positions (64-position
 * spans with partial ones, 4-position blocks with a remainder). */
static void test_output_layout(void **state)
{
    (void)state;
    for (int nc = 2; nc <= 3; nc++) {
        ypr_model *m = NULL;
        assert_int_equal(ypr_model_from_cfg("yolov7-tiny", nc, 0, 0.25, 3, &m), YPR_OK);
        float *x = malloc(3 * S * S * sizeof(float));
        assert_non_null(x);
        for (int i = 0; i < 3 * S * S; i++)
            x[i] = (float)((i * 31) % 997) / 997.0f;
        assert_int_equal(ypr_model_forward(m, x, 1, S, S), YPR_OK);
        assert_non_null(m->plan);
        for (int l = 0; l < ypr_model_num_levels(m); l++) {
            ypr_shape rs;
            const float *raw = ypr__plan_output(m->plan, l, &rs);
            int64_t sh[5];
            assert_int_equal(ypr_model_output(m, l, NULL, sh), YPR_OK);
            const int64_t na = sh[1], hw = sh[2] * sh[3], no = sh[4];
            assert_int_equal(no, nc + 5);
            assert_int_equal(rs.c, na * no);
            assert_int_equal(rs.h * rs.w, hw);
            float *o = malloc((size_t)(na * hw * no) * sizeof(float));
            assert_non_null(o);
            assert_int_equal(ypr_model_output(m, l, o, sh), YPR_OK);
            for (int64_t a = 0; a < na; a++)
                for (int64_t i = 0; i < hw; i++)
                    for (int64_t k = 0; k < no; k++)
                        if (o[(a * hw + i) * no + k] != raw[(a * no + k) * hw + i])
                            fail_msg("level %d anchor %lld position %lld value %lld", l,
                                     (long long)a, (long long)i, (long long)k);
            free(o);
        }
        free(x);
        ypr_model_free(m);
    }
}

static int count_values(void *user, int node, const float *value, const ypr_shape *shape,
                        int64_t n)
{
    (void)node;
    (void)value;
    (void)shape;
    (void)n;
    ++*(int *)user;
    return YPR_OK;
}

/* The head outputs of a batch-1 plan on `threads` workers, with
 * YPR_PLAN_LANES=mode; lanes[0]: its lane-B steps, lanes[1]: those that
 * wait for a lane-A step. Each of `passes` passes must give the same. */
static void lane_outputs(ypr_model *m, const float *x, int threads, const char *mode, int passes,
                         float **out, int64_t *count, int *lanes)
{
    ypr_pool *pool = NULL;
    assert_int_equal(ypr__pool_create(threads, &pool), YPR_OK);
    assert_int_equal(setenv("YPR_PLAN_LANES", mode, 1), 0);
    ypr_plan *p = NULL;
    assert_int_equal(ypr__plan_create(&m->net, pool, 1, S, S, &p), YPR_OK);
    unsetenv("YPR_PLAN_LANES");
    lanes[0] = ypr__plan_lane_steps(p, 2);
    lanes[1] = ypr__plan_lane_steps(p, 3);
    assert_true(lanes[0] == 0 || ypr__plan_lane_steps(p, 1) > 0);
    for (int pass = 0; pass < passes; pass++) {
        assert_int_equal(ypr__plan_run(p, x), YPR_OK);
        for (int l = 0; l < 3; l++) {
            int64_t c;
            float *o = head(p, l, &c);
            if (pass == 0) {
                out[l] = o;
                count[l] = c;
                continue;
            }
            assert_int_equal(c, count[l]);
            assert_memory_equal(o, out[l], (size_t)c * sizeof(float));
            free(o);
        }
    }
    /* with an observer the steps run in order: every value shows */
    int seen = 0;
    ypr__plan_set_observer(p, count_values, &seen);
    assert_int_equal(ypr__plan_run(p, x), YPR_OK);
    assert_true(seen > 60);
    ypr__plan_set_observer(p, NULL, NULL);
    ypr__plan_free(p);
    ypr__pool_free(pool);
}

static void test_lanes(void **state)
{
    (void)state;
    ypr_model *m = NULL;
    assert_int_equal(ypr_model_from_cfg("yolov7-tiny", 3, 0, 0.25, 17, &m), YPR_OK);
    float *x = malloc(3 * S * S * sizeof(float));
    assert_non_null(x);
    for (int i = 0; i < 3 * S * S; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.3f;
    assert_int_equal(setenv("YPR_PLAN_LANES", "2", 1), 0);   /* forced: none here either */
    float *out[4][3];
    int64_t count[4][3];
    int lanes[4][2];
    /* forced: levels 0 and 1 in lane B, lane A from level 0's input on, so
     * level 1's chain waits for its input from lane A */
    lane_outputs(m, x, 2, "2", 4, out[0], count[0], lanes[0]);
    lane_outputs(m, x, 2, "1", 2, out[1], count[1], lanes[1]);   /* the cost rule's */
    lane_outputs(m, x, 2, "0", 1, out[2], count[2], lanes[2]);
    lane_outputs(m, x, 1, "2", 1, out[3], count[3], lanes[3]);
    /* per level: the 3x3 conv, the implicit add, the output conv (unfused) */
    assert_int_equal(lanes[0][0], 6);
    assert_int_equal(lanes[0][1], 1);   /* level 1's 3x3 conv waits for its input */
    assert_true(lanes[1][0] >= 3);
    assert_int_equal(lanes[2][0], 0);
    assert_int_equal(lanes[3][0], 0);
    for (int v = 1; v < 4; v++)
        for (int l = 0; l < 3; l++) {
            assert_int_equal(count[v][l], count[0][l]);
            assert_memory_equal(out[v][l], out[0][l], (size_t)count[0][l] * sizeof(float));
        }
    for (int v = 0; v < 4; v++)
        for (int l = 0; l < 3; l++)
            free(out[v][l]);
    /* no lanes on three workers, nor in a batch of two */
    int seen[2];
    for (int k = 0; k < 2; k++) {
        ypr_pool *pool = NULL;
        assert_int_equal(ypr__pool_create(k ? 2 : 3, &pool), YPR_OK);
        ypr_plan *p = NULL;
        assert_int_equal(ypr__plan_create(&m->net, pool, k ? 2 : 1, S, S, &p), YPR_OK);
        seen[k] = ypr__plan_lane_steps(p, 2) + ypr__plan_lane_steps(p, 1);
        ypr__plan_free(p);
        ypr__pool_free(pool);
    }
    unsetenv("YPR_PLAN_LANES");
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], 0);
    free(x);
    ypr_model_free(m);
}

static void test_sibling_pairs(void **state)
{
    (void)state;
    run_pairs(NULL, 8, 1);
    run_pairs(NULL, 8, 3);
    run_pairs(order_cfg, 1, 2);
}

int main(void)
{
    int rc = test_simd_from_env();   /* YPR_SIMD: 77 where this CPU or build lacks the set */
    if (rc)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sibling_pairs),
        cmocka_unit_test(test_output_layout),
        cmocka_unit_test(test_lanes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
