/* JSON reader and writer: DOM queries, escapes, numbers, errors, depth
 * limit, writer round trips. White-box. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/core/core.h"
#include "lib/core/json.h"

/* Parse a C string; the buffer handed over is an exact-size heap copy
 * without a terminator, so AddressSanitizer catches any read past len. */
static int parse_exact(const char *s, size_t len, ypr_json **out)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    int rc = ypr__json_parse(copy, len, "t.json", out);
    free(copy);
    return rc;
}

static int parse(const char *s, ypr_json **out)
{
    return parse_exact(s, strlen(s), out);
}

static ypr_json *parse_ok(const char *s)
{
    ypr_json *j = (ypr_json *)0x1;
    int rc = parse(s, &j);
    if (rc != YPR_OK)
        fail_msg("parse of %s failed: %s", s, ypr_last_error());
    assert_non_null(j);
    return j;
}

/* Expect YPR_EFORMAT, *out NULL, and a message naming the file, the problem
 * (substring) and, when at >= 0, the byte offset. */
static void expect_error_len(const char *s, size_t len, const char *problem, long at)
{
    ypr_json *j = (ypr_json *)0x1;
    ypr__clear_error();
    int rc = parse_exact(s, len, &j);
    if (rc != YPR_EFORMAT)
        fail_msg("parse of '%.*s' gave %d, want YPR_EFORMAT", (int)len, s, rc);
    assert_null(j);
    const char *msg = ypr_last_error();
    if (!strstr(msg, "t.json") || !strstr(msg, problem))
        fail_msg("input '%.*s': message '%s' lacks 't.json' or '%s'", (int)len, s, msg, problem);
    if (at >= 0) {
        char want[64];
        snprintf(want, sizeof want, "at byte %ld", at);
        if (!strstr(msg, want))
            fail_msg("input '%.*s': message '%s' lacks '%s'", (int)len, s, msg, want);
    }
}

static void expect_error(const char *s, const char *problem, long at)
{
    expect_error_len(s, strlen(s), problem, at);
}

static void test_dom(void **state)
{
    (void)state;
    ypr_json *j = parse_ok(" {\"a\": [1, -2.5, true, false, null, \"x\"],\n\t\"b\": {}, \"c\": [],"
                           " \"a\": 7, \"\": \"empty\"}\r\n");
    assert_int_equal(ypr__json_type(j), YPR_JSON_OBJECT);
    assert_int_equal(ypr__json_len(j), 5);
    assert_string_equal(ypr__json_key_at(j, 0), "a");
    assert_string_equal(ypr__json_key_at(j, 1), "b");
    assert_string_equal(ypr__json_key_at(j, 4), "");
    assert_null(ypr__json_key_at(j, 5));
    const ypr_json *a = ypr__json_get(j, "a");
    assert_ptr_equal(a, ypr__json_at(j, 0));           /* first of duplicate keys */
    assert_int_equal(ypr__json_type(a), YPR_JSON_ARRAY);
    assert_int_equal(ypr__json_len(a), 6);
    assert_null(ypr__json_key_at(a, 0));
    assert_null(ypr__json_at(a, 6));
    int64_t iv = 0;
    assert_int_equal(ypr__json_int(ypr__json_at(a, 0), &iv), 0);
    assert_true(iv == 1);
    assert_true(ypr__json_num(ypr__json_at(a, 1)) == -2.5);
    assert_int_equal(ypr__json_int(ypr__json_at(a, 1), &iv), -1);
    assert_int_equal(ypr__json_type(ypr__json_at(a, 2)), YPR_JSON_BOOL);
    assert_int_equal(ypr__json_bool(ypr__json_at(a, 2)), 1);
    assert_int_equal(ypr__json_bool(ypr__json_at(a, 3)), 0);
    assert_int_equal(ypr__json_type(ypr__json_at(a, 3)), YPR_JSON_BOOL);
    assert_int_equal(ypr__json_type(ypr__json_at(a, 4)), YPR_JSON_NULL);
    assert_string_equal(ypr__json_str(ypr__json_at(a, 5)), "x");
    assert_int_equal(ypr__json_strlen(ypr__json_at(a, 5)), 1);
    assert_int_equal(ypr__json_type(ypr__json_get(j, "b")), YPR_JSON_OBJECT);
    assert_int_equal(ypr__json_len(ypr__json_get(j, "b")), 0);
    assert_int_equal(ypr__json_type(ypr__json_get(j, "c")), YPR_JSON_ARRAY);
    assert_int_equal(ypr__json_len(ypr__json_get(j, "c")), 0);
    assert_string_equal(ypr__json_str(ypr__json_get(j, "")), "empty");
    assert_null(ypr__json_get(j, "zz"));
    assert_null(ypr__json_get(a, "a"));                 /* not an object */
    /* wrong-type accessors */
    assert_null(ypr__json_str(a));
    assert_true(ypr__json_num(a) == 0.0);
    assert_int_equal(ypr__json_int(a, &iv), -1);
    assert_int_equal(ypr__json_bool(a), 0);
    assert_int_equal(ypr__json_strlen(a), 0);
    assert_int_equal(ypr__json_len(ypr__json_at(a, 5)), 0);
    /* NULL handles */
    assert_int_equal(ypr__json_type(NULL), YPR_JSON_NULL);
    assert_int_equal(ypr__json_len(NULL), 0);
    assert_null(ypr__json_at(NULL, 0));
    assert_null(ypr__json_get(NULL, "a"));
    assert_null(ypr__json_str(NULL));
    ypr__json_free(j);
    ypr__json_free(NULL);

    /* scalars at top level */
    j = parse_ok("\"top\"");
    assert_string_equal(ypr__json_str(j), "top");
    ypr__json_free(j);
    j = parse_ok("  null ");
    assert_int_equal(ypr__json_type(j), YPR_JSON_NULL);
    ypr__json_free(j);
}

