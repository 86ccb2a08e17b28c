/* Kernel-set selection: detected once (best first: avx512, avx2, neon,
 * scalar), overridable by YPR_SIMD or ypr_simd_select(). Tables are filled
 * with the scalar entries first, then the ISA overrides what it speeds up. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

enum { KT_SCALAR, KT_AVX2, KT_AVX512, KT_NEON, KT_COUNT };
static const char *const kt_names[KT_COUNT] = {"scalar", "avx2", "avx512", "neon"};

static ypr_ktable tables[KT_COUNT];
static int table_ok[KT_COUNT];
static _Atomic(const ypr_ktable *) active;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    const ypr_cpu_info *cpu = ypr__cpu();
    ypr__kt_fill_scalar(&tables[KT_SCALAR]);
    table_ok[KT_SCALAR] = 1;
#if defined(YPR_HAVE_AVX2)
    if (cpu->avx2 && cpu->fma) {
        tables[KT_AVX2] = tables[KT_SCALAR];
        ypr__kt_fill_avx2(&tables[KT_AVX2]);
        table_ok[KT_AVX2] = 1;
    }
#endif
#if defined(YPR_HAVE_AVX512)
    if (cpu->avx512f && cpu->avx2 && cpu->fma) {
        tables[KT_AVX512] = tables[KT_SCALAR];
        ypr__kt_fill_avx512(&tables[KT_AVX512]);
        table_ok[KT_AVX512] = 1;
    }
#endif
#if defined(YPR_HAVE_NEON)
    if (cpu->neon) {
        tables[KT_NEON] = tables[KT_SCALAR];
        ypr__kt_fill_neon(&tables[KT_NEON]);
        table_ok[KT_NEON] = 1;
    }
#endif
    (void)cpu;
    int best = KT_SCALAR;
    static const int order[] = {KT_AVX512, KT_AVX2, KT_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (table_ok[order[i]]) {
            best = order[i];
            break;
        }
    /* YPR_SIMD may only force a set that is available (normally a lower one). */
    const char *env = getenv("YPR_SIMD");
    if (env && *env) {
        int found = 0;
        for (int i = 0; i < KT_COUNT; i++)
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

static int index_of(const char *name)
{
    for (int i = 0; name && i < KT_COUNT; i++)
        if (strcmp(name, kt_names[i]) == 0)
            return i;
    return -1;
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
