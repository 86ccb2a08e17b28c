/* NEON dot-product INT8 set (sdot, Armv8.2 DotProd, detected at run time):
 * int8 × int8, four products per int32 lane, 8×16 tiles (the A group of
 * four rows is one register; vdotq_laneq_s32 picks a row), then the NEON
 * epilogue (int8_requant_neon.h). Exact integer arithmetic and the
 * reference's float operations: bit-identical to the scalar reference.
 * Built with +dotprod; only called where the CPU has it. */
#include <arm_neon.h>

#include "lib/kernels/kernels.h"
#include "int8_requant_neon.h"

#define MR 8
#define NR 16

static void gemm_8x16(int64_t nkg, const void *a, const void *b, const int32_t *init, int32_t *c)
{
    const int8_t *pa = a;           /* (k quad, row): 4 int8 */
    const int8_t *pb = b;           /* (k quad, column): 4 int8 */
    int32x4_t acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = vdupq_n_s32(init ? init[i] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 4 * MR, pb += 4 * NR) {
        int8x16_t b0 = vld1q_s8(pb), b1 = vld1q_s8(pb + 16), b2 = vld1q_s8(pb + 32),
                  b3 = vld1q_s8(pb + 48);
        int8x16_t a0 = vld1q_s8(pa), a1 = vld1q_s8(pa + 16);
#define ROW(i, av, l)                                                   \
        acc[i][0] = vdotq_laneq_s32(acc[i][0], b0, av, l);             \
        acc[i][1] = vdotq_laneq_s32(acc[i][1], b1, av, l);             \
        acc[i][2] = vdotq_laneq_s32(acc[i][2], b2, av, l);             \
        acc[i][3] = vdotq_laneq_s32(acc[i][3], b3, av, l);
        ROW(0, a0, 0) ROW(1, a0, 1) ROW(2, a0, 2) ROW(3, a0, 3)
        ROW(4, a1, 0) ROW(5, a1, 1) ROW(6, a1, 2) ROW(7, a1, 3)
#undef ROW
    }
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++)
            vst1q_s32(c + i * NR + 4 * v, acc[i][v]);
}

void ypr__i8kt_fill_neondot(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"neondot", MR, NR, 4, YPR_I8F_S8, gemm_8x16, requant16, NULL, NULL, NULL};
    t->lut = lut_neon;
}
