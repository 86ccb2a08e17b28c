/* Core services: errors, size arithmetic, thread pool, RNG, CPU feature
 * decoding, the log hook. White-box. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/core/core.h"

static void test_errors(void **state)
{
    (void)state;
    assert_int_equal(ypr__error(YPR_ESHAPE, "tensor %s: want %d", "model.0.conv.weight", 4),
                     YPR_ESHAPE);
    assert_string_equal(ypr_last_error(), "YPR_ESHAPE: tensor model.0.conv.weight: want 4");
    ypr__clear_error();
    assert_string_equal(ypr_last_error(), "");
    assert_string_equal(ypr_err_name(YPR_ENOMEM), "YPR_ENOMEM");
    assert_string_equal(ypr_strerror(YPR_OK), "success");
    assert_string_equal(ypr_strerror(-999), "unknown status");
    assert_string_equal(ypr_err_name(17), "YPR_E?");
}

static void test_mul_size(void **state)
{
    (void)state;
    int64_t r = 0;
    assert_int_equal(ypr__mul_size(1 << 20, 1 << 20, &r), 0);
    assert_true(r == (int64_t)1 << 40);
    assert_int_equal(ypr__mul_size(INT64_MAX / 2, 3, &r), -1);
    assert_int_equal(ypr__mul_size(-1, 3, &r), -1);
    assert_int_equal(ypr__mul_size(0, INT64_MAX, &r), 0);
    assert_true(r == 0);
}

typedef struct count_ctx {
    _Atomic int64_t sum;
    int hits[1000];
    _Atomic int max_worker;
    int64_t slow;   /* this task sleeps 2 ms (−1: none) */
    int nap;        /* every task sleeps 50 µs */
} count_ctx;

static void count_task(void *ctx, int64_t t, int worker)
{
    count_ctx *c = ctx;
    if (t == c->slow)
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    if (c->nap)
        nanosleep(&(struct timespec){0, 50000}, NULL);
    atomic_fetch_add(&c->sum, t);
    c->hits[t]++;   /* each task index is run exactly once: no race */
    int seen = atomic_load(&c->max_worker);
    while (worker > seen && !atomic_compare_exchange_weak(&c->max_worker, &seen, worker))
        ;
}

/* Every task exactly once, on a worker index below the pool's size, for
 * task counts below, at and above the worker count (ranges of 0, 1 and
 * uneven lengths), with per-worker ranges (the default) and with the
 * shared counter (YPR_POOL_RANGED=0); with the default yield window, none
 * (YPR_POOL_YIELD_US=0: pauses, then sleep) and a short one. Some jobs
 * come after a pause of 3 ms (the workers have gone to sleep) and some
 * have a task of 2 ms (the caller waits past its polls). */
static void test_pool(void **state)
{
    (void)state;
    static const int64_t counts[] = {1, 2, 3, 5, 1000};
    static const char *yields[] = {NULL, "0", "50", "bad"};
    for (int mode = 0; mode < 5; mode++) {
        if (mode == 1)
            setenv("YPR_POOL_RANGED", "0", 1);
        if (mode >= 2)
            setenv("YPR_POOL_YIELD_US", yields[mode - 1], 1);
        for (int n = 1; n <= 4; n++) {
            ypr_pool *p;
            assert_int_equal(ypr__pool_create(n, &p), YPR_OK);
            assert_int_equal(ypr__pool_size(p), n);
            for (int rep = 0; rep < 20; rep++)
                for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
                    int64_t nt = counts[ci];
                    count_ctx c = {.slow = rep % 7 == 3 ? nt - 1 : -1};
                    if (rep % 5 == 4 && ci == 0)
                        nanosleep(&(struct timespec){0, 3000000}, NULL);
                    ypr__pool_run(p, nt, count_task, &c);
                    assert_true(atomic_load(&c.sum) == (nt - 1) * nt / 2);
                    for (int i = 0; i < 1000; i++)
                        assert_int_equal(c.hits[i], i < nt ? 1 : 0);
                    assert_true(atomic_load(&c.max_worker) < n);
                }
            ypr__pool_free(p);
        }
        unsetenv("YPR_POOL_RANGED");
        unsetenv("YPR_POOL_YIELD_US");
    }
