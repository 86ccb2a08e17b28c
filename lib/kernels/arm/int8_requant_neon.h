/* The NEON requantization epilogue of the arm INT8 sets (tiles of 16 int32
 * columns, 4 vectors a row): shift (dpu) mode with identity, ReLU and leaky
 * activations; float mode with identity, ReLU, leaky, SiLU, sigmoid and
 * hard-swish and every rounding (FRINTN half even, FRINTA half away,
 * FRINTM of v + ½ half up). Anything else takes the scalar epilogue.
 * Included by each arm INT8 file, so every copy is static and compiled with
 * that file's flags (never picked by the linker for generic callers).
 * Bit-identical to ypr__i8_requant_ref: the same integer operations, and
 * the same rounded float operations in the same order (the build is ISO C,
 * -ffp-contract=off: vmulq + vaddq never fuse; selects where the scalar
 * code compares, so NaN goes where it goes there). */
#ifndef YPR_INT8_REQUANT_NEON_H
#define YPR_INT8_REQUANT_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "lib/kernels/kernels.h"

#define RQ_NR 16

static inline int32x4_t rq_shift(int32x4_t acc, const ypr_i8rq *rq, int32_t bsh)
{
    int32x4_t a = vaddq_s32(acc, vdupq_n_s32(bsh));
    /* (a + 2^(sh−1)) >> sh: SSHL by −sh is the arithmetic shift right */
    int32x4_t pos = vshlq_s32(vaddq_s32(a, vdupq_n_s32(1 << (rq->sh - 1))), vdupq_n_s32(-rq->sh));
    if (rq->act == YPR_ACT_IDENTITY)
        return pos;
    uint32x4_t neg_mask = vcltzq_s32(a);
    int32x4_t neg = vdupq_n_s32(0);
    if (rq->act == YPR_ACT_LEAKY) {
        int32x4_t an = vmaxq_s32(a, vdupq_n_s32(-rq->lneg));
        neg = vshlq_s32(vaddq_s32(vmulq_s32(an, vdupq_n_s32(rq->lk)),
                                  vdupq_n_s32(1 << (rq->sh + 7))),
                        vdupq_n_s32(-(rq->sh + 8)));
    }
    return vbslq_s32(neg_mask, neg, pos);
}

/* ypr__i8_exp, operation for operation (no fused multiply-adds). */
static inline float32x4_t rq_exp4(float32x4_t x)
{
    /* x < −87 ? −87 : x, then x > 88 ? 88 : x */
    x = vbslq_f32(vcltq_f32(x, vdupq_n_f32(-87.0f)), vdupq_n_f32(-87.0f), x);
    x = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(88.0f)), vdupq_n_f32(88.0f), x);
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504f)));
    float32x4_t r = vsubq_f32(x, vmulq_f32(n, vdupq_n_f32(0.693359375f)));
    r = vsubq_f32(r, vmulq_f32(n, vdupq_n_f32(-2.12194440e-4f)));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(1.3981999507e-3f));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(8.3334519073e-3f));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(4.1665795894e-2f));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(1.6666665459e-1f));
    p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(5.0000001201e-1f));
    float32x4_t y = vmulq_f32(p, vmulq_f32(r, r));
    y = vaddq_f32(y, r);
    y = vaddq_f32(y, vdupq_n_f32(1.0f));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(y, vreinterpretq_f32_s32(e));
}

/* ypr__i8_act on four values (the activations rq_vector accepts). */
static inline float32x4_t rq_act(float32x4_t z, const ypr_i8rq *rq)
{
    const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
    uint32x4_t gt = vcgtq_f32(z, zero);   /* z > 0 (false for NaN) */
    switch (rq->act) {
    case YPR_ACT_RELU: return vbslq_f32(gt, z, zero);
    case YPR_ACT_LEAKY: return vbslq_f32(gt, z, vmulq_f32(vdupq_n_f32(rq->alpha), z));
    case YPR_ACT_SILU: return vdivq_f32(z, vaddq_f32(one, rq_exp4(vnegq_f32(z))));
    case YPR_ACT_SIGMOID: return vdivq_f32(one, vaddq_f32(one, rq_exp4(vnegq_f32(z))));
    case YPR_ACT_HARDSWISH: {
        float32x4_t r = vaddq_f32(z, vdupq_n_f32(3.0f)), six = vdupq_n_f32(6.0f);
        /* r < 0 ? 0 : (r > 6 ? 6 : r) */
        r = vbslq_f32(vcltq_f32(r, zero), zero, vbslq_f32(vcgtq_f32(r, six), six, r));
        return vmulq_f32(vmulq_f32(z, r), vdupq_n_f32(1.0f / 6.0f));
    }
    default: return z;
    }
}

