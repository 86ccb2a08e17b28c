/* CPU feature detection, once per process. On x86 a feature counts only when
 * CPUID reports it *and* XGETBV says the OS saves the register state it needs
 * (YMM for AVX/AVX2/FMA/F16C, opmask+ZMM for AVX-512); the decoding of those
 * registers is a pure function, tested on any machine. On aarch64 NEON is
 * baseline. */
#include <pthread.h>
#include <unistd.h>

#include "core.h"

/* Bit numbers from the Intel SDM, vol. 2A (CPUID) and vol. 1 §13 (XCR0). */
enum {
    L1_FMA = 12, L1_SSE42 = 20, L1_OSXSAVE = 27, L1_AVX = 28, L1_F16C = 29,
    L7_AVX2 = 5, L7_AVX512F = 16, L7_AVX512DQ = 17, L7_AVX512BW = 30, L7_AVX512VL = 31,
    L7C_AVX512VBMI = 1, L7C_AVX512VNNI = 11, L71A_AVXVNNI = 4
};
#define XCR0_YMM 0x06u   /* SSE and AVX state */
#define XCR0_ZMM 0xe0u   /* opmask, ZMM_Hi256, Hi16_ZMM state */

static int bit(uint32_t r, int b)
{
    return (int)((r >> b) & 1u);
}

void ypr__cpu_decode_x86(const ypr_cpuid_regs *r, ypr_cpu_info *ci)
{
    *ci = (ypr_cpu_info){0};
    ci->sse42 = bit(r->leaf1_ecx, L1_SSE42);
    uint64_t xcr0 = bit(r->leaf1_ecx, L1_OSXSAVE) ? r->xcr0 : 0;
    int ymm_ok = (xcr0 & XCR0_YMM) == XCR0_YMM;
    int zmm_ok = ymm_ok && (xcr0 & XCR0_ZMM) == XCR0_ZMM;
    ci->avx = bit(r->leaf1_ecx, L1_AVX) && ymm_ok;
    ci->fma = bit(r->leaf1_ecx, L1_FMA) && ci->avx;
    ci->f16c = bit(r->leaf1_ecx, L1_F16C) && ci->avx;
    if (r->max_leaf < 7)
        return;
    ci->avx2 = ci->avx && bit(r->leaf7_ebx, L7_AVX2);
    ci->avx512f = zmm_ok && bit(r->leaf7_ebx, L7_AVX512F);
    ci->avx512bw = ci->avx512f && bit(r->leaf7_ebx, L7_AVX512BW);
    ci->avx512vl = ci->avx512f && bit(r->leaf7_ebx, L7_AVX512VL);
    ci->avx512dq = ci->avx512f && bit(r->leaf7_ebx, L7_AVX512DQ);
    ci->avx512vnni = ci->avx512f && bit(r->leaf7_ecx, L7C_AVX512VNNI);
    ci->avx512vbmi = ci->avx512f && bit(r->leaf7_ecx, L7C_AVX512VBMI);
    ci->avxvnni = ci->avx2 && bit(r->leaf7_1_eax, L71A_AVXVNNI);
}

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
    ypr_cpuid_regs r = {0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    r.leaf1_ecx = c;
    if (bit(c, L1_OSXSAVE))   /* XGETBV faults without OSXSAVE */
        r.xcr0 = xgetbv0();
    r.max_leaf = __get_cpuid_max(0, NULL);
    if (r.max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        r.leaf7_ebx = b;
        r.leaf7_ecx = c;
        __cpuid_count(7, 1, a, b, c, d);
        r.leaf7_1_eax = a;
    }
    ypr__cpu_decode_x86(&r, ci);
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
    case YPR_CPU_AVX512DQ: return c->avx512dq;
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
