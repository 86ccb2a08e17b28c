/* Paths, file tests, whole-file text reading and an owned-string vector:
 * the small helpers every dataset reader (YOLO trees, data .yaml, VOC)
 * shares. Reading goes through lib/io's regular-file reader. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data.h"

char *ypr__strdup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* ------------------------------------------------------------ paths, files */

int ypr__is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ypr__is_file(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ypr__exists(const char *path)
{
    struct stat st;
    return path && lstat(path, &st) == 0;
}

const char *ypr__error_detail(const char *path)
{
    const char *m = ypr_last_error();
    if (strncmp(m, "YPR_", 4) == 0) {
        const char *c = strstr(m, ": ");
        if (c)
            m = c + 2;
    }
    size_t n = path ? strlen(path) : 0;
    if (n && strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
        m += n + 2;
    return m;
}

char *ypr__path_join(const char *a, const char *b)
{
    if (!b)
        return NULL;
    if (b[0] == '/' || !a || !a[0] || strcmp(a, ".") == 0)
        return ypr__strdup(b);
    while (b[0] == '.' && b[1] == '/')
        b += 2;
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/')
        na--;
    char *d = malloc(na + nb + 2);
    if (!d)
        return NULL;
    memcpy(d, a, na);
    d[na] = '/';
    memcpy(d + na + 1, b, nb + 1);
    return d;
}

char *ypr__path_dir(const char *path)
{
    const char *sl = strrchr(path, '/');
    if (!sl)
        return ypr__strdup(".");
    if (sl == path)
        return ypr__strdup("/");
    size_t n = (size_t)(sl - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

int ypr__read_text(const char *path, size_t max, char **buf, size_t *len)
{
    return ypr__file_read_all(path, max, buf, len);
}

int ypr__ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

char *ypr__next_line(char **p)
{
    char *line = *p, *nl = strchr(line, '\n');
    if (nl)
        *nl = 0;
    *p = nl ? nl + 1 : NULL;
    return line;
}

char *ypr__trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}


int ypr__sv_push(ypr_strvec *s, char *str)
{
    if (!str)
        return ypr__error(YPR_ENOMEM, "dataset: out of memory");
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, (size_t)nc * sizeof *nv);
        if (!nv) {
            free(str);
            return ypr__error(YPR_ENOMEM, "dataset: out of memory");
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = str;
    return YPR_OK;
}

void ypr__sv_free(ypr_strvec *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}
