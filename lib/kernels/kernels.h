/* Float32 compute kernels on raw NCHW buffers. Knows nothing of nets or files.
 *
 * Layering: each ISA file (scalar/, x86/, arm/) fills one ypr_ktable with the
 * few hot inner loops it speeds up; entries left NULL fall back to the scalar
 * reference. The ISA-agnostic drivers in this folder (packing, blocking,
 * threading, im2col) call through the active table.
 *
 * GEMM convention: C[m×n] = A[m×k] · B[k×n], all row-major. A conv is a GEMM
 * with A = weights [O, I/g·kh·kw], B = im2col(input) [I/g·kh·kw, OH·OW],
 * C = output [O, OH·OW] — no transposes anywhere in NCHW.
 *
 * Packed A ("panels of mr rows"): panel p holds rows p·mr … p·mr+mr-1 for
 * every k, element (r, k) at p·mr·K + k·mr + r; rows past m are zero.
 * Packed B block (kc×nc, "panels of nr columns"): panel q holds columns
 * q·nr … q·nr+nr-1, element (k, c) at q·nr·kc + k·nr + c; columns past the
 * end are zero.
 */
#ifndef YPR_KERNELS_H
#define YPR_KERNELS_H

#include <stdint.h>

#include "lib/core/core.h"

enum {
    YPR_ACT_IDENTITY = 0,
    YPR_ACT_RELU = 1,
    YPR_ACT_LEAKY = 2,      /* x > 0 ? x : alpha·x */
    YPR_ACT_SILU = 3,       /* x·sigmoid(x) */
    YPR_ACT_SIGMOID = 4,
    YPR_ACT_HARDSWISH = 5,  /* x·relu6(x + 3)/6 */
    YPR_ACT_COUNT_
};

/* Run the statement (the variadic part) with ACT_ bound to `act` as a
 * compile-time constant: one specialised copy per activation, so inlined
 * epilogue loops never test the activation per vector. Unknown values take
 * the identity copy. */
#define YPR_ACT_SPECIALIZE(act, ...)                                           \
    do {                                                                       \
        switch (act) {                                                         \
        case YPR_ACT_RELU: { const int ACT_ = YPR_ACT_RELU; __VA_ARGS__; } break;       \
        case YPR_ACT_LEAKY: { const int ACT_ = YPR_ACT_LEAKY; __VA_ARGS__; } break;     \
        case YPR_ACT_SILU: { const int ACT_ = YPR_ACT_SILU; __VA_ARGS__; } break;       \
        case YPR_ACT_SIGMOID: { const int ACT_ = YPR_ACT_SIGMOID; __VA_ARGS__; } break; \
        case YPR_ACT_HARDSWISH: { const int ACT_ = YPR_ACT_HARDSWISH; __VA_ARGS__; } break; \
        default: { const int ACT_ = YPR_ACT_IDENTITY; __VA_ARGS__; } break;             \
        }                                                                      \
    } while (0)

/* Per-output-channel epilogue: y = act(y·scale[c] + bias[c]). NULL scale
 * means 1, NULL bias means 0. */
typedef struct ypr_epilogue {
    const float *scale;
    const float *bias;
    int act;
    float alpha;
} ypr_epilogue;

/* B-block packer: fill the panels of rows [k0, k0+kc) × cols [n0, n0+nc). */
typedef void (*ypr_pack_b_fn)(const void *src, int64_t k0, int64_t kc,
                              int64_t n0, int64_t nc, int nr, float *dst);

/* What the implicit-im2col B packer reads: one image, one group. Row k of B
 * is (channel, ky, kx) = (k / (kh·kw), k / kw % kh, k % kw); column n is the
 * output position (n / ow, n % ow). */
typedef struct ypr_im2col_src {
    const float *x;                 /* first channel of the group, [C/g, h, w] */
    int64_t h, w, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
} ypr_im2col_src;

/* One BatchNorm channel for the ypr_ktable.bn_* entries. */
typedef struct ypr_bn_coef {
    float mu, invstd;           /* batch mean, 1/σ */
    float scale, bias;          /* γ·invstd, β: the forward's z = (x − mu)·scale + bias */
    int act;                    /* the activation fused after it (identity: none) */
    float alpha;
    float k, mg, mgx;           /* bn_bwd_dx: scale, mean of gz, mean of gz·x̂ */
} ypr_bn_coef;

/* One segment of a Winograd virtual row (winograd.c): virtual tiles vt …
 * vt + nt − 1 are the output tiles 0 … nt − 1 at y, of which rows ≤ 4 rows
 * (ldy apart) and cols ≤ 4·nt columns are written. */
typedef struct ypr_wino_seg {
    float *y;
    int vt, nt, rows, cols;
} ypr_wino_seg;

