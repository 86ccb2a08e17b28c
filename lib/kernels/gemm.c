/* The packed SGEMM driver: A packed once (weights, cacheable), B packed per
 * kc×nc block by each worker into its own scratch, an mr×nr micro-kernel from
 * the active ISA table, and the epilogue applied to each finished tile while
 * it is still in L1. Every element of C is produced by one task with a fixed
 * K order, so results do not depend on the thread count. */
#include <string.h>

#include "kernels.h"

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* The K block for a depth of k: at most kt->kc, with the blocks evened out
 * (288 = 144 + 144 rather than 256 + 32: a short last block pays the C
 * tile's load and store for little work). */
static int64_t kc_for(const ypr_ktable *kt, int64_t k)
{
    return ceil_div(k, ceil_div(k, kt->kc));
}

int64_t ypr__gemm_packed_a_floats(const ypr_ktable *kt, int64_t m, int64_t k)
{
    return ceil_div(m, kt->mr) * kt->mr * k;
}

/* Narrow jobs of at most this many column panels are packed whole. */
enum { WHOLE_PANELS = 8 };

int64_t ypr__gemm_scratch_floats(const ypr_ktable *kt)
{
    int64_t whole = (int64_t)WHOLE_PANELS * kt->nr;
    return (int64_t)kt->kc * (kt->nc > whole ? kt->nc : whole);
}

void ypr__gemm_pack_a(const ypr_ktable *kt, int64_t m, int64_t k,
                      const float *a, int64_t lda, float *dst)
{
    const int mr = kt->mr;
    for (int64_t p = 0; p < ceil_div(m, mr); p++) {
        float *panel = dst + p * mr * k;
        for (int r = 0; r < mr; r++) {
            int64_t row = p * mr + r;
            if (row < m) {
                const float *src = a + row * lda;
                for (int64_t kk = 0; kk < k; kk++)
                    panel[kk * mr + r] = src[kk];
            } else {
                for (int64_t kk = 0; kk < k; kk++)
                    panel[kk * mr + r] = 0.0f;
            }
        }
    }
}

void ypr__pack_b_matrix(const void *src, int64_t k0, int64_t kc, int64_t n0,
                        int64_t nc, int nr, float *dst)
{
    const ypr_matrix_src *ms = src;
    /* the next block's columns of the same rows (the same worker usually
     * packs it next: see the task ranges below) are fetched meanwhile */
    int64_t pf = n0 + nc < ms->n ? min64(nc, ms->n - (n0 + nc)) : 0;
    for (int64_t q = 0; q * nr < nc; q++) {
        int64_t cols = min64(nr, nc - q * nr);
        float *panel = dst + q * nr * kc;
        const float *b = ms->b + k0 * ms->ldb + n0 + q * nr;
        for (int64_t kk = 0; kk < kc; kk++) {
            if (q == 0)
                for (int64_t x = 0; x < pf; x += 16)
                    __builtin_prefetch(b + kk * ms->ldb + nc + x, 0, 3);
            memcpy(panel + kk * nr, b + kk * ms->ldb, (size_t)cols * sizeof(float));
            for (int64_t j = cols; j < nr; j++)
                panel[kk * nr + j] = 0.0f;
        }
    }
}

typedef struct gemm_plan {
    const ypr_ktable *kt;
    const ypr_gemm_job *jobs;
    int64_t njobs;
    int64_t nsplit;        /* > 0: task t takes part t % nsplit of job t / nsplit's column panels */
    int64_t nblocks_max;   /* column blocks per job (max over jobs) */
    int64_t nper;          /* consecutive column blocks per task */
    int64_t nranges;       /* column ranges per job: ceil(nblocks_max / nper) */
    float *scratch;
} gemm_plan;

/* Micro-tiles of rows [m0, m1) × columns [n0, n1) for one kc block whose
 * packed B panels start at `bblock` (panel of column j at (j − n0)·kc), or
 * with bblock NULL on B read in place (jb->b_direct, the ldb kernels). */
static void tiles(const ypr_ktable *kt, const ypr_gemm_job *jb, int64_t pc, int64_t kc,
                  int64_t m0, int64_t m1, int64_t n0, int64_t n1, const float *bblock,
                  int narrow)
{
    const int mr = kt->mr, nr = kt->nr;
    const ypr_epilogue *ep = jb->ep;
    int need_ep = ep && (ep->scale || ep->bias || ep->act != YPR_ACT_IDENTITY);
    int last = pc + kc >= jb->k;
    for (int64_t i = m0; i < m1; i += mr) {
        const float *a = jb->packed_a + i * jb->k + pc * mr;
        int rows = (int)min64(mr, m1 - i);
        for (int64_t j = n0; j < n1; j += nr) {
            int cols = (int)min64(nr, n1 - j);
            float *c = jb->c + i * jb->ldc + j;
            if (!bblock) {
                const float *bd = jb->b_direct + pc * jb->ldb_direct + j;
                if (last && need_ep)
                    kt->gemm_ukernel_ldb_ep(kc, a, bd, jb->ldb_direct, c, jb->ldc, rows, cols,
                                            jb->accumulate || pc > 0,
                                            ep->scale ? ep->scale + i : NULL,
                                            ep->bias ? ep->bias + i : NULL, ep->act, ep->alpha);
                else
                    kt->gemm_ukernel_ldb(kc, a, bd, jb->ldb_direct, c, jb->ldc, rows, cols,
                                         jb->accumulate || pc > 0);
                continue;
            }
            if (narrow) {   /* one panel of nrn columns (run_tile) */
                if (last && need_ep)
                    kt->gemm_ukernel_narrow_ep(kc, a, bblock, c, jb->ldc, rows, cols,
                                               jb->accumulate || pc > 0,
                                               ep->scale ? ep->scale + i : NULL,
                                               ep->bias ? ep->bias + i : NULL, ep->act, ep->alpha);
                else
                    kt->gemm_ukernel_narrow(kc, a, bblock, c, jb->ldc, rows, cols,
                                            jb->accumulate || pc > 0);
                continue;
            }
            if (last && need_ep && kt->gemm_ukernel_ep) {
                kt->gemm_ukernel_ep(kc, a, bblock + (j - n0) * kc, c, jb->ldc, rows, cols,
                                    jb->accumulate || pc > 0, ep->scale ? ep->scale + i : NULL,
                                    ep->bias ? ep->bias + i : NULL, ep->act, ep->alpha);
                continue;
            }
            kt->gemm_ukernel(kc, a, bblock + (j - n0) * kc, c, jb->ldc, rows, cols,
                             jb->accumulate || pc > 0);
            if (last && need_ep)
                for (int r = 0; r < rows; r++)
                    kt->scale_bias_act(c + r * jb->ldc, cols,
                                       ep->scale ? ep->scale[i + r] : 1.0f,
                                       ep->bias ? ep->bias[i + r] : 0.0f, ep->act, ep->alpha);
        }
    }
}

static void run_tile(const gemm_plan *pl, const ypr_gemm_job *jb, int64_t m0,
                     int64_t m1, int64_t n0, int64_t n1, float *buf)
{
    const ypr_ktable *kt = pl->kt;
    const int64_t kcb = kc_for(kt, jb->k);
    if (jb->b_direct && kt->gemm_ukernel_ldb) {   /* B read in place: nothing to pack */
        for (int64_t pc = 0; pc < jb->k; pc += kcb)
            tiles(kt, jb, pc, min64(kcb, jb->k - pc), m0, m1, n0, n1, NULL, 0);
        return;
    }
    for (int64_t pc = 0; pc < jb->k; pc += kcb) {
        int64_t kc = min64(kcb, jb->k - pc);
        /* a narrow panel on a set without the narrow kernel goes through pack_b */
        const int narrow = jb->narrow && kt->gemm_ukernel_narrow;
        const int64_t pw = narrow ? kt->nrn : kt->nr;
        /* one panel already packed: block pc at row pc */
        if (jb->packed_b && narrow == jb->narrow && n0 == 0 && n1 <= pw) {
            tiles(kt, jb, pc, kc, m0, m1, n0, n1, jb->packed_b + pc * pw, narrow);
            continue;
        }
        jb->pack_b(jb->b_src, pc, kc, n0, n1 - n0, kt->nr, buf);
        tiles(kt, jb, pc, kc, m0, m1, n0, n1, buf, 0);
    }
}

/* Part `part` of a job's columns, split evenly in nsplit parts of whole
 * vectors (a part may end inside a panel), with all the job's rows, in
 * blocks of nc columns. (Until session 11 a part of at most WHOLE_PANELS
 * panels went at once, so that each A micro-panel met every B panel and A
 * was read once; but then every A micro-panel streamed the whole B block
 * from L2. In blocks of nc: 256→256 s2 @52² and 1×1 1024→256 @26² alone,
 * two threads, 0.85–0.93 of the time; yolov7 @416 in the model, profiled,
 * its s2 and 1×1 convs 0.96–0.98; whole passes 0.965–0.991, 7 rounds.) */
static void part_task(const gemm_plan *pl, const ypr_gemm_job *jb, int64_t part, float *buf)
{
    const int64_t vl = pl->kt->vl, vecs = ceil_div(jb->n, vl);
    const int64_t n0 = vecs * part / pl->nsplit * vl;
    const int64_t n1 = min64(jb->n, vecs * (part + 1) / pl->nsplit * vl);
    const int64_t step = pl->kt->nc;
    for (int64_t j = n0; j < n1; j += step)
        run_tile(pl, jb, 0, jb->m, j, min64(n1, j + step), buf);
}

/* Part `part` of a job's rows, in whole A micro-panels, with all its columns
 * (every such task packs all of B). */
static void rows_task(const gemm_plan *pl, const ypr_gemm_job *jb, int64_t part, float *buf)
{
    const int64_t mr = pl->kt->mr, nr = pl->kt->nr, panels = ceil_div(jb->m, mr);
    const int64_t m0 = panels * part / pl->nsplit * mr;
    const int64_t m1 = min64(jb->m, panels * (part + 1) / pl->nsplit * mr);
    const int64_t step = (jb->n <= WHOLE_PANELS * nr ? WHOLE_PANELS : pl->kt->nc / nr) * nr;
    if (m0 >= m1)
        return;
    for (int64_t j = 0; j < jb->n; j += step)
        run_tile(pl, jb, m0, m1, j, min64(jb->n, j + step), buf);
}

static void gemm_task(void *ctx, int64_t task, int worker)
{
    const gemm_plan *pl = ctx;
    float *buf = pl->scratch + worker * ypr__gemm_scratch_floats(pl->kt);
    if (pl->nsplit) {
        const ypr_gemm_job *jb = &pl->jobs[task / pl->nsplit];
        if (jb->m >= jb->n)
            rows_task(pl, jb, task % pl->nsplit, buf);
        else
            part_task(pl, jb, task % pl->nsplit, buf);
        return;
    }
    const ypr_gemm_job *jb = &pl->jobs[task / pl->nranges];
    int64_t ri = task % pl->nranges;
    for (int64_t ni = ri * pl->nper; ni < (ri + 1) * pl->nper; ni++) {
        int64_t n0 = ni * pl->kt->nc, n1 = min64(jb->n, n0 + pl->kt->nc);
        if (n0 >= n1)
            return;
        run_tile(pl, jb, 0, jb->m, n0, n1, buf);
    }
}

int ypr__gemm_run(const ypr_ktable *kt, ypr_pool *pool, const ypr_gemm_job *jobs,
                  int64_t njobs, float *scratch)
{
    if (njobs <= 0)
        return YPR_OK;
    int nthreads = ypr__pool_size(pool);
    gemm_plan pl = {kt, jobs, njobs, 0, 1, 1, 1, scratch};
    for (int64_t j = 0; j < njobs; j++) {
        int64_t nb = ceil_div(jobs[j].n, kt->nc);
        if (nb > pl.nblocks_max)
            pl.nblocks_max = nb;
    }
    int64_t tasks = njobs * pl.nblocks_max;
    if (nthreads > 1 && tasks < 16 * nthreads) {
        /* Few column blocks (13² … 40² outputs): blocks would not spread
         * evenly over the workers, so each task takes one worker's share of
         * a job: of its columns (split by vectors, so even within one
         * panel) with all its rows, packing only its own columns of B; or,
         * where the job has at least as many rows as columns, of its rows
         * (whole micro-panels) with all its columns. Split by columns,
         * every worker streams all of A, the weights, which a forward pass
         * reads from memory: in yolov7 @416 on two threads the 1×1 and
         * stride-2 convs with M ≥ N (13² maps, and 26² maps with 1024
         * output channels) ran in 0.67–0.93 of the time split by rows, each
         * worker reading half of A and packing all of B; with M < N the
         * columns won or tied (the packing doubled: 2–20 % more CPU time).
         * Sharing one packed B between cores cost more still (3×3 256→256
         * at 13²: +20 %). */
        pl.nsplit = nthreads;
    } else if (tasks > 32 * nthreads) {
        /* Many column blocks: each task takes a run of neighbouring blocks,
         * so a worker walks the output (and the input rows an im2col packer
         * reads, which it prefetches one block ahead) in order. About 16
         * tasks per worker keep the load balanced. */
        pl.nper = tasks / (16 * nthreads);
    }
    pl.nranges = ceil_div(pl.nblocks_max, pl.nper);
    float *own = NULL;
    if (!scratch) {
        own = ypr__alloc((size_t)(nthreads * ypr__gemm_scratch_floats(kt)) * sizeof(float));
        if (!own)
            return YPR_ENOMEM;
        pl.scratch = own;
    }
    ypr__pool_run(pool, njobs * (pl.nsplit ? pl.nsplit : pl.nranges), gemm_task, &pl);
    ypr__free(own);
    return YPR_OK;
}

int ypr__sgemm(const ypr_ktable *kt, ypr_pool *pool, int64_t m, int64_t n, int64_t k,
               const float *a, int64_t lda, const float *b, int64_t ldb,
               float *c, int64_t ldc, int accumulate)
{
    RETURN_IF(!kt || !a || !b || !c, YPR_EINVAL, "sgemm: NULL pointer");
    RETURN_IF(m <= 0 || n <= 0 || k <= 0, YPR_EINVAL,
              "sgemm: sizes must be positive (m=%lld n=%lld k=%lld)",
              (long long)m, (long long)n, (long long)k);
    RETURN_IF(lda < k || ldb < n || ldc < n, YPR_EINVAL, "sgemm: leading dimension too small");
    int64_t pa;
    RETURN_IF(ypr__mul_size(ceil_div(m, kt->mr) * kt->mr, k, &pa) < 0 ||
              pa > INT64_MAX / 4, YPR_ERANGE, "sgemm: size product overflows");
    float *packed = ypr__alloc((size_t)pa * sizeof(float));
    if (!packed)
        return YPR_ENOMEM;
    ypr__gemm_pack_a(kt, m, k, a, lda, packed);
    ypr_matrix_src ms = {b, ldb, n};
    ypr_gemm_job job = {m, n, k, packed, ypr__pack_b_matrix, &ms, c, ldc,
                        NULL, accumulate, NULL, 0, NULL, 0};
    int rc = ypr__gemm_run(kt, pool, &job, 1, NULL);
    ypr__free(packed);
    return rc;
}
