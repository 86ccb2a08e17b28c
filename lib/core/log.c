/* The host's log hook and the process-wide settings. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "core.h"

/* The hook is a triple that must be read whole: a message must never reach
 * one callback with another's user pointer. Writers replace it under the
 * lock; readers copy it under the lock and call outside it (a callback may
 * log or install another hook without deadlocking). log_max mirrors the
 * level (0 without a callback: every level is above it) so that dropped
 * messages cost one relaxed load and no lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static ypr_log_fn log_fn;          /* guarded by log_lock */
static void *log_user;             /* guarded by log_lock */
static int log_level = YPR_LOG_WARN; /* guarded by log_lock */
static atomic_int log_max;

void ypr_set_log_callback(ypr_log_fn fn, void *user, int max_level)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    log_level = max_level;
    atomic_store_explicit(&log_max, fn ? max_level : 0, memory_order_relaxed);
    pthread_mutex_unlock(&log_lock);
}

void ypr__log(int level, const char *fmt, ...)
{
    if (level > atomic_load_explicit(&log_max, memory_order_relaxed))
        return;
    pthread_mutex_lock(&log_lock);
    ypr_log_fn fn = log_fn;
    void *user = log_user;
    int max_level = log_level;
    pthread_mutex_unlock(&log_lock);
    if (!fn || level > max_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(user, level, buf);
}

unsigned ypr_version_number(void)
{
    return YPR_VERSION_NUMBER;
}

const char *ypr_version_string(void)
{
    return YPR_VERSION_STRING;
}

double ypr__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