typedef struct ypr_ktable {
    const char *name;
    int mr, nr;            /* micro-tile rows (A panel) and columns (B panel) */
    int kc, nc;            /* cache blocking along K and N (nc % nr == 0) */
    int vl;                /* floats per vector register (nr % vl == 0) */

    /* C[i, j] (= or +=) Σ_k a[k·mr + i] · b[k·nr + j] for i < m ≤ mr,
     * j < n ≤ nr, 0 ≤ k < kc. Writes only the m×n corner of C. */
    void (*gemm_ukernel)(int64_t kc, const float *a, const float *b,
                         float *c, int64_t ldc, int m, int n, int accumulate);

    /* Optional (NULL: the driver calls gemm_ukernel, then scale_bias_act per
     * row): gemm_ukernel followed, in registers before the store, by
     * c[i][j] = act(c[i][j]·scale[i] + bias[i]) for the written m×n corner.
     * scale and bias point at the tile's first row; NULL means 1 and 0. The
     * result must equal gemm_ukernel + scale_bias_act within the epilogue
     * tolerances (multiply then add, not fused, for identity/ReLU/leaky). */
    void (*gemm_ukernel_ep)(int64_t kc, const float *a, const float *b, float *c,
                            int64_t ldc, int m, int n, int accumulate,
                            const float *scale, const float *bias, int act, float alpha);

    /* The implicit-im2col packer (src is a ypr_im2col_src); the scalar table
     * holds the generic ypr__pack_b_im2col_ref. ISA versions may hand shapes
     * they do not speed up back to it. */
    ypr_pack_b_fn pack_b_im2col;

    /* Optional: one output tile of a 3×3, stride-1 conv from rows packed by
     * the driver: row r = ci·3 + ky (r < rows) holds input columns
     * ox0 − 1 … ox0 + n at rb + r·ldr (zeros outside the image; readable up
     * to a whole vector past n + 2). For i < m ≤ mr, j < n ≤ nr:
     * y[i·ldy + j] (= or +=) Σ_r Σ_kx a[(r·3 + kx)·mr + i] · rb[r·ldr + j + kx];
     * with ep set (the last K block) the epilogue follows, as in
     * gemm_ukernel_ep. */
    void (*conv3x3_rows)(const float *a, const float *rb, int64_t rows, int64_t ldr, int n,
                         float *y, int64_t ldy, int m, int accumulate, const float *scale,
                         const float *bias, int act, float alpha, int ep);

    /* Winograd F(4×4, 3×3) transforms (winograd.c; the scalar table holds
     * the reference, from the same template winograd_vec.h, and every set
     * equals it bit for bit but for SiLU/sigmoid). For nt tiles of one tile
     * row of one channel plane:
     * wino4_in: d holds the 6 input rows the tiles read (row stride ldd,
     * zeros outside the image; tile t reads columns 4t … 4t + 5) and is
     * overwritten; it is read up to column ypr__wino4_row_floats(vl, nt).
     * Writes v[k·ldv + t] = (Bᵀ·d_t·B)[k / 6][k % 6] for k < 36, t < nt.
     * wino4_out: m[k·ldm + t] (k < 36, t < nt; readable up to the next whole
     * vector past nt) holds the products of tile t for one output channel;
     * writes y[r·ldy + 4t + c] = act((Aᵀ·m_t·A)[r][c]·scale + bias) for
     * r < rows ≤ 4 and 4t + c < cols. */
    void (*wino4_in)(float *d, int64_t ldd, int nt, float *v, int64_t ldv);
    void (*wino4_out)(const float *m, int64_t ldm, int nt, float *y, int64_t ldy, int rows,
                      int64_t cols, float scale, float bias, int act, float alpha);

    /* x[i] = act(x[i]·scale + bias) for i < n. */
    void (*scale_bias_act)(float *x, int64_t n, float scale, float bias,
                           int act, float alpha);

    /* One plane of PyTorch MaxPool2d (implicit −inf padding, floor mode):
     * y[oy, ox] = max over window at (oy·s − p, ox·s − p) of size k×k, y
     * oh×ow with oh = (h + 2p − k)/s + 1, bit-exact with
     * ypr__maxpool_plane_ref. Both optional: the driver (layers.c) sends the
     * 2×2 stride-2 pools and the stride-1 ones (2p ≤ k) here, the rest to
     * the reference — as it does when maxpool_s1 returns 0 (no memory). */
    void (*maxpool_2x2s2)(const float *x, int64_t w, float *y, int64_t oh, int64_t ow);
    int (*maxpool_s1)(const float *x, int64_t h, int64_t w, float *y, int64_t oh,
                      int64_t ow, int k, int p);

    /* One plane of nearest ×2 upsampling: y is (2h)×(2w). */
    void (*upsample2x_plane)(const float *x, int64_t h, int64_t w, float *y);

    /* Peak probe: run `iters` rounds of 12 independent vector FMA chains,
     * store something derived from the result in *sink (so nothing is
     * optimized away) and return the flops done (2 per lane per FMA). */
    double (*fma_burn)(int64_t iters, float *sink);

    /* ---- convolution backward (conv_bwd.c); the scalar table holds the
     * references ypr__add_strided_ref and ypr__dot_block_ref. */
    /* col2im: d[t·sd] += s[t] for t < n (sd ≥ 1, the conv's column stride). */
    void (*add_strided)(float *d, int64_t sd, const float *s, int64_t n);
    /* The weight gradient's dot products along the output positions:
     * c[i·ldc + j] += Σ_{p<len} a[i·lda + p] · b[j][p] for i < m, j < n
     * (a: dY rows, b: input, padded-plane or im2col rows, c: dW). The order
     * of additions depends on (len, m, n) only; sets agree within the GEMM
     * tolerance. */
    void (*dot_block)(int64_t len, const float *a, int64_t lda, const float *const *b,
                      float *c, int64_t ldc, int64_t m, int64_t n);

    /* ---- training loops (lib/train); the scalar table holds the references
     * ypr__act_bwd_ref and ypr__sgd_ref. */
    /* gz[i] = gy[i] · act'(z[i]) for i < n, z the activation's input (gz may
     * be gy). ReLU and leaky ReLU select (z > 0 ? gy : 0 or gy·alpha) and
     * match the reference bit for bit; SiLU, sigmoid and hard-swish agree
     * within 4e-6·|gy|·(1 + |z|). */
    void (*act_bwd)(const float *z, const float *gy, float *gz, int64_t n, int act, float alpha);
    /* One step of PyTorch's SGD on n floats (ypr__sgd_update's contract,
     * lib/train/train.h) with wd, momentum and −lr already rounded to float
     * and `mode` a set of YPR_SGD_* bits. Bit-identical to the reference:
     * every fmaf of the reference is a fused multiply-add, every other
     * operation a rounded float one. */
    void (*sgd)(float *p, const float *g, float *buf, int64_t n, float wd, float momentum,
                float neg_lr, int mode);

    /* ---- BatchNorm in training mode, one channel's stretch of n floats at
     * a time (lib/train/autograd.c); the scalar table holds the references
     * ypr__bn_*_ref, every set follows lib/kernels/bn_vec.h. Sums: in chunks
     * of YPR_BN_CHUNK floats, element k of a chunk in float lane
     * k % YPR_BN_LANES, the lanes added into a double in order at the end of
     * the chunk, the chunk's last len % YPR_BN_LANES elements straight into
     * the double; every other operation one rounded float operation in the
     * order written here. So every set equals the reference bit for bit for
     * identity, ReLU and leaky ReLU; with SiLU, sigmoid or hard-swish the
     * activation (its derivative) is the set's scale_bias_act (act_bwd). */
    /* s[0] += Σ (x − c), s[1] += Σ (x − c)². */
    void (*bn_sums)(const float *x, int64_t n, float c, double s[2]);
    /* y[i] = act((x[i] − mu)·scale + bias) (y may be x). */
    void (*bn_norm_act)(const float *x, float *y, int64_t n, float mu, float scale, float bias,
                        int act, float alpha);
    /* With gz_i = gy_i·act'((x_i − mu)·scale + bias) (gy_i for identity):
     * s[0] += Σ gz, s[1] += Σ gz·((x − mu)·invstd); gz stored when not NULL
     * (it may be gy). */
    void (*bn_bwd_sums)(const float *x, const float *gy, float *gz, int64_t n,
                        const ypr_bn_coef *c, double s[2]);
    /* gx (=, or += with YPR_BN_ACCUMULATE) k·(g − mg − (x − mu)·invstd·mgx),
     * g = gz recomputed from gy with YPR_BN_RECOMPUTE, else gy (gy may be gx). */
    void (*bn_bwd_dx)(const float *x, const float *gy, float *gx, int64_t n,
                      const ypr_bn_coef *c, int mode);

    /* Optional (0 / NULL: none): gemm_ukernel and gemm_ukernel_ep on a
     * narrower B panel of nrn columns (nrn < nr, a multiple of vl): b[k·nrn
     * + j], j < n ≤ nrn. A job whose packed_b is such a panel (narrow set)
     * is read as it is: Winograd blocks of up to nrn tiles hand their V over
     * without widening it to nr. */
    int nrn;
    void (*gemm_ukernel_narrow)(int64_t kc, const float *a, const float *b, float *c,
                                int64_t ldc, int m, int n, int accumulate);
    void (*gemm_ukernel_narrow_ep)(int64_t kc, const float *a, const float *b, float *c,
                                   int64_t ldc, int m, int n, int accumulate,
                                   const float *scale, const float *bias, int act, float alpha);

    /* wino4_out over a virtual row of nvt tiles (m as for wino4_out), each
     * segment's tiles written straight to its own output rows. */
    void (*wino4_out_segs)(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                           int nseg, int64_t ldy, float scale, float bias, int act,
                           float alpha);

    /* Winograd F(2×2, 3×3), the same contracts with 4-row input tiles at
     * stride 2 (tile t reads columns 2t … 2t + 3; d is read up to column
     * ypr__wino2_row_floats(vl, nt)), 16 products, 2×2 output tiles
     * (segments of at most 2 rows and 2·nt columns). Additions only: every
     * set equals the reference bit for bit but for SiLU/sigmoid. */
    void (*wino2_in)(float *d, int64_t ldd, int nt, float *v, int64_t ldv);
    void (*wino2_out_segs)(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                           int nseg, int64_t ldy, float scale, float bias, int act,
                           float alpha);

    /* Direct 3×3 stride-2 convs (conv_s2.c), output channels in lanes.
     * s2_tile computes np ≤ YPR_S2_NP output positions of one output row
     * (columns ow0 … ow0 + np − 1) for at least the first noc ≤ s2_ocb
     * output channels of a block (a vector set may compute up to its next
     * whole vector):
     *   t[p·s2_ocb + o] (+)= Σ_{ic < nic} Σ_{kh0 ≤ kh < kh1} Σ_{kw < 3}
     *       wb[(ic·9 + kh·3 + kw)·s2_ocb + o] · x[ic·plane + (kh − kh0)·w + 2p + kw − 1]
     * (= with accumulate 0), the term of (p = 0, kw = 0) left out with skip0
     * and that of (p = np − 1, kw = 2) with skipl (they would read the zero
     * padding outside the row). x points at channel 0, input row 2·oh − 1 +
     * kh0, column 2·ow0; the sum runs over ic, then kh, then kw. s2_pays:
     * the plan's cost rule may pick the direct path on this set (measured). */
    int s2_ocb;
    int s2_pays;
    void (*s2_tile)(const float *x, int64_t plane, int64_t w, const float *wb, int64_t nic,
                    int kh0, int kh1, int np, int noc, int skip0, int skipl, int accumulate,
                    float *t);
    /* A finished row out: y[o·ohw + q] = act(t[q·ocb + o]·scale[o] + bias[o])
     * for o < noc, q < ow (scale, bias: NULL for 1, 0). */
    void (*s2_flush)(const float *t, int64_t ocb, int64_t ow, int noc, float *y, int64_t ohw,
                     const float *scale, const float *bias, int act, float alpha);

    /* Optional (NULL: none): gemm_ukernel and gemm_ukernel_ep on B read in
     * place, row k at b + k·ldb, columns j < n ≤ nr (nothing read past
     * column n), for jobs with b_direct (1×1 convs read their input). */
    void (*gemm_ukernel_ldb)(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                             int64_t ldc, int m, int n, int accumulate);
    void (*gemm_ukernel_ldb_ep)(int64_t kc, const float *a, const float *b, int64_t ldb,
                                float *c, int64_t ldc, int m, int n, int accumulate,
                                const float *scale, const float *bias, int act, float alpha);
} ypr_ktable;

