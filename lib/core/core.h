/* Internal core services: errors, allocation, logging, CPU detection, thread
 * pool, RNG. Everything here is hidden from the shared library's ABI. */
#ifndef YPR_CORE_H
#define YPR_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "include/yolopr.h"

#if defined(__GNUC__)
#  define YPR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define YPR_PRINTF(a, b)
#endif

/* ---- errors: record a message for ypr_last_error() and return the code */
int ypr__error(int code, const char *fmt, ...) YPR_PRINTF(2, 3);
int ypr__verror(int code, const char *fmt, va_list ap);
void ypr__clear_error(void);

#define RETURN_IF(cond, code, ...)                                           \
    do { if (cond) return ypr__error((code), __VA_ARGS__); } while (0)
#define TRY(expr)                                                            \
    do { int ypr_rc_ = (expr); if (ypr_rc_ < 0) return ypr_rc_; } while (0)

/* ---- sizes: products that report overflow instead of wrapping */
/* *out = a * b; returns 0 on success, -1 on overflow or negative input. */
int ypr__mul_size(int64_t a, int64_t b, int64_t *out);

/* ---- allocation: 64-byte aligned, NULL on failure (with an error recorded) */
void *ypr__alloc(size_t bytes);
void *ypr__calloc(size_t count, size_t size);
void ypr__free(void *p);

/* ---- logging (through the host's callback) */
void ypr__log(int level, const char *fmt, ...) YPR_PRINTF(2, 3);

/* ---- CPU features */
/* A feature is set only when the CPU reports it and the OS saves the
 * registers it needs (YMM for the AVX family, opmask and ZMM for AVX-512). */
typedef struct ypr_cpu_info {
    unsigned sse42 : 1, avx : 1, avx2 : 1, fma : 1, f16c : 1, avx512f : 1, avx512bw : 1,
             avx512vl : 1, avx512dq : 1, avx512vnni : 1, avxvnni : 1, neon : 1, asimddot : 1,
             avx512vbmi : 1;
} ypr_cpu_info;
/* What x86 detection reads: CPUID leaf 1 ECX, leaf 7 subleaf 0 EBX and ECX,
 * leaf 7 subleaf 1 EAX (ignored when max_leaf < 7) and XCR0 (0 without
 * OSXSAVE). */
typedef struct ypr_cpuid_regs {
    uint32_t max_leaf, leaf1_ecx, leaf7_ebx, leaf7_ecx, leaf7_1_eax;
    uint64_t xcr0;
} ypr_cpuid_regs;
/* The features those registers grant (pure: the detection logic, testable
 * on any machine). */
void ypr__cpu_decode_x86(const ypr_cpuid_regs *r, ypr_cpu_info *ci);
const ypr_cpu_info *ypr__cpu(void);
int ypr__online_cpus(void);

/* ---- thread pool: run fn(ctx, task, worker) for task in [0, ntasks).
 * The caller's thread takes part as worker 0; workers are < nthreads.
 * Each task must write disjoint memory, so results never depend on which
 * worker ran a task or on the thread count. Not reentrant. */
typedef struct ypr_pool ypr_pool;
typedef void (*ypr_task_fn)(void *ctx, int64_t task, int worker);
int ypr__pool_create(int nthreads, ypr_pool **out);
void ypr__pool_free(ypr_pool *pool);
int ypr__pool_size(const ypr_pool *pool);
/* One round of a wait loop on a flag another thread sets: a pause for as
 * long as the pool's workers spin between jobs, then a yield of the CPU. */
void ypr__spin_wait(int round);
void ypr__pool_run(ypr_pool *pool, int64_t ntasks, ypr_task_fn fn, void *ctx);
/* The process-wide pool sized by ypr_set_num_threads(); created lazily. */
ypr_pool *ypr__default_pool(void);

/* ---- deterministic RNG (splitmix64 seeding a xoshiro256**) */
typedef struct ypr_rng { uint64_t s[4]; } ypr_rng;
void ypr__rng_seed(ypr_rng *r, uint64_t seed);
uint64_t ypr__rng_u64(ypr_rng *r);
float ypr__rng_uniform(ypr_rng *r);           /* [0, 1) */
float ypr__rng_normal(ypr_rng *r);            /* N(0, 1) */

/* ---- monotonic clock in seconds */
double ypr__now(void);

/* ---- YAML (yaml.c, over libyaml): one document read into a small tree.
 * Model cfgs, data and hyp files all go through it. Input is treated as
 * hostile: at most YPR_YAML_MAX_BYTES of text, YPR_YAML_MAX_DEPTH levels of
 * nesting and YPR_YAML_MAX_NODES nodes; aliases (`*name`) are refused
 * (YPR_EUNSUPPORTED), anchors and tags are accepted and otherwise ignored;
 * duplicate keys, a second document, bad UTF-8 and control characters are
 * YPR_EFORMAT. A UTF-8 (or UTF-16) byte-order mark is accepted. Every error
 * message starts with `file:line:`. */
#define YPR_YAML_MAX_BYTES (64 << 20)
#define YPR_YAML_MAX_DEPTH 64
#define YPR_YAML_MAX_NODES (1 << 20)

enum { YPR_YAML_SCALAR = 1, YPR_YAML_SEQ = 2, YPR_YAML_MAP = 3 };

/* A node, read-only for callers. Scalars keep their text as written (YAML's
 * type resolution is the caller's: see the helpers below); `plain` tells a
 * plain scalar (`x`, `null`, `10`) from a quoted or block one (`'x'`, `"10"`,
 * `|`) or one tagged `!!str`, so a caller can tell the string "null" from
 * null. An empty document is a plain empty scalar (null). */
typedef struct ypr_yaml {
    int type;                  /* YPR_YAML_* */
    int line, col;             /* 1-based position where the node starts */
    int plain;                 /* scalar: plain style, no !!str tag */
    char *s;                   /* scalar text, NUL-terminated (may also hold NULs) */
    size_t len;                /* its byte length */
    struct ypr_yaml **items;   /* SEQ: the items; MAP: the values */
    struct ypr_yaml **keys;    /* MAP: the keys (any node type), parallel to items */
    int n;                     /* item / pair count */
    const char *file;          /* the name given to ypr__yaml_parse, for messages */
} ypr_yaml;

/* Parse exactly `len` bytes; `file` names the source in errors. *out is the
 * root (any type) or NULL on failure. Free the root with ypr__yaml_free. */
int ypr__yaml_parse(const char *text, size_t len, const char *file, ypr_yaml **out);
void ypr__yaml_free(ypr_yaml *root);
/* The value of a scalar key in a mapping; NULL when absent or not a map. */
const ypr_yaml *ypr__yaml_get(const ypr_yaml *map, const char *key);
/* 1 for NULL (absent) and plain ``, `~`, `null`, `Null`, `NULL`. */
int ypr__yaml_is_null(const ypr_yaml *v);
/* Plain scalar conversions: 0 and *out set, or -1 (not that type; no error
 * recorded, the caller names what it expected with ypr__yaml_error).
 * bool: true/True/TRUE, false/False/FALSE. int: optional sign and decimal
 * digits, in int64 range. num: strtod's syntax, finite only. */
int ypr__yaml_bool(const ypr_yaml *v, int *out);
int ypr__yaml_int(const ypr_yaml *v, int64_t *out);
int ypr__yaml_num(const ypr_yaml *v, double *out);
/* Record "file:line: <message>" for node `at` and return `code`. */
int ypr__yaml_error(const ypr_yaml *at, int code, const char *fmt, ...) YPR_PRINTF(3, 4);

#endif
