/* Status codes, their names, and the thread-local last-error message. */
#include <stdio.h>
#include <string.h>

#include "core.h"

static _Thread_local char last_msg[1024];

const char *ypr_strerror(int status)
{
    switch (status) {
#define YPR_X_STR(name, value, msg) case value: return msg;
    YPR_ERROR_LIST(YPR_X_STR)
#undef YPR_X_STR
    default: return "unknown status";
    }
}

const char *ypr_err_name(int status)
{
    switch (status) {
#define YPR_X_NAME(name, value, msg) case value: return #name;
    YPR_ERROR_LIST(YPR_X_NAME)
#undef YPR_X_NAME
    default: return "YPR_E?";
    }
}

const char *ypr_last_error(void)
{
    return last_msg;
}

int ypr__verror(int code, const char *fmt, va_list ap)
{
    int n = snprintf(last_msg, sizeof last_msg, "%s: ", ypr_err_name(code));
    if (n < 0 || (size_t)n >= sizeof last_msg)
        n = 0;
    vsnprintf(last_msg + n, sizeof last_msg - (size_t)n, fmt, ap);
    ypr__log(YPR_LOG_DEBUG, "%s", last_msg);
    return code;
}

int ypr__error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ypr__verror(code, fmt, ap);
    va_end(ap);
    return code;
}

void ypr__clear_error(void)
{
    last_msg[0] = '\0';
}

int ypr__mul_size(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return -1;
    if (a != 0 && b > INT64_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}