/* Output positions per s2_tile call, at most. */
enum { YPR_S2_NP = 6 };

enum { YPR_BN_CHUNK = 1024, YPR_BN_LANES = 16 };
/* ypr_ktable.bn_bwd_dx modes */
enum { YPR_BN_RECOMPUTE = 1, YPR_BN_ACCUMULATE = 2 };

/* ypr_ktable.sgd modes: weight decay, momentum, the momentum buffer holds a value. */
enum { YPR_SGD_WD = 1, YPR_SGD_MOMENTUM = 2, YPR_SGD_HAS_BUF = 4 };

/* ---- dispatch (dispatch.c) */
enum { YPR_KT_SCALAR, YPR_KT_AVX2, YPR_KT_AVX512, YPR_KT_NEON, YPR_KT_COUNT };
const ypr_ktable *ypr__kt(void);                 /* the active table */
const ypr_ktable *ypr__kt_named(const char *name); /* NULL if unavailable */
/* Whether a CPU with features @p c runs kernel set @p name (every extension
 * its file is built with); 0 for unknown names. Built-in or not is separate. */
int ypr__kt_cpu_ok(const char *name, const ypr_cpu_info *c);
/* The set start-up picks (before YPR_SIMD): the first of avx512, avx2, neon,
 * scalar that is built in (bit YPR_KT_… of @p built) and runs on @p c. */
const char *ypr__kt_best(const ypr_cpu_info *c, unsigned built);
/* ISA tables, each filled completely (NULL entries replaced by scalar). */
void ypr__kt_fill_scalar(ypr_ktable *t);
#if defined(YPR_HAVE_AVX2)
void ypr__kt_fill_avx2(ypr_ktable *t);
#endif
#if defined(YPR_HAVE_AVX512)
void ypr__kt_fill_avx512(ypr_ktable *t);
#endif
#if defined(YPR_HAVE_NEON)
void ypr__kt_fill_neon(ypr_ktable *t);
#endif

/* Scalar reference activation of one value (shared by scalar code and tests). */
float ypr__act_ref(float x, int act, float alpha);
/* Its derivative at x (the scalar act_bwd's factor; ReLU 0 and leaky alpha
 * where x > 0 fails, NaN included). */
