/* NEON INT8 set without the dot-product extension: int8 widened to int16
 * pairs (the S16 layout), products by smull/smull2 and the pair sums by
 * addp, accumulated in int32; 4×16 tiles and the NEON epilogue
 * (int8_requant_neon.h). Exact integer arithmetic and the reference's float
 * operations: bit-identical to the scalar reference. */
#include <arm_neon.h>
#include <string.h>

#include "lib/kernels/kernels.h"
#include "int8_requant_neon.h"

#define MR 4
#define NR 16

static void gemm_4x16(int64_t nkg, const void *a, const void *b, const int32_t *init, int32_t *c)
{
    const int16_t *pa = a;          /* (k pair, row): 2 int16 */
    const int16_t *pb = b;          /* (k pair, column): 2 int16 */
    int32x4_t acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = vdupq_n_s32(init ? init[i] : 0);
    for (int64_t q = 0; q < nkg; q++, pa += 2 * MR, pb += 2 * NR) {
        /* columns 4v … 4v+3 as [b0 b1] pairs: 8 int16 per register */
        int16x8_t b0 = vld1q_s16(pb), b1 = vld1q_s16(pb + 8), b2 = vld1q_s16(pb + 16),
                  b3 = vld1q_s16(pb + 24);
        for (int i = 0; i < MR; i++) {
            int32_t pair;
            memcpy(&pair, pa + 2 * i, sizeof pair);
            int16x8_t r = vreinterpretq_s16_s32(vdupq_n_s32(pair));
            /* products [a0·b0(j), a1·b1(j), …], pairs summed by addp */
            acc[i][0] = vaddq_s32(acc[i][0], vpaddq_s32(vmull_s16(vget_low_s16(r), vget_low_s16(b0)),
                                                        vmull_high_s16(r, b0)));
            acc[i][1] = vaddq_s32(acc[i][1], vpaddq_s32(vmull_s16(vget_low_s16(r), vget_low_s16(b1)),
                                                        vmull_high_s16(r, b1)));
            acc[i][2] = vaddq_s32(acc[i][2], vpaddq_s32(vmull_s16(vget_low_s16(r), vget_low_s16(b2)),
                                                        vmull_high_s16(r, b2)));
            acc[i][3] = vaddq_s32(acc[i][3], vpaddq_s32(vmull_s16(vget_low_s16(r), vget_low_s16(b3)),
                                                        vmull_high_s16(r, b3)));
        }
    }
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++)
            vst1q_s32(c + i * NR + 4 * v, acc[i][v]);
}

void ypr__i8kt_fill_neon(ypr_i8kt *t)
{
    *t = (ypr_i8kt){"neon", MR, NR, 2, YPR_I8F_S16, gemm_4x16, requant16, NULL, NULL, NULL};
    t->lut = lut_neon;
}
