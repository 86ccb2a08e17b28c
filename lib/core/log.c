/* The host's log hook and the process-wide settings. */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "core.h"

static ypr_log_fn log_fn;
static void *log_user;
static int log_level = YPR_LOG_WARN;

void ypr_set_log_callback(ypr_log_fn fn, void *user, int max_level)
{
    log_fn = fn;
    log_user = user;
    log_level = max_level;
}

void ypr__log(int level, const char *fmt, ...)
{
    ypr_log_fn fn = log_fn;
    if (!fn || level > log_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(log_user, level, buf);
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