float ypr__act_grad_ref(float x, int act, float alpha);
/* The scalar entries of ypr_ktable.act_bwd and .sgd. */
void ypr__act_bwd_ref(const float *z, const float *gy, float *gz, int64_t n, int act,
                      float alpha);
void ypr__sgd_ref(float *p, const float *g, float *buf, int64_t n, float wd, float momentum,
                  float neg_lr, int mode);

/* The scalar entries of ypr_ktable.bn_* (kernels_scalar.c). */
void ypr__bn_sums_ref(const float *x, int64_t n, float c, double s[2]);
void ypr__bn_norm_act_ref(const float *x, float *y, int64_t n, float mu, float scale,
                          float bias, int act, float alpha);
void ypr__bn_bwd_sums_ref(const float *x, const float *gy, float *gz, int64_t n,
                          const ypr_bn_coef *c, double s[2]);
void ypr__bn_bwd_dx_ref(const float *x, const float *gy, float *gx, int64_t n,
                        const ypr_bn_coef *c, int mode);

/* ---- GEMM driver (gemm.c) */
int64_t ypr__gemm_packed_a_floats(const ypr_ktable *kt, int64_t m, int64_t k);
void ypr__gemm_pack_a(const ypr_ktable *kt, int64_t m, int64_t k,
                      const float *a, int64_t lda, float *dst);
/* Per-worker scratch (in floats) for packing one B block. */
int64_t ypr__gemm_scratch_floats(const ypr_ktable *kt);

typedef struct ypr_gemm_job {
    int64_t m, n, k;
    const float *packed_a;             /* ypr__gemm_pack_a layout */
    ypr_pack_b_fn pack_b;              /* how to read B */
    const void *b_src;                 /* what pack_b reads */
    float *c;                          /* row-major, leading dim ldc */
    int64_t ldc;
    const ypr_epilogue *ep;            /* may be NULL; scale/bias by row */
    int accumulate;                    /* 1: C += A·B (epilogue after) */
    /* Optional (NULL: pack_b packs): B already in the packed layout, for a job
     * of at most one panel (n ≤ nr): row k at packed_b + k·nr, columns past n
     * read but not used. Used where a task takes the whole panel; a task
     * with part of it packs through pack_b, which must stay valid. */
    const float *packed_b;
    /* With packed_b: 1 when it is a panel of kt->nrn columns (row k at
     * packed_b + k·nrn, n ≤ nrn), read by gemm_ukernel_narrow(_ep). */
    int narrow;
    /* Optional (NULL: pack_b packs): B as a row-major matrix (row k at
     * b_direct + k·ldb_direct), read in place by sets with gemm_ukernel_ldb
     * (others pack it through pack_b, which must stay valid). */
    const float *b_direct;
    int64_t ldb_direct;
} ypr_gemm_job;

/* Run a batch of independent GEMM jobs over the pool (one job per conv group
 * and image). @p scratch holds ypr__gemm_scratch_floats() per worker; NULL
 * allocates. Returns YPR_OK or YPR_ENOMEM. */
int ypr__gemm_run(const ypr_ktable *kt, ypr_pool *pool, const ypr_gemm_job *jobs,
                  int64_t njobs, float *scratch);

/* Row-major matrix source for pack_b. */
typedef struct ypr_matrix_src { const float *b; int64_t ldb, n; } ypr_matrix_src;  /* n: columns */
void ypr__pack_b_matrix(const void *src, int64_t k0, int64_t kc, int64_t n0,
                        int64_t nc, int nr, float *dst);

/* Plain SGEMM, C = A·B (+C), with packing of A on the fly. */
int ypr__sgemm(const ypr_ktable *kt, ypr_pool *pool, int64_t m, int64_t n, int64_t k,
               const float *a, int64_t lda, const float *b, int64_t ldb,
               float *c, int64_t ldc, int accumulate);

/* ---- convolution (conv.c) */
typedef struct ypr_conv_shape {
    int64_t n, c, h, w;         /* input [N, C, H, W] */
    int64_t oc, kh, kw;         /* weight [OC, C/groups, kh, kw] */
    int64_t sh, sw, ph, pw, dh, dw, groups;
} ypr_conv_shape;

/* Validate and compute the output size; YPR_EINVAL/YPR_ERANGE with a message. */
int ypr__conv_check(const ypr_conv_shape *s, int64_t *oh, int64_t *ow);
/* A 1×1 stride-1 conv without padding: its input is the GEMM's B as it is. */
static inline int ypr__conv_pointwise(const ypr_conv_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 && s->pw == 0;
}
int64_t ypr__conv_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s);
void ypr__conv_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s,
                      const float *w, float *dst);
/* y[N, OC, OH, OW] = act(conv(x, w)·scale + bias). packed_w from
 * ypr__conv_pack_w with the same table. */
int ypr__conv2d(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                const float *x, const float *packed_w, const ypr_epilogue *ep,
                float *y);
/* The same with caller-provided GEMM scratch (ypr__gemm_scratch_floats() per
 * pool worker), so repeated calls do not allocate. */
int ypr__conv2d_ws(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                   const float *x, const float *packed_w, const ypr_epilogue *ep, float *y,
                   float *scratch);
/* A run: output positions c0+j … c0+j+len−1 that lie in one output row
 * (oy, ox …). ypr__im2col_runs splits `cols` positions from c0 into runs and
 * returns how many (at most `max`; 0 if they do not fit). */
typedef struct ypr_im2col_run { int64_t j, len, oy, ox; } ypr_im2col_run;
int ypr__im2col_runs(const ypr_im2col_src *s, int64_t c0, int64_t cols,
                     ypr_im2col_run *runs, int max);
/* d[t] = row[ix0 + t·sw] for t < len, 0 where that falls outside [0, w). */
void ypr__gather_row(const float *row, int64_t w, int64_t ix0, int64_t sw, int64_t len,
                     float *d);
/* Prefetch the input rows that kernel row ky of these runs reads. */
void ypr__im2col_prefetch(const ypr_im2col_src *s, const float *plane, int64_t ky,
                          const ypr_im2col_run *runs, int nruns);
/* ---- 3×3 stride-2 convs, direct (conv_s2.c): 3×3, stride 2, padding 1,
 * no dilation, one group; any H and W, any batch. The weights are packed
 * per block of kt->s2_ocb output channels as [block][c][9][s2_ocb] (zeros
 * past OC); each worker keeps one output row of a block in its workspace
 * (positions × channels) and writes it out transposed through the epilogue.
 * The sum over the input channels runs in chunks whose weights stay in L2,
 * each chunk adding to the row. Results do not depend on the worker count. */