static inline int32x4_t rq_float(int32x4_t acc, const ypr_i8rq *rq, float m, float b)
{
    float32x4_t z = vaddq_f32(vmulq_f32(vcvtq_f32_s32(acc), vdupq_n_f32(m)), vdupq_n_f32(b));
    z = rq_act(z, rq);
    float32x4_t v = vdivq_f32(z, vdupq_n_f32(rq->s_out));
    float32x4_t lo = vdupq_n_f32((float)rq->qmin), hi = vdupq_n_f32((float)rq->qmax);
    v = vbslq_f32(vcgtq_f32(v, lo), v, lo);   /* v > lo ? v : lo (NaN → lo) */
    v = vbslq_f32(vcltq_f32(v, hi), v, hi);   /* v < hi ? v : hi */
    if (rq->round == YPR_I8R_HALF_UP)
        v = vrndmq_f32(vaddq_f32(v, vdupq_n_f32(0.5f)));
    else if (rq->round == YPR_I8R_HALF_AWAY)
        v = vrndaq_f32(v);
    else
        v = vrndnq_f32(v);
    return vcvtq_s32_f32(v);   /* integral and within [qmin, qmax]: exact */
}

static int rq_vector(const ypr_i8rq *rq, int nr)
{
    if (nr != RQ_NR)
        return 0;
    if (rq->mode == YPR_I8RQ_SHIFT)
        return rq->act == YPR_ACT_IDENTITY || rq->act == YPR_ACT_RELU ||
               rq->act == YPR_ACT_LEAKY;
    return rq->mode == YPR_I8RQ_FLOAT && rq->act >= YPR_ACT_IDENTITY &&
           rq->act <= YPR_ACT_HARDSWISH &&
           (rq->round == YPR_I8R_HALF_EVEN || rq->round == YPR_I8R_HALF_AWAY ||
            rq->round == YPR_I8R_HALF_UP);
}

static void requant16(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq, int64_t c0,
                      int8_t *y, int64_t ldy)
{
    if (!rq_vector(rq, nr)) {
        ypr__i8_requant_ref(acc, nr, m, n, rq, c0, y, ldy);
        return;
    }
    const int32x4_t lo = vdupq_n_s32(rq->qmin), hi = vdupq_n_s32(rq->qmax);
    for (int i = 0; i < m; i++) {
        int32x4_t q[4];
        for (int v = 0; v < 4; v++) {
            int32x4_t a = vld1q_s32(acc + i * nr + 4 * v);
            q[v] = rq->mode == YPR_I8RQ_SHIFT
                       ? rq_shift(a, rq, rq->bsh[c0 + i])
                       : rq_float(a, rq, rq->m[c0 + i], rq->b[c0 + i]);
            q[v] = vminq_s32(vmaxq_s32(q[v], lo), hi);
        }
        /* within int8 after the clamp: the saturating narrows are exact */
        int16x8_t h0 = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
        int16x8_t h1 = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
        int8x16_t bytes = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
        if (n == RQ_NR) {
            vst1q_s8(y + i * ldy, bytes);
        } else {
            int8_t tmp[RQ_NR];
            vst1q_s8(tmp, bytes);
            memcpy(y + i * ldy, tmp, (size_t)n);
        }
    }
}

/* The activation table (ypr_i8kt.lut): tbl on the first 64 entries, tbx
 * on the other three quarters with the index moved down by 64 each time
 * (an index past 63 leaves the lane as it was). Exact: a lookup. */
static void lut_neon(int8_t *y, int64_t n, const int8_t *tab)
{
    const uint8x16x4_t q0 = vld1q_u8_x4((const uint8_t *)tab);
    const uint8x16x4_t q1 = vld1q_u8_x4((const uint8_t *)tab + 64);
    const uint8x16x4_t q2 = vld1q_u8_x4((const uint8_t *)tab + 128);
    const uint8x16x4_t q3 = vld1q_u8_x4((const uint8_t *)tab + 192);
    const uint8x16_t k64 = vdupq_n_u8(64);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint8x16_t x = vld1q_u8((const uint8_t *)y + i);
        uint8x16_t r = vqtbl4q_u8(q0, x);
        x = vsubq_u8(x, k64);
        r = vqtbx4q_u8(r, q1, x);
        x = vsubq_u8(x, k64);
        r = vqtbx4q_u8(r, q2, x);
        x = vsubq_u8(x, k64);
        r = vqtbx4q_u8(r, q3, x);
        vst1q_u8((uint8_t *)y + i, r);
    }
    for (; i < n; i++)
        y[i] = tab[(uint8_t)y[i]];
}

#endif
