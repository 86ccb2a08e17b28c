/* A small pthread pool. A job's task indices are split into one
 * contiguous range per worker, in order (worker w: tasks [w·n/W,
 * (w+1)·n/W)); a worker takes its own range from the front through an
 * atomic counter, then helps the others with theirs the same way. The
 * caller's thread works as worker 0, so a pool of one thread spawns
 * nothing.
 *
 * Why ranges rather than one shared counter: drivers number their tasks in
 * output order (column blocks, tile blocks, row groups), so with ranges a
 * worker writes the same part of every layer's output on every pass, and
 * mostly reads what it wrote itself one layer before. With one counter the
 * tasks went to whichever worker came first, and half of all activations
 * changed cores between two layers; on the 2-vCPU Zen 5 VM a line written
 * by the other core cost far more than one's own (an INT8 stem conv alone,
 * two threads: 0.82 ms, 0.50 ms with each worker writing its own buffer,
 * 0.78 ms on one thread). Profiled per step, yolov7-tiny @416 took 0.94 of
 * the time; whole passes 0.96 (yolov7-tiny @416, 11 rounds) and 0.97
 * (yolov7 @416, 7), even at 640. YPR_POOL_RANGED=0 (read when a pool is
 * made) brings back the shared counter for A/B runs.
 *
 * Between jobs, workers spin briefly on the job generation before sleeping
 * on a condition variable: a network runs ~100 jobs per forward pass back to
 * back, and a futex round trip per job would cost more than the small ones.
 * The caller spins the same way waiting for the end.
 *
 * After the pause spins, a waiter keeps polling for up to YIELD_US more,
 * calling sched_yield between short runs of pauses, before it sleeps. A
 * pause takes 19 ns on the AVX-512 Zen 5 VM, so the pause spins end after
 * ~38 µs, while one worker's share of a big step can end 100–300 µs before
 * the other's: in yolov7-tiny @416 (two threads) the caller then slept on
 * its last waits, and the workers on the next job, each wake-up a futex
 * round trip of 20–50 µs (worker timelines per job: 100–250 µs per pass).
 * Yielding rather than pausing gives the CPU to any thread that needs it:
 * two 2-thread processes on the 2 CPUs, or 4 threads in one, ran as fast
 * as with plain sleeps (docs/simd.md, "Session 15"). YPR_POOL_YIELD_US
 * (read when a pool is made) sets the window, 0 turns it off (A/B runs). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static void cpu_relax(void) { __asm__ volatile("yield"); }
#else
static void cpu_relax(void) { }
#endif

/* About 2000 pauses (tens of microseconds): long enough to bridge the gap
 * between back-to-back jobs of one forward pass, short enough that a pool
 * sharing its cores (meson's parallel tests, a trainer's loader threads,
 * neighbours) does not burn them: 20000 rounds cost 5-20x the CPU time of a
 * single-threaded run whenever threads outnumbered free cores. */
#define SPIN_ROUNDS 2000
#define YIELD_US 500
/* pauses between two yields: about a microsecond */
#define YIELD_EVERY 64

struct ypr_pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    _Atomic uint64_t generation;  /* bumped per job (release) after its fields are set */
    _Atomic int busy;             /* workers still inside the current job */
    _Atomic int quit;
    int sleepers;                 /* workers waiting on `wake` (under mu) */
    int caller_sleeping;          /* the caller waits on `done` (under mu) */
    ypr_task_fn fn;
    void *ctx;
    int64_t ntasks;
    _Atomic int64_t next;         /* the shared counter (ranged == 0) */
    struct slot *slots;           /* per worker: its range of the job's tasks */
    int ranged;
    double yield_s;               /* the yield window (YIELD_US), in seconds */
    _Atomic int caller_cpu;       /* the CPU the caller posted the current job from, or −1 */
    int can_move;                 /* no more threads than CPUs to run on (move_off) */
};

/* A worker's share of a job: tasks [next, end), taken from the front by its
 * owner and by workers that ran out of their own (one cache line each). */
typedef struct slot {
    _Atomic int64_t next;
    int64_t end;
    char pad[64 - 2 * sizeof(int64_t)];
} slot;

typedef struct worker_arg { ypr_pool *pool; int index; } worker_arg;