int ypr__s2_eligible(const ypr_ktable *kt, const ypr_conv_shape *s);
/* Eligible, and the cost rule picks it on this set (kt->s2_pays). */
int ypr__s2_pays(const ypr_ktable *kt, const ypr_conv_shape *s);
int64_t ypr__s2_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s);
void ypr__s2_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s, const float *w, float *dst);
int64_t ypr__s2_ws_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers);
/* y = act(conv(x, w)·scale + bias); ws: ypr__s2_ws_floats floats for the
 * pool's workers, or NULL (allocated here). */
int ypr__conv2d_s2(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                   const float *x, const float *packed_w, const ypr_epilogue *ep, float *y,
                   float *ws);
/* The scalar s2_tile (every set's fallback and the tests' reference). */
void ypr__s2_tile_ref(const float *x, int64_t plane, int64_t w, const float *wb, int64_t nic,
                      int kh0, int kh1, int np, int noc, int skip0, int skipl, int accumulate,
                      float *t);
void ypr__s2_flush_ref(const float *t, int64_t ocb, int64_t ow, int noc, float *y, int64_t ohw,
                       const float *scale, const float *bias, int act, float alpha);
/* The scalar set's s2_ocb (ypr__s2_tile_ref's weight stride). */
enum { YPR_S2_REF_OCB = 8 };

/* ---- 3×3 stride-1 convs from copied rows (conv3x3_rows.c) */
/* Whether ypr__conv2d runs this shape through kt->conv3x3_rows. */
int ypr__conv3x3_rows_eligible(const ypr_ktable *kt, const ypr_conv_shape *s);
/* ypr__conv2d_ws for an eligible shape (packed_w from ypr__conv_pack_w). */
int ypr__conv3x3_rows(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                      const float *x, const float *packed_w, const ypr_epilogue *ep, float *y,
                      float *scratch);
/* ---- Winograd F(4×4, 3×3) for 3×3 stride-1 convs (winograd.c) */
/* Row stride (floats) wino4_in needs for nt tiles with vectors of vl. */
int64_t ypr__wino4_row_floats(int vl, int64_t nt);
/* Whether the shape can run as Winograd: 3×3, stride 1, dilation 1, one group,
 * padding ≤ 2. (Whether it pays is the caller's rule: ypr__wino_pays.) */
int ypr__wino_eligible(const ypr_conv_shape *s);
/* The cost rule (docs/simd.md): Winograd is expected to beat the GEMM paths
 * for this shape on `threads` threads. */
int ypr__wino_pays(const ypr_ktable *kt, const ypr_conv_shape *s, int threads);
/* Transformed, packed weights: 36 GEMM A matrices [OC, C] (U_k = (G·g·Gᵀ)[k/6][k%6]),
 * each in ypr__gemm_pack_a layout, one after another. */
int64_t ypr__wino_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s);
void ypr__wino_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s, const float *w, float *dst);
/* Workspace (floats) ypr__conv2d_wino needs on a pool of `workers` workers. */
int64_t ypr__wino_ws_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers);
/* y = act(conv(x, w)·scale + bias) for an eligible shape, packed_u from
 * ypr__wino_pack_w with the same table; ws (ypr__wino_ws_floats) and
 * scratch (ypr__gemm_scratch_floats per worker) may be NULL (allocated). */
int ypr__conv2d_wino(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                     const float *x, const float *packed_u, const ypr_epilogue *ep, float *y,
                     float *ws, float *scratch);
/* Winograd F(2×2, 3×3) (winograd.c; for small maps, ypr__wino2_pays): the
 * same entry points. Its transformed weights are 16/9 of the weights. */
int64_t ypr__wino2_row_floats(int vl, int64_t nt);
int ypr__wino2_pays(const ypr_ktable *kt, const ypr_conv_shape *s, int threads);
int64_t ypr__wino2_packed_w_floats(const ypr_ktable *kt, const ypr_conv_shape *s);
void ypr__wino2_pack_w(const ypr_ktable *kt, const ypr_conv_shape *s, const float *w,
                       float *dst);
int64_t ypr__wino2_ws_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers);
int ypr__conv2d_wino2(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                      const float *x, const float *packed_u, const ypr_epilogue *ep, float *y,
                      float *ws, float *scratch);
/* The same on a given path (winograd.c: 0 chunked, 1 fused blocks, 2 fused
 * split; −1 the rule, as ypr__conv2d_wino): every path gives the same bits
 * (tests compare them). */
int ypr__conv2d_wino_path(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                          const float *x, const float *packed_u, const ypr_epilogue *ep,
                          float *y, float *ws, float *scratch, int path);
/* The reference transforms (the scalar table's entries). */
void ypr__wino4_in_ref(float *d, int64_t ldd, int nt, float *v, int64_t ldv);
void ypr__wino2_in_ref(float *d, int64_t ldd, int nt, float *v, int64_t ldv);
void ypr__wino2_out_segs_ref(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                             int nseg, int64_t ldy, float scale, float bias, int act,
                             float alpha);
void ypr__wino4_out_segs_ref(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                             int nseg, int64_t ldy, float scale, float bias, int act,
                             float alpha);
void ypr__wino4_out_ref(const float *m, int64_t ldm, int nt, float *y, int64_t ldy, int rows,
                        int64_t cols, float scale, float bias, int act, float alpha);
/* y += conv(x, w) for an eligible shape, no epilogue (the training
 * backward's dX, conv_bwd.c): ypr__conv2d_wino's work, the output tiles added
 * into y. ws (ypr__wino_ws_floats) is required; scratch as there. */
int ypr__conv2d_wino_acc(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                         const float *x, const float *packed_u, float *y, float *ws,
                         float *scratch);

/* The generic implicit-im2col packer (any kernel, stride, dilation, nr). */
void ypr__pack_b_im2col_ref(const void *src, int64_t k0, int64_t kc, int64_t n0,
                            int64_t nc, int nr, float *dst);
/* Direct, unblocked reference (tests). */
int ypr__conv2d_ref(const ypr_conv_shape *s, const float *x, const float *w,
                    const ypr_epilogue *ep, float *y);

/* ---- other layers (layers.c); planes are split over the pool */
int ypr__maxpool2d(const ypr_ktable *kt, ypr_pool *pool, int64_t planes, int64_t h,
                   int64_t w, int k, int s, int p, const float *x, float *y);
int ypr__upsample2x(const ypr_ktable *kt, ypr_pool *pool, int64_t planes, int64_t h,
                    int64_t w, const float *x, float *y);
/* In-place epilogue on y[N, C, HW]. */
int ypr__scale_bias_act(const ypr_ktable *kt, ypr_pool *pool, int64_t n, int64_t c,
                        int64_t hw, float *y, const ypr_epilogue *ep);
