/* A small pthread pool. Workers sleep on a condition variable between jobs;
 * a job hands out task indices through an atomic counter, and the caller's
 * thread works as worker 0 so a pool of one thread spawns nothing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core.h"

struct ypr_pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    uint64_t generation;      /* bumped per job; workers wait for a change */
    int busy;                 /* workers still inside the current job */
    int quit;
    ypr_task_fn fn;
    void *ctx;
    int64_t ntasks;
    _Atomic int64_t next;
};

typedef struct worker_arg { ypr_pool *pool; int index; } worker_arg;

static void work(ypr_pool *p, int worker)
{
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks)
            break;
        p->fn(p->ctx, t, worker);
    }
}

static void *worker_main(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    free(arg);
    ypr_pool *p = wa.pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        work(p, wa.index);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
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
    if (!p->threads) {
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
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++)
        if (p->threads)
            pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    ypr__free(p->threads);
    ypr__free(p);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->busy = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
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
