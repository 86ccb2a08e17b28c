/* INT8 kernel sets: the scalar reference (three packed formats: the plain
 * one and, for tests on any machine, the S16 and U8 layouts the x86 sets
 * use, the U8 one at the avx512vnni set's 8×32 tiles), the ISA sets, and the
 * choice of the active one (kernels.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* ---------------------------------------------------------- scalar tiles */

#define SMR 4
#define SNR 8

/* 4-k groups: int8 weights times int8 (S8) or uint8 x + 128 (U8) activations,
 * MR_×NR_ tiles. */
#define GEMM_K4(name, btype, MR_, NR_)                                                      \
    static void name(int64_t nkg, const void *a, const void *b, const int32_t *init,        \
                     int32_t *c)                                                           \
    {                                                                                      \
        const int8_t *pa = a;                                                              \
        const btype *pb = b;                                                               \
        int32_t acc[MR_][NR_];                                                             \
        for (int i = 0; i < MR_; i++)                                                      \
            for (int j = 0; j < NR_; j++)                                                  \
                acc[i][j] = init ? init[i] : 0;                                            \
        for (int64_t q = 0; q < nkg; q++, pa += MR_ * 4, pb += NR_ * 4)                    \
            for (int i = 0; i < MR_; i++)                                                  \
                for (int j = 0; j < NR_; j++)                                              \
                    for (int e = 0; e < 4; e++)                                            \
                        acc[i][j] += (int32_t)pa[i * 4 + e] * pb[j * 4 + e];               \
        memcpy(c, acc, sizeof acc);                                                        \
    }
GEMM_K4(gemm_s8, int8_t, SMR, SNR)
GEMM_K4(gemm_u8_8x32, uint8_t, 8, 32)   /* the avx512vnni tile's shape */

static void gemm_s16(int64_t nkg, const void *a, const void *b, const int32_t *init, int32_t *c)
{
    const int16_t *pa = a, *pb = b;
    int32_t acc[SMR][SNR];
    for (int i = 0; i < SMR; i++)
        for (int j = 0; j < SNR; j++)
            acc[i][j] = init ? init[i] : 0;
    for (int64_t q = 0; q < nkg; q++, pa += SMR * 2, pb += SNR * 2)
        for (int i = 0; i < SMR; i++)
            for (int j = 0; j < SNR; j++)
                acc[i][j] += (int32_t)pa[i * 2] * pb[j * 2] + (int32_t)pa[i * 2 + 1] * pb[j * 2 + 1];
    memcpy(c, acc, sizeof acc);
}

/* Winograd element-wise stage: int16 pairs (the S16 layout) on MR×NR
 * tiles, summed modulo 2^32 (unsigned: the SIMD sets wrap the same way). */
#define GEMM_W16(name, MR_, NR_)                                                           \
    static void name(int64_t nkg, const void *a, const void *b, const int32_t *init,        \
                     int32_t *c)                                                           \
    {                                                                                      \
        const int16_t *pa = a, *pb = b;                                                    \
        uint32_t acc[MR_][NR_];                                                            \
        for (int i = 0; i < MR_; i++)                                                      \
            for (int j = 0; j < NR_; j++)                                                  \
                acc[i][j] = init ? (uint32_t)init[i] : 0;                                  \
        for (int64_t q = 0; q < nkg; q++, pa += MR_ * 2, pb += NR_ * 2)                    \
            for (int i = 0; i < MR_; i++)                                                  \
                for (int j = 0; j < NR_; j++)                                              \
                    acc[i][j] += (uint32_t)((int32_t)pa[i * 2] * pb[j * 2]) +              \
                                 (uint32_t)((int32_t)pa[i * 2 + 1] * pb[j * 2 + 1]);        \
        for (int i = 0; i < MR_; i++)                                                      \
            for (int j = 0; j < NR_; j++)                                                  \
                c[i * NR_ + j] = (int32_t)acc[i][j];                                       \
    }