/* Copy x[N, cx, HW] into channels [off, off+cx) of y[N, cy, HW]. */
int ypr__concat_copy(int64_t n, int64_t cx, int64_t cy, int64_t off, int64_t hw,
                     const float *x, float *y);
/* Scalar reference of one maxpool plane (always handles every case). */
void ypr__maxpool_plane_ref(const float *x, int64_t h, int64_t w, float *y,
                            int64_t oh, int64_t ow, int k, int s, int p);

/* ---- convolution backward (conv_bwd.c) */
/* Scratch (floats) that ypr__conv2d_bwd_data / _weight need for shape s with
 * pool of `workers` workers (at least the pool's size); the caller allocates
 * it once per plan. One buffer serves both (not at the same time). 0 for an
 * invalid shape. */
int64_t ypr__conv_bwd_scratch_floats(const ypr_ktable *kt, const ypr_conv_shape *s, int workers);
/* dx[N, C, H, W] (accumulate ? += : =) d loss / d x of y = conv(x, w), given
 * dy[N, OC, OH, OW] and the UNPACKED weights w [OC, C/g, kh, kw]. NULL
 * scratch allocates. Bit-identical for any thread count. */
int ypr__conv2d_bwd_data(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                         const float *dy, const float *w, float *dx, int accumulate,
                         float *scratch);
/* dw[OC, C/g, kh, kw] += d loss / d w and, when db != NULL, db[OC] += Σ dy
 * (always accumulating: the trainer sums over micro-batches). Bit-identical
 * for any thread count. */
int ypr__conv2d_bwd_weight(const ypr_ktable *kt, ypr_pool *pool, const ypr_conv_shape *s,
                           const float *x, const float *dy, float *dw, float *db,
                           float *scratch);
/* YPR_CONV_ALGO from the environment: 1 winograd (every eligible 3×3 conv),
 * 0 gemm (none), −1 unset or anything else (the cost rules decide). */
int ypr__conv_algo_env(void);
/* Direct, unblocked double-accumulating references (tests): dx = …, and
 * dw += …, db += … (db may be NULL). */
int ypr__conv2d_bwd_data_ref(const ypr_conv_shape *s, const float *dy, const float *w, float *dx);
int ypr__conv2d_bwd_weight_ref(const ypr_conv_shape *s, const float *x, const float *dy,
                               float *dw, float *db);
/* The scalar entries of ypr_ktable.add_strided and .dot_block. */
void ypr__add_strided_ref(float *d, int64_t sd, const float *s, int64_t n);
void ypr__dot_block_ref(int64_t len, const float *a, int64_t lda, const float *const *b,
                        float *c, int64_t ldc, int64_t m, int64_t n);

/* ---- INT8 convolution (int8_conv.c, int8_dispatch.c; ISA files int8_*.c
 * under x86/ and arm/). Integer GEMM C[m×n] = A[m×k] · B[k×n] with int8
 * weights A and int8 activations B, int32 accumulators, then a
 * requantization epilogue to int8. Its own small kernel table, chosen once
 * next to the float one: every set computes the same int32 sums (exact
 * integer arithmetic) and the same epilogue, so all sets are bit-identical.
 *
 * Packed operands come in groups of kg consecutive k (kg = 2 or 4), K padded
 * with zero weights to a multiple of kg. A panel p (rows p·mr …) holds, for
 * each k group q and row r < mr, kg values at (q·mr + r)·kg (rows past m
 * are zero). A B panel (columns j0 … j0+nr−1) holds, for each k group q and
 * column j < nr, kg values at (q·nr + j)·kg. Element formats: */
enum {
    YPR_I8F_S16 = 0,   /* int16 (kg = 2: pairs for vpmaddwd / smull)              */
    YPR_I8F_U8 = 1,    /* B as uint8 x + 128 (kg = 4: vpdpbusd); A int8; the      *
                        * accumulators start at −128·Σ_k A[r][k]                  */
    YPR_I8F_S8 = 2,    /* int8 both (kg = 4: sdot)                                 */
};

/* How one conv's int32 sums become int8 (per output channel c):
 *  SHIFT (power-of-two steps, the dpu scheme): a = acc + bsh[c];
 *    a ≥ 0 or no activation: q = (a + 2^(sh−1)) >> sh   (⌊a·2^−sh + ½⌋);
 *    a < 0, ReLU: q = 0;  a < 0, leaky k/256: a ← max(a, −lneg),
 *    q = (a·k + 2^(sh+7)) >> (sh + 8).
 *    The plan guarantees |acc + bsh| < 2^30, 1 ≤ sh ≤ 29 (≤ 15 with leaky).
 *  FLOAT: z = (float)acc·m[c] + b[c] (multiply, then add: rounded float
 *    ops), z = ypr__i8_act(z, act, alpha), v = z / s_out, clamped to
 *    [qmin, qmax], rounded as `round` says (YPR_I8R_*: the values of
 *    YPR_ROUND_* in lib/net/net.h) — the float simulation's exact steps.
 * Then q is clamped to [qmin, qmax]. With a table `lut` (256 entries), q
 * then becomes lut[(uint8_t)q]: an activation quantized through a lookup
 * table (SiLU, hard-swish, sigmoid on a quantized pre-activation value;
 * lib/net/exec_i8.c builds the table, the requantization above then has no
 * activation). */
enum { YPR_I8RQ_SHIFT = 0, YPR_I8RQ_FLOAT = 1 };
enum { YPR_I8R_HALF_EVEN = 0, YPR_I8R_HALF_AWAY = 1, YPR_I8R_HALF_UP = 2 };
typedef struct ypr_i8rq {
    int mode, act;
    float alpha;
    int qmin, qmax;
    const int32_t *bsh;        /* SHIFT */
    int sh, lk;
    int32_t lneg;
    const float *m, *b;        /* FLOAT */
    float s_out;
    int round;
    const int8_t *lut;         /* NULL, or the 256-entry activation table */
} ypr_i8rq;

