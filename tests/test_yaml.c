/* The YAML reader (lib/core/yaml.c over libyaml): trees and positions for
 * block and flow styles, scalar helpers, and hostile input (aliases, depth,
 * node count, duplicate keys, bad bytes), each error naming file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/core/core.h"

static ypr_yaml *parse_ok(const char *text)
{
    ypr_yaml *y = NULL;
    int rc = ypr__yaml_parse(text, strlen(text), "t.yaml", &y);
    if (rc != YPR_OK)
        fail_msg("parse failed: %s", ypr_last_error());
    assert_non_null(y);
    return y;
}

static void expect_error(const char *text, size_t len, int code, const char *needle)
{
    ypr_yaml *y = (ypr_yaml *)1;
    int rc = ypr__yaml_parse(text, len, "t.yaml", &y);
    if (rc != code || !strstr(ypr_last_error(), needle))
        fail_msg("got %d '%s', want %d containing '%s'", rc, ypr_last_error(), code, needle);
    assert_null(y);
}

static const char *str_at(const ypr_yaml *seq, int i)
{
    assert_true(seq->type == YPR_YAML_SEQ && i < seq->n);
    assert_int_equal(seq->items[i]->type, YPR_YAML_SCALAR);
    return seq->items[i]->s;
}

/* The same data in block, flow and mixed styles gives the same tree. */
static void check_shape(const ypr_yaml *y)
{
    assert_int_equal(y->type, YPR_YAML_MAP);
    assert_int_equal(y->n, 3);
    const ypr_yaml *nc = ypr__yaml_get(y, "nc"), *a = ypr__yaml_get(y, "anchors");
    const ypr_yaml *bb = ypr__yaml_get(y, "backbone");
    assert_non_null(nc);
    assert_non_null(a);
    assert_non_null(bb);
    assert_null(ypr__yaml_get(y, "head"));
    int64_t v = 0;
    assert_int_equal(ypr__yaml_int(nc, &v), 0);
    assert_int_equal(v, 80);
    assert_int_equal(a->type, YPR_YAML_SEQ);
    assert_int_equal(a->n, 2);
    assert_int_equal(a->items[1]->n, 4);
    assert_string_equal(str_at(a->items[1], 3), "45");
    assert_int_equal(bb->n, 2);
    const ypr_yaml *row = bb->items[1];
    assert_int_equal(row->n, 4);
    assert_string_equal(str_at(row, 0), "-1");
    assert_string_equal(str_at(row, 2), "Conv");
    assert_int_equal(row->items[3]->type, YPR_YAML_SEQ);
    assert_string_equal(str_at(row->items[3], 3), "None");
    assert_string_equal(str_at(row->items[3], 4), "nn.LeakyReLU(0.1)");
}

static void test_styles(void **state)
{
    (void)state;
    static const char *const docs[] = {
        /* hand-written YOLOv7 style: flow lists across lines, comments, trailing comma */
        "# cfg\nnc: 80  # classes\nanchors:\n  - [10,13, 16,30]  # P3\n  - [30,61, 62,45]\n"
        "backbone:\n  [[-1, 1, Conv, [32, 3, 1]],  # 0\n   [-1, 1, Conv, [64, 3, 2, None, "
        "nn.LeakyReLU(0.1)]],\n  ]\n",
        /* PyYAML safe_dump, default_flow_style=None: block sequences at column 0 */
        "anchors:\n- [10, 13, 16, 30]\n- [30, 61, 62, 45]\nbackbone:\n- - -1\n  - 1\n  - Conv\n"
        "  - [32, 3, 1]\n- - -1\n  - 1\n  - Conv\n  - [64, 3, 2, None, nn.LeakyReLU(0.1)]\n"
        "nc: 80\n",
        /* PyYAML safe_dump, default_flow_style=False: everything in block style */
        "anchors:\n- - 10\n  - 13\n  - 16\n  - 30\n- - 30\n  - 61\n  - 62\n  - 45\nbackbone:\n"
        "- - -1\n  - 1\n  - Conv\n  - - 32\n    - 3\n    - 1\n- - -1\n  - 1\n  - Conv\n  - - 64\n"
        "    - 3\n    - 2\n    - None\n    - nn.LeakyReLU(0.1)\nnc: 80\n",
        /* one flow mapping */
        "{nc: 80, anchors: [[10, 13, 16, 30], [30, 61, 62, 45]], backbone: [[-1, 1, Conv, [32, "
        "3, 1]], [-1, 1, Conv, [64, 3, 2, None, nn.LeakyReLU(0.1)]]]}\n",
        /* a byte-order mark, CRLF line ends, an explicit document start and end */
        "\xEF\xBB\xBF---\r\nnc: 80\r\nanchors: [[10, 13, 16, 30], [30, 61, 62, 45]]\r\n"
        "backbone:\r\n  - [-1, 1, Conv, [32, 3, 1]]\r\n  - [-1, 1, Conv, [64, 3, 2, None, "
        "nn.LeakyReLU(0.1)]]\r\n...\r\n",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        ypr_yaml *y = parse_ok(docs[i]);
        check_shape(y);
        assert_string_equal(y->file, "t.yaml");
        ypr__yaml_free(y);
    }
}