static void test_escapes(void **state)
{
    (void)state;
    ypr_json *j = parse_ok("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u0041\\u00e9\\u00C9\\u20AC"
                           "\\ud83d\\ude00 \\uD834\\uDD1E raw:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    const char want[] = "q\" b\\ s/ \b\f\n\r\t A\xc3\xa9\xc3\x89\xe2\x82\xac"
                        "\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e raw:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    assert_int_equal(ypr__json_strlen(j), sizeof want - 1);
    assert_memory_equal(ypr__json_str(j), want, sizeof want - 1);
    ypr__json_free(j);

    /* \u0000 inside a string and a key */
    j = parse_ok("{\"k\\u0000ey\": \"a\\u0000b\"}");
    assert_int_equal(ypr__json_key_len(j, 0), 4);
    assert_memory_equal(ypr__json_key_at(j, 0), "k\0ey", 4);
    assert_null(ypr__json_get(j, "k"));
    const ypr_json *v = ypr__json_at(j, 0);
    assert_int_equal(ypr__json_strlen(v), 3);
    assert_memory_equal(ypr__json_str(v), "a\0b", 4);   /* incl. terminator */
    ypr__json_free(j);

    /* boundaries of the code space */
    j = parse_ok("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff\"");
    const char want2[] = "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf";
    assert_int_equal(ypr__json_strlen(j), sizeof want2 - 1);
    assert_memory_equal(ypr__json_str(j), want2, sizeof want2 - 1);
    ypr__json_free(j);
}

static void test_string_errors(void **state)
{
    (void)state;
    expect_error("\"abc", "unterminated string", 0);
    expect_error("[\"abc\\", "unterminated string", 1);
    expect_error("\"a\\x\"", "invalid escape", 2);
    expect_error("\"\\u12\"", "invalid \\u escape", 1);
    expect_error("\"\\u12", "invalid \\u escape", 1);
    expect_error("\"\\u12G4\"", "invalid \\u escape", 1);
    expect_error("\"ab\\ud800\"", "unpaired high surrogate", 3);
    expect_error("\"\\ud800\\u0041\"", "unpaired high surrogate", 1);
    expect_error("\"\\ud800\\ud800\"", "unpaired high surrogate", 1);
    expect_error("\"\\udc00\"", "unpaired low surrogate", 1);
    expect_error("\"a\nb\"", "control character", 2);
    expect_error("\"a\tb\"", "control character", 2);
    expect_error_len("\"a\0b\"", 5, "control character", 2);
    expect_error("\"\xc0\x80\"", "invalid UTF-8", 1);           /* overlong NUL */
    expect_error("\"\xe0\x80\xaf\"", "invalid UTF-8", 1);       /* overlong '/' */
    expect_error("\"\xed\xa0\x80\"", "invalid UTF-8", 1);       /* encoded surrogate */
    expect_error("\"\xf4\x90\x80\x80\"", "invalid UTF-8", 1);   /* > U+10FFFF */
    expect_error("\"\xf5\x80\x80\x80\"", "invalid UTF-8", 1);
    expect_error("\"ok\x80\"", "invalid UTF-8", 3);             /* lone continuation */
    expect_error("\"\xe2\x82\"", "invalid UTF-8", 1);           /* truncated sequence */
    expect_error("\"\xe2\x82", "invalid UTF-8", 1);             /* truncated at the end */
    expect_error("\"\xff\"", "invalid UTF-8", 1);
}

static void check_number(const char *s, double want)
{
    ypr_json *j = parse_ok(s);
    assert_int_equal(ypr__json_type(j), YPR_JSON_NUMBER);
    double got = ypr__json_num(j);
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%s parsed to %.17g, want %.17g", s, got, want);
    ypr__json_free(j);
}

static void check_int(const char *s, int ok, int64_t want)
{
    ypr_json *j = parse_ok(s);
    int64_t got = 12345;
    int rc = ypr__json_int(j, &got);
    if (rc != (ok ? 0 : -1) || (ok && got != want))
        fail_msg("%s: json_int rc %d value %lld", s, rc, (long long)got);
    ypr__json_free(j);
}

static void test_numbers(void **state)
{
    (void)state;
    check_number("0", 0.0);
    check_number("-0", -0.0);
    check_number("-0.0e5", -0.0);
    check_number("1.5", 1.5);
    check_number("-2.25E+2", -225.0);
    check_number("25e-1", 2.5);
    check_number("0.1", 0.1);
    check_number("1e-400", 0.0);                         /* underflow → 0 */
    check_number("4.9406564584124654e-324", 4.9406564584124654e-324);
    check_number("1.7976931348623157e308", DBL_MAX);
    check_number("  17  ", 17.0);
    check_number("0.30000000000000004", 0.1 + 0.2);

    check_int("9223372036854775807", 1, INT64_MAX);
    check_int("-9223372036854775808", 1, INT64_MIN);
    check_int("9007199254740993", 1, 9007199254740993LL);   /* not a double */
    check_int("-9007199254740993", 1, -9007199254740993LL);
    check_int("9223372036854775808", 0, 0);               /* 2^63 */
    check_int("1e3", 1, 1000);
    check_int("-0", 1, 0);
    check_int("1.0", 1, 1);
    check_int("1.5", 0, 0);
    check_int("-1e19", 0, 0);
    check_int("-9.223372036854775808e18", 1, INT64_MIN);

    expect_error("1e400", "number out of range", 0);
    expect_error("[-1e400]", "number out of range", 1);
    expect_error("01", "leading zero", 0);
    expect_error("-01", "leading zero", 0);
    expect_error("1.", "no digits after", 0);
    expect_error("1.e5", "no digits after", 0);
    expect_error(".5", "unexpected character", 0);
    expect_error("+1", "unexpected character", 0);
    expect_error("-", "invalid number", 0);
    expect_error("- 1", "invalid number", 0);
    expect_error("1e", "bad exponent", 0);
    expect_error("1e+", "bad exponent", 0);
    expect_error("0x10", "trailing characters", 1);
    expect_error("NaN", "unexpected character", 0);
    expect_error("Infinity", "unexpected character", 0);
    expect_error("-Infinity", "invalid number", 0);

    /* a very long number is fine (copied out before conversion) */
    char big[600];
    memset(big, '0', sizeof big);
    big[0] = '1';
    big[1] = '.';
    big[sizeof big - 1] = '\0';
    check_number(big, 1.0);
}

static void test_structure_errors(void **state)
{
    (void)state;
    expect_error("", "unexpected end of input", 0);
    expect_error("   ", "unexpected end of input", 3);
    expect_error("[1,2,x]", "unexpected character", 5);
    expect_error("[1,]", "unexpected character", 3);
    expect_error("{\"a\":1,}", "expected a string key", 7);
    expect_error("{\"a\" 1}", "expected ':'", 5);
    expect_error("{1:2}", "expected a string key", 1);
    expect_error("[1 2]", "expected ',' or ']'", 3);
    expect_error("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
    expect_error("[", "unexpected end of input", 1);
    expect_error("[1", "unterminated array", 0);
    expect_error("{", "unterminated object", 0);
    expect_error("{\"a\"", "expected ':'", 4);
    expect_error("{\"a\":", "unexpected end of input", 5);
    expect_error("{\"a\":1", "unterminated object", 0);
    expect_error("1 2", "trailing characters", 2);
    expect_error("{} x", "trailing characters", 3);
    expect_error("}", "unexpected character", 0);
    expect_error("tru", "invalid literal", 0);
    expect_error("nul", "invalid literal", 0);
    expect_error("falsey", "trailing characters", 5);
    expect_error("True", "unexpected character", 0);
    expect_error("\xef\xbb\xbf{}", "unexpected character", 0);      /* BOM */
    expect_error("[1,/*c*/2]", "unexpected character", 3);
    expect_error("\f1", "unexpected character", 0);                 /* not JSON whitespace */

    /* the exact message format, once */
    ypr_json *j;
    assert_int_equal(ypr__json_parse("[1,2,x]", 7, "cfg.json", &j), YPR_EFORMAT);
    assert_string_equal(ypr_last_error(),
                        "YPR_EFORMAT: cfg.json: invalid JSON: unexpected character at byte 5");
    /* NULL what still gives a message */
    assert_int_equal(ypr__json_parse("x", 1, NULL, &j), YPR_EFORMAT);
    assert_non_null(strstr(ypr_last_error(), "at byte 0"));
    assert_int_equal(ypr__json_parse(NULL, 3, "n", &j), YPR_EINVAL);
}

static void test_len_respected(void **state)
{
    (void)state;
    /* only the first len bytes count */
    ypr_json *j;
    assert_int_equal(ypr__json_parse("12345", 3, "t", &j), YPR_OK);
    assert_true(ypr__json_num(j) == 123.0);
    ypr__json_free(j);
    assert_int_equal(ypr__json_parse("truex", 4, "t", &j), YPR_OK);
    assert_int_equal(ypr__json_bool(j), 1);
    ypr__json_free(j);
    assert_int_equal(ypr__json_parse("\"ab\"", 3, "t", &j), YPR_EFORMAT);
    assert_int_equal(ypr__json_parse("[1]", 2, "t", &j), YPR_EFORMAT);
    /* every prefix of a valid document, in exact-size buffers */
    const char *doc = "{\"a\":[1,-2.5e3,true,false,null,\"\\u00e9\\ud83d\\ude00x\"],\"b\":{}}";
    size_t n = strlen(doc);
    for (size_t len = 0; len < n; len++) {
        j = (ypr_json *)0x1;
        int rc = parse_exact(doc, len, &j);
        if (rc != YPR_EFORMAT)
            fail_msg("prefix of %zu bytes gave %d", len, rc);
        assert_null(j);
    }
    assert_int_equal(parse_exact(doc, n, &j), YPR_OK);
    ypr__json_free(j);
}

static char *nested(int depth, const char *open, const char *inner, const char *close)
{
    size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
    char *s = malloc((size_t)depth * (lo + lc) + li + 1);
    assert_non_null(s);
    char *p = s;
    for (int i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (int i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static void test_depth(void **state)
{
    (void)state;
    char *s = nested(256, "[", "1", "]");
    ypr_json *j = parse_ok(s);
    const ypr_json *v = j;
    for (int i = 0; i < 256; i++) {
        assert_int_equal(ypr__json_type(v), YPR_JSON_ARRAY);
        v = ypr__json_at(v, 0);
    }
    assert_true(ypr__json_num(v) == 1.0);
    ypr__json_free(j);
    free(s);

    s = nested(257, "[", "1", "]");
    expect_error(s, "nesting deeper than 256", 256);
    free(s);

    s = nested(256, "{\"k\":", "0", "}");
    ypr__json_free(parse_ok(s));
    free(s);
    s = nested(257, "{\"k\":", "0", "}");
    expect_error(s, "nesting deeper than 256", 5 * 256);
    free(s);

    /* far deeper than any stack could recurse: an error, not a crash */
    s = nested(1000000, "[", "", "]");
    expect_error(s, "nesting deeper than 256", 256);
    free(s);
    s = nested(1000000, "[{\"a\":", "", "");
    expect_error(s, "nesting deeper than 256", -1);
    free(s);
}

static void test_writer_strings(void **state)
{
    (void)state;
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    assert_int_equal(sb.len, 0);
    assert_int_equal(sb.failed, 0);

    /* every byte 1..127, quotes and backslashes, multi-byte UTF-8 */
    char s[200];
    size_t k = 0;
    for (int c = 1; c < 128; c++)
        s[k++] = (char)c;
    const char *utf = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"\\";
    memcpy(s + k, utf, strlen(utf));
    k += strlen(utf);
    s[k] = '\0';
    ypr__sb_json_str(&sb, s);
    assert_int_equal(sb.failed, 0);
    assert_int_equal(sb.data[sb.len], '\0');
    /* no raw control characters in the output */
    for (size_t i = 0; i < sb.len; i++)
        assert_true((unsigned char)sb.data[i] >= 0x20);
    assert_non_null(strstr(sb.data, "\\n"));
    assert_non_null(strstr(sb.data, "\\u001f"));
    ypr_json *j;
    assert_int_equal(ypr__json_parse(sb.data, sb.len, "w", &j), YPR_OK);
    assert_int_equal(ypr__json_strlen(j), k);
    assert_memory_equal(ypr__json_str(j), s, k);
    ypr__json_free(j);

    /* invalid UTF-8 becomes U+FFFD so the output stays valid JSON */
    ypr__sb_free(&sb);
    ypr__sb_json_str(&sb, "a\xff" "b\xc3");
    assert_string_equal(sb.data, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
    ypr__sb_free(&sb);
    ypr__sb_json_str(&sb, NULL);
    assert_string_equal(sb.data, "null");
    ypr__sb_free(&sb);
    ypr__sb_json_str(&sb, "");
    assert_string_equal(sb.data, "\"\"");

    /* puts/printf/append, incl. a printf longer than any small buffer */
    ypr__sb_free(&sb);
    ypr__sb_puts(&sb, "x=");
    ypr__sb_printf(&sb, "%d,%s", 42, "y");
    ypr__sb_append(&sb, "zzz", 2);
    assert_string_equal(sb.data, "x=42,yzz");
    assert_int_equal(sb.len, 8);
    char longs[1001];
    memset(longs, 'q', 1000);
    longs[1000] = '\0';
    ypr__sb_printf(&sb, "[%s]", longs);
    assert_int_equal(sb.len, 8 + 1002);
    assert_int_equal(sb.data[8], '[');
    assert_int_equal(sb.data[8 + 1001], ']');
    assert_int_equal(sb.data[sb.len], '\0');
    ypr__sb_free(&sb);
    assert_null(sb.data);
    assert_int_equal(sb.len, 0);
}

static double write_and_read(double v, char *text, size_t textcap)
{
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr__sb_json_double(&sb, v);
    assert_int_equal(sb.failed, 0);
    snprintf(text, textcap, "%s", sb.data);
    ypr_json *j;
    if (ypr__json_parse(sb.data, sb.len, "d", &j) != YPR_OK)
        fail_msg("writer output '%s' does not parse: %s", sb.data, ypr_last_error());
    assert_int_equal(ypr__json_type(j), YPR_JSON_NUMBER);
    double r = ypr__json_num(j);
    ypr__json_free(j);
    ypr__sb_free(&sb);
    return r;
}

static void check_roundtrip(double v)
{
    char text[64];
    double r = write_and_read(v, text, sizeof text);
    if (memcmp(&r, &v, sizeof r) != 0)
        fail_msg("%.17g written as '%s' read back as %.17g", v, text, r);
}

static void test_writer_numbers(void **state)
{
    (void)state;
    const double tricky[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.1 + 0.2, 1.0 / 3.0, 2.0 / 3.0, M_PI, M_E,
        DBL_MAX, -DBL_MAX, DBL_MIN, DBL_MIN / 2, 4.9406564584124654e-324, DBL_EPSILON,
        1.0 + DBL_EPSILON, 9007199254740992.0, 9007199254740994.0, 1e21, 1e22, 1e23, 1e-7,
        123456789.123456789, 5e-324 * 3, 0.1f, 1.0f / 3.0f, FLT_MAX, FLT_MIN, FLT_TRUE_MIN,
        65504.0, 5.9604644775390625e-08, 1e308, 2.2250738585072009e-308,
        1.7976931348623155e308, 0.30000000000000004, 100.0, 1e15, 1e16, 1e17,
        123456789012345678.0, -8.5e-200,
    };
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++)
        check_roundtrip(tricky[i]);

    /* random bit patterns */
    ypr_rng rng;
    ypr__rng_seed(&rng, 7);
    for (int i = 0; i < 20000; i++) {
        uint64_t u = ypr__rng_u64(&rng);
        double v;
        memcpy(&v, &u, sizeof v);
        if (isnan(v) || isinf(v))
            continue;
        check_roundtrip(v);
        float f = (float)v;
        if (!isinf(f)) {
            char text[64];
            double r = write_and_read((double)f, text, sizeof text);
            if ((float)r != f || memcmp(&r, &(double){ (double)f }, sizeof r) != 0)
                fail_msg("float %.9g written as '%s' read back as %.17g", (double)f, text, r);
        }
    }

    /* short output where possible */
    char text[64];
    write_and_read(0.1, text, sizeof text);
    assert_string_equal(text, "0.1");
    write_and_read(-0.0, text, sizeof text);
    assert_string_equal(text, "-0");
    write_and_read(1e21, text, sizeof text);
    assert_string_equal(text, "1e+21");
    write_and_read(0.1 + 0.2, text, sizeof text);
    assert_string_equal(text, "0.30000000000000004");

    /* NaN and infinities become null */
    ypr_strbuf sb;
    ypr__sb_init(&sb);
    ypr__sb_json_double(&sb, NAN);
    ypr__sb_puts(&sb, ",");
    ypr__sb_json_double(&sb, INFINITY);
    ypr__sb_puts(&sb, ",");
    ypr__sb_json_double(&sb, -INFINITY);
    assert_string_equal(sb.data, "null,null,null");
    ypr__sb_free(&sb);
}

/* With a decimal-comma locale active, writing and reading still use '.'.
 * Only meaningful where such a locale is installed. */
static void test_locale(void **state)
{
    (void)state;
    const char *names[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8",
                            "ru_RU.UTF-8", "nl_NL.UTF-8" };
    const char *got = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !got; i++)
        got = setlocale(LC_NUMERIC, names[i]);
    if (!got || strcmp(localeconv()->decimal_point, ",") != 0) {
        setlocale(LC_NUMERIC, "C");
        skip();
    }
    char text[64];
    double r = write_and_read(2.5, text, sizeof text);
    setlocale(LC_NUMERIC, "C");
    assert_string_equal(text, "2.5");
    assert_true(r == 2.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dom),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_len_respected),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_writer_strings),
        cmocka_unit_test(test_writer_numbers),
        cmocka_unit_test(test_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