typedef struct ypr_i8kt {
    const char *name;
    int mr, nr, kg, fmt;
    /* c[i·nr + j] = init[i] + Σ_k a·b over nkg k groups of one A panel and
     * one B panel (the whole mr×nr tile; init NULL means 0). */
    void (*gemm)(int64_t nkg, const void *a, const void *b, const int32_t *init, int32_t *c);
    /* y[i·ldy + j] = requant(acc[i·nr + j]) of channel c0 + i, for i < m,
     * j < n (acc: a tile of this set's nr columns). */
    void (*requant)(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq, int64_t c0,
                    int8_t *y, int64_t ldy);
    /* y[i] = tab[(uint8_t)y[i]] for i < n, in place (the rq->lut step) */
    void (*lut)(int8_t *y, int64_t n, const int8_t *tab);
    /* Optional (NULL: int8_conv.c's portable code). ilv: the kg rows r[e][j],
     * j < nc (a multiple of nr), into the B panels of k group q (panels
     * `panel` elements apart), as the format says; even: d[t] = src[2t] for
     * t0 ≤ t < t1, reading nothing past src[2(t1 − 1)]. */
    void (*ilv)(const int8_t *const *r, int64_t nc, int64_t panel, int64_t q, uint8_t *dst);
    void (*even)(const int8_t *src, int64_t t0, int64_t t1, int8_t *d);
} ypr_i8kt;

/* The active INT8 set: the best one built in and supported, following the
 * float set (YPR_SIMD / ypr_simd_select): scalar → scalar; avx2 → avxvnni
 * when the CPU has it, else avx2; avx512 → avx512vnni, avxvnni or avx2;
 * neon → neondot (dot product) or neon. YPR_I8_SIMD=<name> forces one. */
const ypr_i8kt *ypr__i8kt(void);
/* A set by name (scalar, avx2, avxvnni, avx512vnni, neon, neondot); NULL
 * when not built in or not supported by this CPU. */
const ypr_i8kt *ypr__i8kt_named(const char *name);
/* The scalar epilogue (every set's fallback) and one value of it. */
void ypr__i8_requant_ref(const int32_t *acc, int nr, int m, int n, const ypr_i8rq *rq,
                         int64_t c0, int8_t *y, int64_t ldy);
int8_t ypr__i8_requant1(int32_t acc, const ypr_i8rq *rq, int64_t c);
/* The scalar table lookup (every set's fallback for ypr_i8kt.lut). */
void ypr__i8_lut_ref(int8_t *y, int64_t n, const int8_t *tab);
/* rows × n values at y, rows ldy apart, through rq->lut (nothing without one). */
void ypr__i8_lut_rows(const ypr_i8kt *kt, const ypr_i8rq *rq, int8_t *y, int64_t rows,
                      int64_t n, int64_t ldy);
/* The epilogue's activation (ypr__act_ref, but SiLU z/(1 + e^−z) and sigmoid
 * through ypr__i8_exp: an exp defined by its float operations, so vector sets
 * reproduce it exactly) and that exp. */
float ypr__i8_act(float z, int act, float alpha);
float ypr__i8_exp(float x);
/* Bytes of packed weights for a conv of shape s (groups included), and
 * packing of w [OC, C/g, kh, kw] int8 into them (with the U8 format's
 * per-row start values). */
int64_t ypr__i8_conv_packed_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s);
void ypr__i8_conv_pack_w(const ypr_i8kt *kt, const ypr_conv_shape *s, const int8_t *w,
                         void *dst);
/* Scratch (bytes) per pool worker for ypr__i8_conv2d. */
int64_t ypr__i8_conv_scratch_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s);
/* y[N, OC, OH, OW] int8 = requant(conv(x, w)) for x [N, C, H, W] int8 (zero
 * padding), packed from ypr__i8_conv_pack_w with the same set; scratch holds
 * ypr__i8_conv_scratch_bytes per worker (NULL allocates). Bit-identical
 * for any thread count and set. */
int ypr__i8_conv2d(const ypr_i8kt *kt, ypr_pool *pool, const ypr_conv_shape *s,
                   const int8_t *x, const void *packed, const ypr_i8rq *rq, int8_t *y,
                   void *scratch);
/* Direct reference (tests): int32 sums in the obvious loop order, then
 * ypr__i8_requant1 per value. */
int ypr__i8_conv2d_ref(const ypr_conv_shape *s, const int8_t *x, const int8_t *w,
                       const ypr_i8rq *rq, int8_t *y);
/* ---- INT8 Winograd F(2×2, 3×3) and F(4×4, 3×3) for 3×3 stride-1 convs
 * (int8_wino.c; F(4×4) below, at ypr__i8_wino_exact). Exact: with B^T = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]],
 * 2G = [[2,0,0],[1,1,1],[1,−1,1],[0,0,2]], A^T = [[1,1,1,0],[0,1,−1,−1]],
 * V = B^T d B of an input tile (x − zp: |V| ≤ 4·255) and U = (2G) g (2G)^T
 * of a weight (|U| ≤ 9·128) fit int16; the 16 element-wise products summed
 * over the input channels and A^T (·) A are ring operations, computed
 * modulo 2^32 (wrapping int32), and equal 4·S for the direct sum S. So the
 * int32 result is 4·S exactly whenever |4·S| < 2^31, which
 * ypr__i8_wino_exact checks from the weights; dividing by 4 (an arithmetic
 * shift) then gives the direct conv's int32 sum bit for bit, and the same
 * epilogue gives the same int8 output. Tiles are T×T outputs (T = 2, 4); their
 * columns (tile index t = ty·⌈OW/T⌉ + tx) form the GEMMs' N, input channels
 * their K.
 *
 * tin: for j < n tiles, channel pair (r0: 4 input rows of channel c, r1 of
 *   c + 1, or NULL: zeros), each row pointer at the tile's first input
 *   column (padded rows hold zp outside the image; readable for 2n + 2 + 64
 *   bytes), v[(ξ·ldv + j)·2 + e] = V_ξ (ξ = 4a + b) of channel c + e after
 *   subtracting the zero point zp.
 * tout: m16 = 16 tiles [ξ][mr][nr] of int32 sums; for rows i < m and
 *   tiles j < n: Y = A^T M A, y = Y / 4 (exact), q = the set's epilogue of
 *   channel c0 + i, o[(i·2 + dy)·2·nr + 2j + dx] = q. */