#if defined(__linux__)
    /* Every thread on one CPU: a worker on the caller's CPU leaves its tasks
     * to the caller (it cannot move anywhere), so every task runs on worker
     * 0, once, although the caller sleeps in each (the worker could run). */
    cpu_set_t had, one;
    if (sched_getaffinity(0, sizeof had, &had) == 0) {
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &had)) {
                CPU_SET(c, &one);
                break;
            }
        if (sched_setaffinity(0, sizeof one, &one) == 0) {
            ypr_pool *p;
            assert_int_equal(ypr__pool_create(2, &p), YPR_OK);
            for (int rep = 0; rep < 5; rep++) {
                count_ctx c = {.slow = -1, .nap = 1};
                ypr__pool_run(p, 100, count_task, &c);
                assert_true(atomic_load(&c.sum) == 99 * 100 / 2);
                for (int i = 0; i < 1000; i++)
                    assert_int_equal(c.hits[i], i < 100 ? 1 : 0);
                assert_int_equal(atomic_load(&c.max_worker), 0);
            }
            ypr__pool_free(p);
            assert_int_equal(sched_setaffinity(0, sizeof had, &had), 0);
        }
    }
#endif
    ypr_pool *p = NULL;
    assert_int_equal(ypr__pool_create(-1, &p), YPR_ERANGE);
    assert_null(p);
    ypr__pool_free(NULL);
}

static void test_rng(void **state)
{
    (void)state;
    ypr_rng a, b;
    ypr__rng_seed(&a, 123);
    ypr__rng_seed(&b, 123);
    double sum = 0, sq = 0;
    for (int i = 0; i < 20000; i++) {
        assert_true(ypr__rng_u64(&a) == ypr__rng_u64(&b));
        float u = ypr__rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        float z = ypr__rng_normal(&b);
        sum += z;
        sq += (double)z * z;
        ypr__rng_uniform(&b);
        ypr__rng_normal(&a);
    }
    assert_true(sum / 20000 > -0.05 && sum / 20000 < 0.05);
    assert_true(sq / 20000 > 0.95 && sq / 20000 < 1.05);
}

static void test_alloc(void **state)
{
    (void)state;
    void *p = ypr__alloc(100);
    assert_non_null(p);
    assert_true(((uintptr_t)p & 63) == 0);
    ypr__free(p);
    assert_null(ypr__calloc(SIZE_MAX / 2, 4));
    assert_non_null(strstr(ypr_last_error(), "overflows"));
}

/* ------------------------------------------------------ CPU features */

/* Bit numbers from the Intel SDM, written out independently of cpu.c. */
static void test_cpu_decode(void **state)
{
    (void)state;
    ypr_cpuid_regs r = {0};
    r.max_leaf = 7;
    r.leaf1_ecx = 1u << 12 | 1u << 20 | 1u << 27 | 1u << 28 | 1u << 29; /* FMA SSE4.2 OSXSAVE AVX F16C */
    r.leaf7_ebx = 1u << 5 | 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31; /* AVX2 F DQ BW VL */
    r.leaf7_ecx = 1u << 11;    /* AVX512_VNNI */
    r.leaf7_1_eax = 1u << 4;   /* AVX_VNNI */
    r.xcr0 = 0xe7;
    ypr_cpu_info c;
    ypr__cpu_decode_x86(&r, &c);
    assert_true(c.sse42 && c.avx && c.fma && c.f16c && c.avx2);
    assert_true(c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512vnni);
    assert_true(c.avxvnni);
    assert_false(c.neon || c.asimddot);

    ypr_cpuid_regs q = r;   /* OS saves YMM but not opmask/ZMM: AVX2 only */
    q.xcr0 = 0x07;
    ypr__cpu_decode_x86(&q, &c);
    assert_true(c.avx2 && c.fma && c.f16c);
    assert_false(c.avx512f || c.avx512bw || c.avx512vl || c.avx512dq || c.avx512vnni);

    q = r;                  /* no OSXSAVE: XCR0 is not read, nothing wide */
    q.leaf1_ecx &= ~(1u << 27);
    ypr__cpu_decode_x86(&q, &c);
    assert_true(c.sse42);
    assert_false(c.avx || c.fma || c.f16c || c.avx2 || c.avx512f || c.avxvnni);

    q = r;                  /* AVX-512 F missing: no subset counts without it */
    q.leaf7_ebx &= ~(1u << 16);
    ypr__cpu_decode_x86(&q, &c);
    assert_true(c.avx2);
    assert_false(c.avx512f || c.avx512bw || c.avx512vl || c.avx512dq || c.avx512vnni);

    q = r;                  /* each subset on its own */
    q.leaf7_ebx &= ~(1u << 17);
    ypr__cpu_decode_x86(&q, &c);
    assert_true(c.avx512f && c.avx512bw && c.avx512vl && !c.avx512dq);

    q = r;                  /* leaf 7 beyond the maximum leaf is not read */
    q.max_leaf = 6;
    ypr__cpu_decode_x86(&q, &c);
    assert_true(c.avx && c.fma);
    assert_false(c.avx2 || c.avx512f || c.avxvnni);

    /* the public query reads the same bits */
    const ypr_cpu_info *h = ypr__cpu();
    assert_int_equal(ypr_cpu_has(YPR_CPU_AVX512DQ), h->avx512dq);
    assert_int_equal(ypr_cpu_has(YPR_CPU_AVX512F), h->avx512f);
    assert_int_equal(ypr_cpu_has(YPR_CPU_AVX2), h->avx2 && h->fma);
}