static void work(ypr_pool *p, int worker)
{
    if (p->ranged) {   /* its own range, then the others' in turn */
        for (int v = 0; v < p->nthreads; v++) {
            slot *sl = &p->slots[(worker + v) % p->nthreads];
            for (;;) {
                int64_t t = atomic_fetch_add_explicit(&sl->next, 1, memory_order_relaxed);
                if (t >= sl->end)
                    break;
                p->fn(p->ctx, t, worker);
            }
        }
        return;
    }
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks)
            break;
        p->fn(p->ctx, t, worker);
    }
}

/* The CPU this thread runs on, or −1 where that is unknown. */
static int this_cpu(void)
{
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

/* How many CPUs this thread may run on. */
static int allowed_cpus(void)
{
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    return ypr__online_cpus();
}

/* Moves the calling thread off CPU `cpu` to another it may run on, then
 * gives it back the CPUs it had: returns whether it moved.
 *
 * Why: on the 2-vCPU VM a worker sometimes ran on the caller's CPU (1 in 12
 * fresh processes with sleeps between jobs, 1 in 2 with the yield window,
 * where it never sleeps), and the two took turns on one CPU, every job at
 * one thread's speed, while the other CPU idled. Waking it again did not
 * help: the vCPUs share no cache, so the scheduler looks for an idle CPU
 * only within the waker's cache domain, and leaves a task that just ran
 * ("cache hot") where it is: it stayed for the first 20–30 ms of a process
 * (a microbenchmark's whole run) until the load balancer moved it. */
static int move_off(int cpu)
{
#if defined(__linux__)
    cpu_set_t had, other;
    if (cpu < 0 || sched_getaffinity(0, sizeof had, &had) != 0)
        return 0;
    other = had;
    CPU_CLR(cpu, &other);
    if (CPU_COUNT(&other) == 0 || sched_setaffinity(0, sizeof other, &other) != 0)
        return 0;
    (void)sched_setaffinity(0, sizeof had, &had);
    return this_cpu() != cpu;
#else
    (void)cpu;
    return 0;
#endif
}

/* Whether this worker runs elsewhere than on the CPU the caller posted the
 * job from, after moving off that CPU where it can. */
static int off_caller_cpu(ypr_pool *p)
{
    const int c = this_cpu();
    if (c < 0 || c != atomic_load_explicit(&p->caller_cpu, memory_order_relaxed))
        return 1;
    return p->can_move && move_off(c);
}

/* A new job (or quit) since `seen`. */
static int job_posted(ypr_pool *p, uint64_t seen)
{
    return atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&p->quit, memory_order_relaxed);
}

/* Polls until ready(p, seen) holds: SPIN_ROUNDS pauses, then pauses and
 * yields for up to the pool's yield window. Returns whether it held; gives
 * up as soon as `apart` (if given) says this thread shares the CPU of the
 * thread it waits for. */
static int poll_for(ypr_pool *p, int (*ready)(ypr_pool *, uint64_t), uint64_t seen,
                    int (*apart)(ypr_pool *))
{
    if (apart && !apart(p))
        return ready(p, seen);
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (ready(p, seen))
            return 1;
        cpu_relax();
    }
    if (p->yield_s <= 0)
        return 0;
    const double t0 = ypr__now();
    do {
        for (int i = 0; i < YIELD_EVERY; i++) {
            if (ready(p, seen))
                return 1;
            cpu_relax();
        }
        sched_yield();
        if (apart && !apart(p))
            break;
    } while (ypr__now() - t0 < p->yield_s);
    return ready(p, seen);
}

/* The job's other workers are done. */
static int job_done(ypr_pool *p, uint64_t unused)
{
    (void)unused;
    return atomic_load_explicit(&p->busy, memory_order_acquire) == 0;
}