typedef struct ypr_i8wk {
    /* gemm as ypr_i8kt.gemm on mr×nr tiles of the S16 layout (int16 pairs;
     * sums wrap modulo 2^32, as vpmaddwd / vpdpwssd / smlal do) */
    int mr, nr;
    void (*gemm)(int64_t nkg, const void *a, const void *b, const int32_t *init, int32_t *c);
    void (*tin)(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                int16_t *v, int64_t ldv);
    void (*tout)(const ypr_i8kt *kt, const struct ypr_i8wk *wk, const int32_t *m16, int m,
                 int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
    /* the same for F(4×4, 3×3): 6 row pointers, 36 matrices, o [m][4][4·nr] */
    void (*tin4)(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                 int16_t *v, int64_t ldv);
    void (*tout4)(const ypr_i8kt *kt, const struct ypr_i8wk *wk, const int32_t *m36, int m,
                  int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
} ypr_i8wk;
/* The Winograd entries of an INT8 set (int8_dispatch.c; entries a set does
 * not provide are the scalar ones). */
const ypr_i8wk *ypr__i8wk(const ypr_i8kt *kt);
int ypr__i8_wino_eligible(const ypr_conv_shape *s);
/* Output tile t = 2: F(2×2, 3×3) as above. t = 4: F(4×4, 3×3) with Lavin's
 * B^T (|V| ≤ 100·255 fits int16), G' = diag(4, 6, 6, 24, 24, 1)·G (integer,
 * |U| ≤ 49·128) and A'' = 24·A^T·diag(4, 6, 6, 24, 24, 1)^−1 (integer): the
 * wrapping result is 576·S modulo 2^32; times 9^−1 modulo 2^32 it is 64·S,
 * exact when |S| < 2^25, and an arithmetic shift by 6 gives S.
 * ypr__i8_wino_exact: 1 when every output channel o has
 * xmax·Σ|w_o| < 2^29 (t = 2) or < 2^25 (t = 4), so that the result is
 * exact for any input with |x − zp| ≤ xmax; 0 otherwise. */
int ypr__i8_wino_exact(const ypr_conv_shape *s, const int8_t *w, int xmax, int t);
/* The same for inputs known to lie in [xlo, xhi] (padding adds 0): every
 * output channel's sum S = Σ w·x stays within (−2^25, 2^25) (t = 4) or
 * (−2^29, 2^29) (t = 2) for any such input. ypr__i8_wino_exact(xmax) is the
 * range [−xmax, xmax]. */
int ypr__i8_wino_exact_range(const ypr_conv_shape *s, const int8_t *w, int xlo, int xhi, int t);
int64_t ypr__i8_wino_packed_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s, int t);
void ypr__i8_wino_pack_w(const ypr_i8kt *kt, const ypr_conv_shape *s, const int8_t *w, int t,
                         void *dst);
int64_t ypr__i8_wino_scratch_bytes(const ypr_i8kt *kt, const ypr_conv_shape *s, int t);
/* y = requant(conv(x − zx, w)) with zero padding of x − zx (padding = zx)
 * as F(t×t, 3×3), for an eligible shape whose weights passed
 * ypr__i8_wino_exact for this t (and the xmax of the input); packed by
 * ypr__i8_wino_pack_w with the same set and t (YPR_EINVAL for another t or
 * a zero point outside int8). With zx = 0 bit-identical to ypr__i8_conv2d
 * for any thread count, set and t. */
int ypr__i8_wino_conv2d(const ypr_i8kt *kt, ypr_pool *pool, const ypr_conv_shape *s,
                        const int8_t *x, int zx, int t, const void *packed,
                        const ypr_i8rq *rq, int8_t *y, void *scratch);
void ypr__i8_wino_tin_ref(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                          int16_t *v, int64_t ldv);
void ypr__i8_wino_tout_ref(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m16, int m,
                           int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
void ypr__i8_wino_tin4_ref(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                           int16_t *v, int64_t ldv);
void ypr__i8_wino_tout4_ref(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m36, int m,
                            int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
#if defined(YPR_HAVE_AVX2) || defined(YPR_HAVE_AVXVNNI) || defined(YPR_HAVE_AVX512VNNI)
void ypr__i8wk_fill_avx2(ypr_i8wk *w);   /* built whenever a VNNI set is */
void ypr__i8_wino_tin_avx2(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                           int16_t *v, int64_t ldv);
void ypr__i8_wino_tout_avx2(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m16, int m,
                            int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
void ypr__i8_wino_tin4_avx2(const int8_t *const *r0, const int8_t *const *r1, int64_t n, int zp,
                            int16_t *v, int64_t ldv);
void ypr__i8_wino_tout4_avx2(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m36, int m,
                             int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
#endif
#if defined(YPR_HAVE_AVXVNNI)
void ypr__i8wk_fill_avxvnni(ypr_i8wk *w);
#endif
#if defined(YPR_HAVE_AVX512)
/* The 12×16 zmm vpmaddwd tile (x86/int8_wino_avx512.c): the avx2 set's
 * Winograd stage when the float set is avx512. */
void ypr__i8wk_tile_avx512(ypr_i8wk *w);
#endif
#if defined(YPR_HAVE_AVX512VNNI)
/* The avx512vnni set's output transforms (x86/int8_wino_zmm.c): F(2×2) as
 * the AVX2 one rebuilt with the AVX-512 flags (the epilogue on one zmm per
 * 16 tiles), F(4×4) on 16 tiles per zmm throughout. */
void ypr__i8_wino_tout_avx512(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m16, int m,
                              int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
void ypr__i8_wino_tout4_avx512(const ypr_i8kt *kt, const ypr_i8wk *wk, const int32_t *m36, int m,
                               int n, const ypr_i8rq *rq, int64_t c0, int8_t *o);
/* The F(4×4) input transform on 32 tiles per zmm of int16 lanes (as
 * ypr__i8_wino_tin4_ref; reads no byte past the last tile's). */
void ypr__i8_wino_tin4_avx512(const int8_t *const *r0, const int8_t *const *r1, int64_t n,
                              int zp, int16_t *v, int64_t ldv);
void ypr__i8wk_fill_avx512vnni(ypr_i8wk *w);
#endif
#if defined(YPR_HAVE_NEON)
void ypr__i8_wino_gemm_neon(int64_t nkg, const void *a, const void *b, const int32_t *init,
                            int32_t *c);
#define YPR_I8_WINO_NEON_MR 6
#define YPR_I8_WINO_NEON_NR 8
#endif

/* The ISA sets (int8_dispatch.c fills the table from these). */
void ypr__i8kt_fill_scalar(ypr_i8kt *t);
#if defined(YPR_HAVE_AVX2)
void ypr__i8kt_fill_avx2(ypr_i8kt *t);
#endif
#if defined(YPR_HAVE_AVXVNNI)
void ypr__i8kt_fill_avxvnni(ypr_i8kt *t);
#endif
#if defined(YPR_HAVE_AVX512VNNI)
void ypr__i8kt_fill_avx512vnni(ypr_i8kt *t);
#endif
#if defined(YPR_HAVE_NEON)
void ypr__i8kt_fill_neon(ypr_i8kt *t);
#endif
#if defined(YPR_HAVE_NEONDOT)
void ypr__i8kt_fill_neondot(ypr_i8kt *t);
#endif

#endif
