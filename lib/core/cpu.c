/* CPU feature detection, once per process. On x86 a feature counts only when
 * CPUID reports it *and* XGETBV says the OS saves the register state it needs
 * (YMM for AVX/AVX2, opmask+ZMM for AVX-512). On aarch64 NEON is baseline. */
#include <pthread.h>
#include <unistd.h>

#include "core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void detect(ypr_cpu_info *ci)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    ci->sse42 = (c >> 20) & 1;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;
    int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0;
    ci->avx = avx && ymm_ok;
    ci->fma = fma && ymm_ok;
    unsigned maxleaf = __get_cpuid_max(0, NULL);
    if (maxleaf < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    ci->avx2 = ci->avx && ((b >> 5) & 1);
    ci->avx512f = zmm_ok && ((b >> 16) & 1);
    ci->avx512bw = ci->avx512f && ((b >> 30) & 1);
    ci->avx512vl = ci->avx512f && ((b >> 31) & 1);
    ci->avx512vnni = ci->avx512f && ((c >> 11) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    ci->avxvnni = ci->avx2 && ((a >> 4) & 1);
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
static void detect(ypr_cpu_info *ci)
{
    ci->neon = 1;
#ifdef HWCAP_ASIMDDP
    ci->asimddot = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
}
#else
static void detect(ypr_cpu_info *ci)
{
    (void)ci;
}
#endif

static ypr_cpu_info cpu_info;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_init(void)
{
    detect(&cpu_info);
}

const ypr_cpu_info *ypr__cpu(void)
{
    pthread_once(&cpu_once, cpu_init);
    return &cpu_info;
}

int ypr_cpu_has(int feature)
{
    const ypr_cpu_info *c = ypr__cpu();
    switch (feature) {
    case YPR_CPU_SSE42: return c->sse42;
    case YPR_CPU_AVX: return c->avx;
    case YPR_CPU_AVX2: return c->avx2 && c->fma;
    case YPR_CPU_FMA: return c->fma;
    case YPR_CPU_AVX512F: return c->avx512f;
    case YPR_CPU_AVX512BW: return c->avx512bw;
    case YPR_CPU_AVX512VL: return c->avx512vl;
    case YPR_CPU_AVX512VNNI: return c->avx512vnni;
    case YPR_CPU_AVXVNNI: return c->avxvnni;
    case YPR_CPU_NEON: return c->neon;
    case YPR_CPU_ASIMDDOT: return c->asimddot;
    default: return 0;
    }
}

int ypr__online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 1024 ? 1024 : (int)n);
}