GEMM_W16(wgemm_4x8, 4, 8)
GEMM_W16(wgemm_6x16, 6, 16)
GEMM_W16(wgemm_8x32, 8, 32)

void ypr__i8kt_fill_scalar(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"scalar", SMR, SNR, 4, YPR_I8F_S8, gemm_s8, ypr__i8_requant_ref, NULL, NULL, NULL};
}

static void fill_scalar_s16(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"scalar-s16", SMR, SNR, 2, YPR_I8F_S16, gemm_s16, ypr__i8_requant_ref, NULL, NULL, NULL};
}

static void fill_scalar_u8(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"scalar-u8", 8, 32, 4, YPR_I8F_U8, gemm_u8_8x32, ypr__i8_requant_ref, NULL, NULL, NULL};
}

/* ------------------------------------------------------------ selection */

enum { I8_SCALAR, I8_SCALAR_S16, I8_SCALAR_U8, I8_AVX2, I8_AVXVNNI, I8_AVX512VNNI, I8_NEON,
       I8_NEONDOT, I8_COUNT };
static const char *const names[I8_COUNT] = {"scalar", "scalar-s16", "scalar-u8", "avx2",
                                            "avxvnni", "avx512vnni", "neon", "neondot"};
static ypr_i8kt sets[I8_COUNT];
static ypr_i8wk wsets[I8_COUNT];
static int set_ok[I8_COUNT];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* What each ISA file is compiled with (lib/meson.build) must run here. */
static int cpu_ok(int i, const ypr_cpu_info *c)
{
    int avx2 = c->avx2 && c->fma && c->f16c;
    switch (i) {
    case I8_AVX2: return avx2;
    case I8_AVXVNNI: return avx2 && c->avxvnni;
    case I8_AVX512VNNI:
        return avx2 && c->avx512f && c->avx512bw && c->avx512vl && c->avx512dq && c->avx512vnni;
    case I8_NEON: return c->neon;
    case I8_NEONDOT: return c->neon && c->asimddot;
    default: return 1;
    }
}

/* The Winograd entries: each set's element-wise tile, the transforms of
 * its ISA; the scalar emulations use the avx2/avxvnni (scalar-s16) and
 * avx512vnni (scalar-u8) tile shapes, so the driver is tested with those
 * shapes on any machine. */
static void build(void);

static void build_wino(void)
{
    wsets[I8_SCALAR_S16] = (ypr_i8wk){6, 16, wgemm_6x16, NULL, NULL, NULL, NULL};
    wsets[I8_SCALAR_U8] = (ypr_i8wk){8, 32, wgemm_8x32, NULL, NULL, NULL, NULL};
#if defined(YPR_HAVE_AVX2)
    if (set_ok[I8_AVX2])
        ypr__i8wk_fill_avx2(&wsets[I8_AVX2]);
#endif
#if defined(YPR_HAVE_AVX512)
    /* an AVX-512 CPU without VNNI runs the avx2 set: its Winograd GEMMs take
     * the zmm vpmaddwd tile when the float set is avx512 (so YPR_SIMD=avx2
     * keeps them AVX2) */
    if (set_ok[I8_AVX2] && strcmp(ypr__kt()->name, "avx512") == 0)
        ypr__i8wk_tile_avx512(&wsets[I8_AVX2]);
#endif
#if defined(YPR_HAVE_AVXVNNI)
    if (set_ok[I8_AVXVNNI])
        ypr__i8wk_fill_avxvnni(&wsets[I8_AVXVNNI]);
#endif
#if defined(YPR_HAVE_AVX512VNNI)
    if (set_ok[I8_AVX512VNNI])
        ypr__i8wk_fill_avx512vnni(&wsets[I8_AVX512VNNI]);
#endif
#if defined(YPR_HAVE_NEON)
    for (int i = I8_NEON; i <= I8_NEONDOT; i++)   /* smlal on int16 pairs */
        if (set_ok[i])
            wsets[i] = (ypr_i8wk){YPR_I8_WINO_NEON_MR, YPR_I8_WINO_NEON_NR,
                                  ypr__i8_wino_gemm_neon, NULL, NULL, NULL, NULL};
#endif
    for (int i = 0; i < I8_COUNT; i++) {
        ypr_i8wk *w = &wsets[i];
        if (!w->gemm)
            *w = (ypr_i8wk){4, 8, wgemm_4x8, NULL, NULL, NULL, NULL};
        if (!w->tin)
            w->tin = ypr__i8_wino_tin_ref;
        if (!w->tout)
            w->tout = ypr__i8_wino_tout_ref;
        if (!w->tin4)
            w->tin4 = ypr__i8_wino_tin4_ref;
        if (!w->tout4)
            w->tout4 = ypr__i8_wino_tout4_ref;
    }
}

