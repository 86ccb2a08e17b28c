/* Kernel-set selection: detected once (best first: avx512, avx2, neon,
 * scalar), overridable by YPR_SIMD or ypr_simd_select(). Tables are filled
 * with the scalar entries first, then the ISA overrides what it speeds up. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static const char *const kt_names[YPR_KT_COUNT] = {"scalar", "avx2", "avx512", "neon"};

static ypr_ktable tables[YPR_KT_COUNT];
static int table_ok[YPR_KT_COUNT];
static _Atomic(const ypr_ktable *) active;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int index_of(const char *name)
{
    for (int i = 0; name && i < YPR_KT_COUNT; i++)
        if (strcmp(name, kt_names[i]) == 0)
            return i;
    return -1;
}

/* Each set needs every extension its file is compiled with (lib/meson.build),
 * not just the one it is named after: the compiler may use any of them. */
int ypr__kt_cpu_ok(const char *name, const ypr_cpu_info *c)
{
    switch (index_of(name)) {
    case YPR_KT_SCALAR:
        return 1;
    case YPR_KT_AVX2:       /* -mavx2 -mfma -mf16c */
        return c->avx2 && c->fma && c->f16c;
    case YPR_KT_AVX512:     /* -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c */
        return c->avx512f && c->avx512bw && c->avx512vl && c->avx512dq && c->avx2 && c->fma &&
               c->f16c;
    case YPR_KT_NEON:
        return c->neon;
    default:
        return 0;
    }
}

static const int preference[] = {YPR_KT_AVX512, YPR_KT_AVX2, YPR_KT_NEON, YPR_KT_SCALAR};

const char *ypr__kt_best(const ypr_cpu_info *c, unsigned built)
{
    for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++) {
        int k = preference[i];
        if (((built >> k) & 1u) && ypr__kt_cpu_ok(kt_names[k], c))
            return kt_names[k];
    }
    return kt_names[YPR_KT_SCALAR];
}

static void build_tables(void)
{
    const ypr_cpu_info *cpu = ypr__cpu();
    static void (*const fill[YPR_KT_COUNT])(ypr_ktable *) = {
        [YPR_KT_SCALAR] = ypr__kt_fill_scalar,
#if defined(YPR_HAVE_AVX2)
        [YPR_KT_AVX2] = ypr__kt_fill_avx2,
#endif
#if defined(YPR_HAVE_AVX512)
        [YPR_KT_AVX512] = ypr__kt_fill_avx512,
#endif
#if defined(YPR_HAVE_NEON)
        [YPR_KT_NEON] = ypr__kt_fill_neon,
#endif
    };
    unsigned built = 0;
    ypr__kt_fill_scalar(&tables[YPR_KT_SCALAR]);
    for (int i = 0; i < YPR_KT_COUNT; i++) {
        if (!fill[i])
            continue;
        built |= 1u << i;
        if (ypr__kt_cpu_ok(kt_names[i], cpu)) {
            if (i != YPR_KT_SCALAR) {
                tables[i] = tables[YPR_KT_SCALAR];
                fill[i](&tables[i]);
            }
            table_ok[i] = 1;
        }
    }
    int best = index_of(ypr__kt_best(cpu, built));
    /* YPR_SIMD may only force a set that is available (normally a lower one). */
    const char *env = getenv("YPR_SIMD");
    if (env && *env) {
        int found = 0;
        for (int i = 0; i < YPR_KT_COUNT; i++)
            if (strcmp(env, kt_names[i]) == 0 && table_ok[i]) {
                best = i;
                found = 1;
            }
        if (!found)
            ypr__log(YPR_LOG_WARN, "YPR_SIMD=%s is not available here; using %s",
                     env, kt_names[best]);
    }
    atomic_store(&active, &tables[best]);
}

static void init(void)
{
    pthread_once(&init_once, build_tables);
}

const ypr_ktable *ypr__kt(void)
{
    init();
    return atomic_load(&active);
}

const ypr_ktable *ypr__kt_named(const char *name)
{
    init();
    int i = index_of(name);
    return i >= 0 && table_ok[i] ? &tables[i] : NULL;
}

const char *ypr_simd_active(void)
{
    return ypr__kt()->name;
}

int ypr_simd_available(const char *name)
{
    return ypr__kt_named(name) != NULL;
}

int ypr_simd_select(const char *name)
{
    init();
    int i = index_of(name);
    RETURN_IF(i < 0, YPR_EINVAL, "unknown kernel set '%s' (scalar, avx2, avx512, neon)",
              name ? name : "(null)");
    RETURN_IF(!table_ok[i], YPR_EUNSUPPORTED,
              "kernel set '%s' is not built in or not supported by this CPU", name);
    atomic_store(&active, &tables[i]);
    return YPR_OK;
}