static void test_positions(void **state)
{
    (void)state;
    ypr_yaml *y = parse_ok("a: 1\nlist:\n- x\n-   [p, q]\nm:\n  k: 'v'\n");
    const ypr_yaml *a = ypr__yaml_get(y, "a"), *l = ypr__yaml_get(y, "list");
    assert_int_equal(a->line, 1);
    assert_int_equal(a->col, 4);
    assert_int_equal(l->line, 3);
    assert_int_equal(l->items[0]->line, 3);
    assert_int_equal(l->items[1]->line, 4);
    assert_int_equal(l->items[1]->col, 5);
    assert_int_equal(l->items[1]->items[1]->col, 9);
    const ypr_yaml *k = ypr__yaml_get(ypr__yaml_get(y, "m"), "k");
    assert_int_equal(k->line, 6);
    assert_int_equal(y->keys[2]->line, 5);
    assert_int_equal(ypr__yaml_error(k, YPR_EFORMAT, "bad %s", "value"), YPR_EFORMAT);
    assert_string_equal(ypr_last_error(), "YPR_EFORMAT: t.yaml:6: bad value");
    ypr__yaml_free(y);
    /* a byte-order mark does not shift lines or columns */
    y = parse_ok("\xEF\xBB\xBFz: 1\nw: 2\n");
    assert_int_equal(ypr__yaml_get(y, "w")->line, 2);
    assert_int_equal(ypr__yaml_get(y, "z")->col, 4);
    ypr__yaml_free(y);
}