static uint64_t wait_job(ypr_pool *p, uint64_t seen)
{
    if (poll_for(p, job_posted, seen, off_caller_cpu))
        return atomic_load_explicit(&p->generation, memory_order_acquire);
    pthread_mutex_lock(&p->mu);
    uint64_t g;
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
           !atomic_load(&p->quit)) {
        p->sleepers++;
        pthread_cond_wait(&p->wake, &p->mu);
        p->sleepers--;
    }
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    free(arg);
    ypr_pool *p = wa.pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load(&p->quit))
            break;
        if (off_caller_cpu(p))   /* else the others take its tasks, and it sleeps */
            work(p, wa.index);
        if (atomic_fetch_sub_explicit(&p->busy, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_sleeping)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* The A/B switch `name` is set to "0". */
static int env_zero(const char *name)
{
    const char *e = getenv(name);
    return e && e[0] == '0' && !e[1];
}

int ypr__pool_create(int nthreads, ypr_pool **out)
{
    RETURN_IF(!out, YPR_EINVAL, "pool: NULL output pointer");
    *out = NULL;
    RETURN_IF(nthreads < 0 || nthreads > 1024, YPR_ERANGE,
              "pool: thread count %d outside [0, 1024]", nthreads);
    if (nthreads == 0)
        nthreads = ypr__online_cpus();
    ypr_pool *p = ypr__calloc(1, sizeof *p);
    if (!p)
        return YPR_ENOMEM;
    p->nthreads = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = ypr__calloc((size_t)nthreads, sizeof *p->threads);
    p->slots = ypr__calloc((size_t)nthreads, sizeof *p->slots);
    atomic_store_explicit(&p->caller_cpu, -1, memory_order_relaxed);
    p->can_move = nthreads <= allowed_cpus() && !env_zero("YPR_POOL_MOVE");
    p->ranged = !env_zero("YPR_POOL_RANGED");
    const char *yield = getenv("YPR_POOL_YIELD_US");
    char *end = NULL;
    double yus = yield ? strtod(yield, &end) : YIELD_US;
    if (yield && (end == yield || *end || !(yus >= 0 && yus <= 1e6)))
        yus = YIELD_US;   /* not a number of microseconds up to a second */
    p->yield_s = yus * 1e-6;
    if (!p->threads || !p->slots) {
        ypr__pool_free(p);
        return YPR_ENOMEM;
    }
    for (int i = 1; i < nthreads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || (wa->pool = p, wa->index = i,
                    pthread_create(&p->threads[i], NULL, worker_main, wa) != 0)) {
            free(wa);
            p->nthreads = i;
            ypr__pool_free(p);
            return ypr__error(YPR_ENOMEM, "pool: cannot start thread %d", i);
        }
    }
    *out = p;
    return YPR_OK;
}

void ypr__pool_free(ypr_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++)
        if (p->threads)
            pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    ypr__free(p->threads);
    ypr__free(p->slots);
    ypr__free(p);
}

void ypr__spin_wait(int round)
{
    if (round < SPIN_ROUNDS)
        cpu_relax();
    else
        sched_yield();
}

int ypr__pool_size(const ypr_pool *p)
{
    return p ? p->nthreads : 1;
}

void ypr__pool_run(ypr_pool *p, int64_t ntasks, ypr_task_fn fn, void *ctx)
{
    if (ntasks <= 0)
        return;
    if (!p || p->nthreads == 1 || ntasks == 1) {
        for (int64_t t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    for (int w = 0; w < p->nthreads; w++) {   /* published by the generation's release */
        atomic_store_explicit(&p->slots[w].next, ntasks * w / p->nthreads, memory_order_relaxed);
        p->slots[w].end = ntasks * (w + 1) / p->nthreads;
    }
    atomic_store_explicit(&p->busy, p->nthreads - 1, memory_order_relaxed);
    atomic_store_explicit(&p->caller_cpu, this_cpu(), memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_mutex_lock(&p->mu);
    if (p->sleepers)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    if (poll_for(p, job_done, 0, NULL))
        return;
    pthread_mutex_lock(&p->mu);
    p->caller_sleeping = 1;
    while (atomic_load_explicit(&p->busy, memory_order_acquire) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    p->caller_sleeping = 0;
    pthread_mutex_unlock(&p->mu);
}

/* ---- process-wide default */
static pthread_mutex_t default_mu = PTHREAD_MUTEX_INITIALIZER;
static int default_threads;           /* 0: online CPUs */
static ypr_pool *default_pool;

int ypr_set_num_threads(int n)
{
    RETURN_IF(n < 0 || n > 1024, YPR_ERANGE, "thread count %d outside [0, 1024]", n);
    pthread_mutex_lock(&default_mu);
    default_threads = n;
    ypr_pool *old = default_pool;
    default_pool = NULL;
    pthread_mutex_unlock(&default_mu);
    ypr__pool_free(old);
    return YPR_OK;
}

int ypr_get_num_threads(void)
{
    pthread_mutex_lock(&default_mu);
    int n = default_threads ? default_threads : ypr__online_cpus();
    pthread_mutex_unlock(&default_mu);
    return n;
}

ypr_pool *ypr__default_pool(void)
{
    pthread_mutex_lock(&default_mu);
    if (!default_pool && ypr__pool_create(default_threads, &default_pool) < 0)
        default_pool = NULL;
    ypr_pool *p = default_pool;
    pthread_mutex_unlock(&default_mu);
    return p;
}
