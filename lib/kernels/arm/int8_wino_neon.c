/* NEON element-wise stage of the INT8 Winograd F(2×2, 3×3) (kernels.h,
 * "INT8 Winograd"), for both NEON sets: int16 pairs (the S16 layout),
 * products accumulated by smlal/smlal2 into the pair's two int32 lanes
 * (wrapping modulo 2^32, as the exactness argument needs) and the pairs
 * summed by addp once at the end; 6×8 tiles. The transforms are the scalar
 * ones (compiled -O3: vectorized by the compiler). */
#include <arm_neon.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define MR YPR_I8_WINO_NEON_MR
#define NR YPR_I8_WINO_NEON_NR

void ypr__i8_wino_gemm_neon(int64_t nkg, const void *a, const void *b, const int32_t *init,
                            int32_t *c)
{
    const int16_t *pa = a;          /* (k pair, row): 2 int16 */
    const int16_t *pb = b;          /* (k pair, column): 2 int16 */
    /* acc[i][v]: columns 2v, 2v + 1 as [e0, e1] lane pairs */
    int32x4_t acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = vdupq_n_s32(0);
    for (int64_t q = 0; q < nkg; q++, pa += 2 * MR, pb += 2 * NR) {
        int16x8_t b0 = vld1q_s16(pb), b1 = vld1q_s16(pb + 8);
        for (int i = 0; i < MR; i++) {
            int32_t pair;
            memcpy(&pair, pa + 2 * i, sizeof pair);
            int16x8_t r = vreinterpretq_s16_s32(vdupq_n_s32(pair));
            acc[i][0] = vmlal_s16(acc[i][0], vget_low_s16(r), vget_low_s16(b0));
            acc[i][1] = vmlal_high_s16(acc[i][1], r, b0);
            acc[i][2] = vmlal_s16(acc[i][2], vget_low_s16(r), vget_low_s16(b1));
            acc[i][3] = vmlal_high_s16(acc[i][3], r, b1);
        }
    }
    for (int i = 0; i < MR; i++) {
        int32x4_t s0 = vpaddq_s32(acc[i][0], acc[i][1]), s1 = vpaddq_s32(acc[i][2], acc[i][3]);
        if (init) {
            s0 = vaddq_s32(s0, vdupq_n_s32(init[i]));
            s1 = vaddq_s32(s1, vdupq_n_s32(init[i]));
        }
        vst1q_s32(c + i * NR, s0);
        vst1q_s32(c + i * NR + 4, s1);
    }
}