static void test_scalars(void **state)
{
    (void)state;
    ypr_yaml *y = parse_ok("a: null\nb: ~\nc:\nd: 'null'\ne: \"x\\ty\"\nf: True\ng: false\n"
                           "h: -12\ni: 1.5e3\nj: .inf\nk: 0x10\nl: !!str 7\nm: |\n  two\n  lines\n"
                           "n: \"nul\\0byte\"\no: 99999999999999999999\n");
    assert_true(ypr__yaml_is_null(ypr__yaml_get(y, "a")));
    assert_true(ypr__yaml_is_null(ypr__yaml_get(y, "b")));
    assert_true(ypr__yaml_is_null(ypr__yaml_get(y, "c")));
    assert_true(ypr__yaml_is_null(ypr__yaml_get(y, "absent")));
    assert_false(ypr__yaml_is_null(ypr__yaml_get(y, "d")));   /* the string "null" */
    assert_false(ypr__yaml_get(y, "d")->plain);
    assert_string_equal(ypr__yaml_get(y, "e")->s, "x\ty");
    int b = -1;
    assert_int_equal(ypr__yaml_bool(ypr__yaml_get(y, "f"), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(ypr__yaml_bool(ypr__yaml_get(y, "g"), &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(ypr__yaml_bool(ypr__yaml_get(y, "h"), &b), -1);
    int64_t v = 0;
    assert_int_equal(ypr__yaml_int(ypr__yaml_get(y, "h"), &v), 0);
    assert_int_equal(v, -12);
    assert_int_equal(ypr__yaml_int(ypr__yaml_get(y, "i"), &v), -1);
    assert_int_equal(ypr__yaml_int(ypr__yaml_get(y, "k"), &v), -1);
    assert_int_equal(ypr__yaml_int(ypr__yaml_get(y, "l"), &v), -1);   /* tagged a string */
    assert_int_equal(ypr__yaml_int(ypr__yaml_get(y, "o"), &v), -1);   /* beyond int64 */
    double d = 0;
    assert_int_equal(ypr__yaml_num(ypr__yaml_get(y, "i"), &d), 0);
    assert_true(d == 1500.0);
    assert_int_equal(ypr__yaml_num(ypr__yaml_get(y, "h"), &d), 0);
    assert_true(d == -12.0);
    assert_int_equal(ypr__yaml_num(ypr__yaml_get(y, "j"), &d), -1);   /* not finite */
    assert_int_equal(ypr__yaml_num(ypr__yaml_get(y, "a"), &d), -1);
    assert_string_equal(ypr__yaml_get(y, "m")->s, "two\nlines\n");
    assert_false(ypr__yaml_get(y, "m")->plain);
    const ypr_yaml *n = ypr__yaml_get(y, "n");
    assert_int_equal(n->len, 8);
    assert_memory_equal(n->s, "nul\0byte", 8);
    assert_int_equal(ypr__yaml_num(NULL, &d), -1);
    ypr__yaml_free(y);
    /* an empty document is null */
    y = parse_ok("");
    assert_true(ypr__yaml_is_null(y));
    ypr__yaml_free(y);
    y = parse_ok("# only a comment\n");
    assert_true(ypr__yaml_is_null(y));
    ypr__yaml_free(y);
    /* keys that are not scalars are kept, and lookups skip them */
    y = parse_ok("? [a, b]\n: 1\n0: zero\n");
    assert_int_equal(y->n, 2);
    assert_int_equal(y->keys[0]->type, YPR_YAML_SEQ);
    assert_string_equal(ypr__yaml_get(y, "0")->s, "zero");
    ypr__yaml_free(y);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char unterminated[] = "a: 1\nb: [1, 2,\n   3\nc: 4\n";
    expect_error(unterminated, strlen(unterminated), YPR_EFORMAT, "t.yaml:4:");
    assert_non_null(strstr(ypr_last_error(), "expected ',' or ']'"));
    expect_error("a: 1\n  b: 2\n", 11, YPR_EFORMAT, "t.yaml:2:");
    expect_error("a: 1\nb: 'open\n", 14, YPR_EFORMAT, "t.yaml:");
    expect_error("a:\n\t- 1\n", 8, YPR_EFORMAT, "t.yaml:2:");   /* a tab as indentation */
    expect_error("a: 1\nb: 2\na: 3\n", 15, YPR_EFORMAT, "t.yaml:3: duplicate key 'a'");
    assert_non_null(strstr(ypr_last_error(), "first at line 1"));
    expect_error("m:\n  x: 1\n  y: 2\n  x: 3\nz: 0\n", 28, YPR_EFORMAT,
                 "t.yaml:4: duplicate key 'x'");
    expect_error("a: 1\n---\nb: 2\n", 14, YPR_EFORMAT, "t.yaml:2: more than one YAML document");
    static const char nul[] = "a: 1\nb: x\0y\n";
    expect_error(nul, sizeof nul - 1, YPR_EFORMAT, "t.yaml:2: control characters");
    expect_error("a: 1\n\nb: \xff\xfe\n", 12, YPR_EFORMAT, "t.yaml:3:");
    expect_error("a: [}\n", 6, YPR_EFORMAT, "t.yaml:1:");
    expect_error("x", (size_t)YPR_YAML_MAX_BYTES + 1, YPR_ERANGE, "t.yaml");
    ypr_yaml *y = NULL;
    assert_int_equal(ypr__yaml_parse(NULL, 3, "t", &y), YPR_EINVAL);
    assert_int_equal(ypr__yaml_parse("a", 1, "t", NULL), YPR_EINVAL);
}

static void test_hostile(void **state)
{
    (void)state;
    /* aliases are refused where they first appear: no billion laughs */
    static const char laughs[] =
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
    expect_error(laughs, strlen(laughs), YPR_EUNSUPPORTED, "t.yaml:2: aliases (*a)");
    /* an anchor alone is harmless */
    ypr_yaml *y = parse_ok("a: &x [1, 2]\n");
    assert_int_equal(ypr__yaml_get(y, "a")->n, 2);
    ypr__yaml_free(y);
    /* nesting depth: the limit passes, one more level fails */
    char deep[4 * YPR_YAML_MAX_DEPTH + 8];
    size_t k = 0;
    for (int i = 0; i < YPR_YAML_MAX_DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i < YPR_YAML_MAX_DEPTH; i++)
        deep[k++] = ']';
    y = NULL;
    assert_int_equal(ypr__yaml_parse(deep, k, "t.yaml", &y), YPR_OK);
    ypr__yaml_free(y);
    k = 0;
    for (int i = 0; i <= YPR_YAML_MAX_DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i <= YPR_YAML_MAX_DEPTH; i++)
        deep[k++] = ']';
    expect_error(deep, k, YPR_EFORMAT, "nested deeper than 64 levels");
    /* a million-deep nest fails at the limit, without recursion */
    size_t big = 3 * (size_t)YPR_YAML_MAX_NODES + 16;
    char *many = malloc(big);
    assert_non_null(many);
    memset(many, '[', big);
    expect_error(many, big, YPR_EFORMAT, "t.yaml:1: nested deeper");
    /* node count: YPR_YAML_MAX_NODES items plus their sequence is one too many */
    many[0] = '[';
    k = 1;
    for (int i = 0; i < YPR_YAML_MAX_NODES; i++) {
        many[k++] = '0';
        many[k++] = ',';
        if (i % 40 == 39)
            many[k++] = '\n';
    }
    many[k++] = ']';   /* a trailing comma is fine in a flow sequence */
    expect_error(many, k, YPR_EFORMAT, "more than 1048576 YAML nodes");
    free(many);
}

/* Truncations and bit flips: an error or a tree, never a crash (ASan in CI). */
static void test_fuzz(void **state)
{
    (void)state;
    static const char text[] =
        "# a cfg\nnc: 80\nanchors:\n- [10, 13, 16, 30]\n- &r [30, 61, 62, 45]\nbackbone:\n"
        "  [[-1, 1, Conv, [32, 3, 1]],\n   [-1, 1, 'Conv', [64, 3, 2, None, nn.LeakyReLU(0.1)]],\n"
        "  ]\nhead: {a: [1, {b: \"c\\u00e9\"}], ? x : y}\nlit: |\n  text\n";
    size_t n = sizeof text - 1;
    for (size_t cut = 0; cut <= n; cut++) {
        ypr_yaml *y = NULL;
        int rc = ypr__yaml_parse(text, cut, "t.yaml", &y);
        assert_true(rc == YPR_OK || rc == YPR_EFORMAT);
        assert_true((rc == YPR_OK) == (y != NULL));
        ypr__yaml_free(y);
    }
    uint64_t s = 777;
    char mut[sizeof text];
    int ok = 0;
    for (int t = 0; t < 3000; t++) {
        memcpy(mut, text, n);
        for (int j = 0; j < 2; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            mut[(s >> 33) % n] ^= (char)(1u << ((s >> 20) % 8));
        }
        ypr_yaml *y = NULL;
        int rc = ypr__yaml_parse(mut, n, "t.yaml", &y);
        assert_true(rc == YPR_OK || rc == YPR_EFORMAT || rc == YPR_EUNSUPPORTED);
        if (rc < 0)
            assert_non_null(strstr(ypr_last_error(), "t.yaml:"));
        ok += rc == YPR_OK;
        ypr__yaml_free(y);
    }
    assert_true(ok > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_styles),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