const ypr_i8wk *ypr__i8wk(const ypr_i8kt *kt)
{
    pthread_once(&once, build);
    for (int i = 0; i < I8_COUNT; i++)
        if (kt == &sets[i])
            return &wsets[i];
    return &wsets[I8_SCALAR];
}

static void build(void)
{
    const ypr_cpu_info *cpu = ypr__cpu();
    static void (*const fill[I8_COUNT])(ypr_i8kt *) = {
        [I8_SCALAR] = ypr__i8kt_fill_scalar,
        [I8_SCALAR_S16] = fill_scalar_s16,
        [I8_SCALAR_U8] = fill_scalar_u8,
#if defined(YPR_HAVE_AVX2)
        [I8_AVX2] = ypr__i8kt_fill_avx2,
#endif
#if defined(YPR_HAVE_AVXVNNI)
        [I8_AVXVNNI] = ypr__i8kt_fill_avxvnni,
#endif
#if defined(YPR_HAVE_AVX512VNNI)
        [I8_AVX512VNNI] = ypr__i8kt_fill_avx512vnni,
#endif
#if defined(YPR_HAVE_NEON)
        [I8_NEON] = ypr__i8kt_fill_neon,
#endif
#if defined(YPR_HAVE_NEONDOT)
        [I8_NEONDOT] = ypr__i8kt_fill_neondot,
#endif
    };
    for (int i = 0; i < I8_COUNT; i++)
        if (fill[i] && cpu_ok(i, cpu)) {
            fill[i](&sets[i]);
            if (!sets[i].requant)
                sets[i].requant = ypr__i8_requant_ref;
            if (!sets[i].lut)
                sets[i].lut = ypr__i8_lut_ref;
            set_ok[i] = 1;
        }
    build_wino();
}

const ypr_i8kt *ypr__i8kt_named(const char *name)
{
    pthread_once(&once, build);
    for (int i = 0; name && i < I8_COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return set_ok[i] ? &sets[i] : NULL;
    return NULL;
}

const ypr_i8kt *ypr__i8kt(void)
{
    pthread_once(&once, build);
    const char *env = getenv("YPR_I8_SIMD");
    const ypr_i8kt *t = env && *env ? ypr__i8kt_named(env) : NULL;
    if (t)
        return t;
    const char *f = ypr__kt()->name;
    static const int avx512[] = {I8_AVX512VNNI, I8_AVXVNNI, I8_AVX2, -1};
    static const int avx2[] = {I8_AVXVNNI, I8_AVX2, -1};
    static const int neon[] = {I8_NEONDOT, I8_NEON, -1};
    const int *order = strcmp(f, "avx512") == 0 ? avx512
                       : strcmp(f, "avx2") == 0 ? avx2
                       : strcmp(f, "neon") == 0 ? neon : NULL;
    for (int k = 0; order && order[k] >= 0; k++)
        if (set_ok[order[k]])
            return &sets[order[k]];
    return &sets[I8_SCALAR];
}
