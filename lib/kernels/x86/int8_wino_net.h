/* The F(4×4, 3×3) transform networks of the INT8 Winograd (kernels.h,
 * "INT8 Winograd"), written once for any x86 vector type: the including
 * file names the type and its wrapping add, subtract and left shift
 * (int32 lanes on ymm or zmm, int16 lanes for the input transform on
 * int16). Every step is a ring operation, so the results are exact modulo
 * the lane width (the callers' bounds make them the true values). */
#ifndef YPR_INT8_WINO_NET_H
#define YPR_INT8_WINO_NET_H

/* Lavin's B^T applied to x[0..5]: t = B^T x. */
#define YPR_WINO_BT6(NAME, VT, ADD, SUB, SLL)                                          \
    static inline void NAME(const VT x[6], VT t[6])                                     \
    {                                                                                   \
        VT u = SUB(x[4], x[2]);                                                         \
        VT d31 = SLL(SUB(x[3], x[1]), 1);                                               \
        t[0] = ADD(SLL(SUB(x[0], x[2]), 2), u);                                         \
        t[1] = SUB(ADD(x[3], x[4]), SLL(ADD(x[1], x[2]), 2));                           \
        t[2] = ADD(SUB(x[4], x[3]), SLL(SUB(x[1], x[2]), 2));                           \
        t[3] = ADD(u, d31);                                                             \
        t[4] = SUB(u, d31);                                                             \
        t[5] = ADD(SLL(SUB(x[1], x[3]), 2), SUB(x[5], x[3]));                           \
    }

/* A'' applied to m[0..5]: s = A'' m (rows [6,4,4,1,1,0], [0,4,−4,2,−2,0],
 * [0,4,4,4,4,0], [0,4,−4,8,−8,24]). */
#define YPR_WINO_AT6(NAME, VT, ADD, SUB, SLL)                                          \
    static inline void NAME(const VT m[6], VT s[4])                                     \
    {                                                                                   \
        VT p = ADD(m[1], m[2]), q = SUB(m[1], m[2]);                                    \
        VT r = ADD(m[3], m[4]), w = SUB(m[3], m[4]);                                    \
        VT m0x6 = ADD(SLL(m[0], 2), SLL(m[0], 1));                                      \
        VT m5x6 = ADD(SLL(m[5], 2), SLL(m[5], 1));                                      \
        s[0] = ADD(ADD(m0x6, SLL(p, 2)), r);                                            \
        s[1] = ADD(SLL(q, 2), SLL(w, 1));                                               \
        s[2] = SLL(ADD(p, r), 2);                                                       \
        s[3] = SLL(ADD(ADD(q, SLL(w, 1)), m5x6), 2);                                    \
    }

#endif