/* ------------------------------------------------------------- log hook */

typedef struct hook_user { atomic_long calls; } hook_user;
static hook_user hook_users[2];
static atomic_long hook_mismatch;

/* Callback `id` counts a call when it got its own user pointer. */
static void hook_seen(int id, void *user, const char *msg)
{
    if (user != &hook_users[id] || strncmp(msg, "msg ", 4) != 0) {
        atomic_fetch_add(&hook_mismatch, 1);
        return;
    }
    atomic_fetch_add(&hook_users[id].calls, 1);
}

static void hook0(void *user, int level, const char *msg)
{
    (void)level;
    hook_seen(0, user, msg);
}

static void hook1(void *user, int level, const char *msg)
{
    (void)level;
    hook_seen(1, user, msg);
}

static atomic_int spam_stop;
static atomic_long spam_sent;

static void *log_spam(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&spam_stop); i++) {
        ypr__log(YPR_LOG_INFO, "msg %d", i);
        atomic_fetch_add(&spam_sent, 1);
    }
    return NULL;
}

/* Worker threads log while the hook is swapped between two (callback,
 * user) pairs and NULL: a callback must never see the other's user
 * pointer. Then the level filter and NULL, single-threaded. */
static void test_log_hook(void **state)
{
    (void)state;
    pthread_t th[2];
    atomic_store(&spam_stop, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_spam, NULL), 0);
    while (atomic_load(&spam_sent) == 0)   /* the loggers are running */
        sched_yield();
    for (int i = 0; i < 20000; i++) {
        ypr_set_log_callback(hook0, &hook_users[0], YPR_LOG_DEBUG);
        ypr_set_log_callback(hook1, &hook_users[1], YPR_LOG_INFO);
        ypr_set_log_callback(NULL, NULL, YPR_LOG_DEBUG);
    }
    atomic_store(&spam_stop, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&hook_mismatch), 0);

    long c0 = atomic_load(&hook_users[0].calls), c1 = atomic_load(&hook_users[1].calls);
    ypr__log(YPR_LOG_ERROR, "msg dropped: no callback");
    ypr_set_log_callback(hook0, &hook_users[0], YPR_LOG_WARN);
    ypr__log(YPR_LOG_INFO, "msg dropped: above the level");
    ypr__log(YPR_LOG_WARN, "msg delivered");
    ypr__log(YPR_LOG_ERROR, "msg delivered");
    ypr_set_log_callback(NULL, &hook_users[0], YPR_LOG_DEBUG);
    ypr__log(YPR_LOG_ERROR, "msg dropped: no callback");
    assert_int_equal(atomic_load(&hook_users[0].calls), c0 + 2);
    assert_int_equal(atomic_load(&hook_users[1].calls), c1);
    assert_int_equal(atomic_load(&hook_mismatch), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_mul_size),
        cmocka_unit_test(test_pool),     cmocka_unit_test(test_rng),
        cmocka_unit_test(test_alloc),    cmocka_unit_test(test_cpu_decode),
        cmocka_unit_test(test_log_hook),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
