/* The atomic writer (lib/io/afile.c): it replaces a regular file or creates
 * a new name, and refuses anything else (a FIFO, a folder, a device), also
 * when the target changes between open and commit, leaving no temporary
 * file behind. White-box; works in a fresh folder under the build's tests/. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/core/core.h"
#include "lib/io/io.h"

static char dir[64];

static char *at(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

static int write_via_afile(const char *path, const char *text)
{
    ypr_atomic_file af;
    int rc = ypr__afile_open(&af, path);
    if (rc < 0)
        return rc;
    fputs(text, (FILE *)af.fp);
    return ypr__afile_commit(&af);
}

static char *slurp(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Entries of the work folder other than @p keep (the temporary files left). */
static int others(const char *const *keep, int nkeep)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        int known = e->d_name[0] == '.';
        for (int i = 0; i < nkeep; i++)
            known |= strcmp(e->d_name, keep[i]) == 0;
        n += !known;
    }
    closedir(d);
    return n;
}

static void test_regular_and_new(void **state)
{
    (void)state;
    assert_int_equal(write_via_afile(at("new.txt"), "one"), YPR_OK);
    assert_string_equal(slurp(at("new.txt")), "one");
    assert_int_equal(write_via_afile(at("new.txt"), "two"), YPR_OK);
    assert_string_equal(slurp(at("new.txt")), "two");
    /* a link to a regular file: the link is replaced, its target untouched */
    assert_int_equal(symlink("new.txt", at("link.txt")), 0);
    assert_int_equal(write_via_afile(at("link.txt"), "three"), YPR_OK);
    assert_string_equal(slurp(at("new.txt")), "two");
    assert_string_equal(slurp(at("link.txt")), "three");
    struct stat st;
    assert_int_equal(lstat(at("link.txt"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    const char *keep[] = {"new.txt", "link.txt"};
    assert_int_equal(others(keep, 2), 0);
}

static void test_not_regular(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(mkfifo(at("fifo"), 0600), 0);
    assert_int_equal(mkdir(at("sub"), 0700), 0);
    assert_int_equal(write_via_afile(at("fifo"), "x"), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "fifo: is not a regular file"));
    assert_int_equal(stat(at("fifo"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(write_via_afile(at("sub"), "x"), YPR_EIO);
    assert_non_null(strstr(ypr_last_error(), "sub: is a folder"));
    assert_int_equal(stat(at("sub"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* a link to a FIFO is refused as the FIFO is */
    assert_int_equal(symlink("fifo", at("fifolink")), 0);
    assert_int_equal(write_via_afile(at("fifolink"), "x"), YPR_EIO);
    /* the target turns into a FIFO after open: commit refuses, no temporary left */
    ypr_atomic_file af;
    assert_int_equal(ypr__afile_open(&af, at("late")), YPR_OK);
    fputs("data", (FILE *)af.fp);
    assert_int_equal(mkfifo(at("late"), 0600), 0);
    assert_int_equal(ypr__afile_commit(&af), YPR_EIO);
    assert_int_equal(stat(at("late"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    const char *keep[] = {"new.txt", "link.txt", "fifo", "sub", "fifolink", "late"};
    assert_int_equal(others(keep, 6), 0);
    /* as root a rename would turn /dev/full into a plain file */
    if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        assert_int_equal(write_via_afile("/dev/full", "x"), YPR_EIO);
        assert_int_equal(stat("/dev/full", &st), 0);
        assert_true(S_ISCHR(st.st_mode));
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "afile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"new.txt", "link.txt", "fifo", "fifolink", "late"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(at(names[i]));
    rmdir(at("sub"));
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_and_new),
        cmocka_unit_test(test_not_regular),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
