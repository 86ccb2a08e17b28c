/* The Winograd F(4×4, 3×3) input and output transforms (the ypr_ktable
 * entries wino4_in and wino4_out, see kernels.h), written once over a few
 * vector primitives. Included by the scalar file (one-lane "vectors": the
 * reference), the x86 files (through x86/x86_wino.h) and the NEON file;
 * every function is static in the including file, compiled with its flags.
 *
 * Lanes are tiles: lane l of a vector holds one value of tile t0 + l, so the
 * transformed values of VL tiles are stored as one contiguous vector of the
 * GEMM's B (and read back from its C) matrices. Tile t reads input columns
 * 4t … 4t + 5 and writes output columns 4t … 4t + 3: stride-4 accesses, done
 * by the two shuffling primitives. Every ISA runs the same operations in the
 * same order (additions, subtractions and multiplications by the constants
 * below; no fused multiply-add), so the transforms equal the scalar
 * reference bit for bit; only the epilogue's SiLU/sigmoid differ (vector exp).
 *
 * The including file defines, before #include:
 *   AI        static inline __attribute__((always_inline))
 *   WV_VL     floats per vector
 *   wv_f      its float vector type
 * and these AI functions:
 *   wv_f wv_load(const float *p)      void wv_store(float *p, wv_f v)
 *   wv_f wv_set1(float)   wv_f wv_add, wv_sub, wv_mul (wv_f, wv_f)   (IEEE, unfused)
 *   void wv_deint4(const float *p, wv_f q[4])   q[k] lane l = p[4l + k], reads p[0, 4·VL)
 *   void wv_int4(float *p, const wv_f q[4])     p[4l + k] = q[k] lane l, writes p[0, 4·VL)
 *   wv_f wv_ep(wv_f y, wv_f s, wv_f b, wv_f alpha, const int ACT)
 *        act(y·s + b), the multiply and the add rounded separately
 *   void wv_deint2(const float *p, wv_f q[2])   q[k] lane l = p[2l + k], reads p[0, 2·VL)
 *   void wv_int2(float *p, const wv_f q[2])     p[2l + k] = q[k] lane l, writes p[0, 2·VL)
 * and optionally (with #define WV_STORE_N)
 *   void wv_store_n(float *p, wv_f v, int n)   the first n ≤ VL lanes at p
 */

/* Bᵀ·d for one 6-point column: the F(4, 3) input matrix
 *   4  0 −5  0  1  0
 *   0 −4 −4  1  1  0
 *   0  4 −4 −1  1  0
 *   0 −2 −1  2  1  0
 *   0  2 −1 −2  1  0
 *   0  4  0 −5  0  1 */
AI void wino4_bt(const wv_f d[6], wv_f o[6])
{
    const wv_f c2 = wv_set1(2.0f), c4 = wv_set1(4.0f), c5 = wv_set1(5.0f);
    wv_f s12 = wv_add(d[1], d[2]), d12 = wv_sub(d[1], d[2]);
    wv_f d42 = wv_sub(d[4], d[2]), d31 = wv_sub(d[3], d[1]);
    o[0] = wv_add(wv_sub(wv_mul(c4, d[0]), wv_mul(c5, d[2])), d[4]);
    o[1] = wv_sub(wv_add(d[3], d[4]), wv_mul(c4, s12));
    o[2] = wv_add(wv_sub(d[4], d[3]), wv_mul(c4, d12));
    o[3] = wv_add(d42, wv_mul(c2, d31));
    o[4] = wv_sub(d42, wv_mul(c2, d31));
    o[5] = wv_add(wv_sub(wv_mul(c4, d[1]), wv_mul(c5, d[3])), d[5]);
}

/* Aᵀ·m for one 6-point column: the F(4, 3) output matrix
 *   1  1  1  1  1  0
 *   0  1 −1  2 −2  0
 *   0  1  1  4  4  0
 *   0  1 −1  8 −8  1 */
AI void wino4_at(const wv_f m[6], wv_f o[4])
{
    wv_f a = wv_add(m[1], m[2]), b = wv_sub(m[1], m[2]);
    wv_f c = wv_add(m[3], m[4]), d = wv_sub(m[3], m[4]);
    o[0] = wv_add(wv_add(m[0], a), c);
    o[1] = wv_add(b, wv_mul(wv_set1(2.0f), d));
    o[2] = wv_add(a, wv_mul(wv_set1(4.0f), c));
    o[3] = wv_add(wv_add(b, wv_mul(wv_set1(8.0f), d)), m[5]);
}

/* ---- F(2×2, 3×3): 4×4 input tiles at stride 2, 16 products per tile and
 * input channel instead of 36 (for small maps, where F(4×4)'s transformed
 * weights, 4× the weights, cost more to stream than its multiplications
 * save). Tile t reads input columns 2t … 2t + 3, writes output 2t, 2t + 1.
 * Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], Aᵀ = [1 1 1 0; 0 1 −1 −1]:
 * additions only, so every set equals the reference bit for bit. */
AI void wino2_bt(const wv_f d[4], wv_f o[4])
{
    o[0] = wv_sub(d[0], d[2]);
    o[1] = wv_add(d[1], d[2]);
    o[2] = wv_sub(d[2], d[1]);
    o[3] = wv_sub(d[1], d[3]);
}

AI void wino2_at(const wv_f m[4], wv_f o[2])
{
    o[0] = wv_add(wv_add(m[0], m[1]), m[2]);
    o[1] = wv_sub(wv_sub(m[1], m[2]), m[3]);
}

/* Store the first n lanes of v at p (n ≤ VL). An including file with masked
 * stores defines WV_STORE_N and its own wv_store_n (a copy through the stack
 * became a memcpy call per vector: 1.3 % of yolov7-tiny @416). */
#ifndef WV_STORE_N
AI void wv_store_n(float *p, wv_f v, int n)
{
    if (n >= WV_VL) {
        wv_store(p, v);
        return;
    }
    float t[WV_VL];
    wv_store(t, v);
    for (int l = 0; l < n; l++)
        p[l] = t[l];
}
#endif

/* q[0 … hi − lo) = lanes lo … hi − 1 of v (0 ≤ lo < hi ≤ VL). An including
 * file with masked stores defines WV_STORE_LANES and its own. */
#ifndef WV_STORE_LANES
AI void wv_store_lanes(float *q, wv_f v, int lo, int hi)
{
    float t[WV_VL];
    wv_store(t, v);
    for (int l = lo; l < hi; l++)
        q[l - lo] = t[l];
}
#endif

/* The input transform of F(T×T, 3×3), T = 4 or 2 (a compile-time constant):
 * d holds T + 2 input rows at stride ldd (tile t reads columns T·t … T·t +
 * T + 1), overwritten; writes v[k·ldv + t] for k < (T + 2)², t < nt. Pass 1
 * combines the rows (Bᵀ down each column) in place over whole vectors of
 * columns; pass 2 combines the T + 2 columns of each tile (deinterleaved into
 * lanes). */
AI void wino_in_loop(float *d, int64_t ldd, int nt, float *v, int64_t ldv, const int T)
{
    const int W = T + 2;
    const int64_t groups = (nt + WV_VL - 1) / WV_VL;
    const int64_t width = T * WV_VL * groups + T;
    for (int64_t x = 0; x < width; x += WV_VL) {
        wv_f r[6], o[6];
        for (int i = 0; i < W; i++)
            r[i] = wv_load(d + i * ldd + x);
        if (T == 4)
            wino4_bt(r, o);
        else
            wino2_bt(r, o);
        for (int i = 0; i < W; i++)
            wv_store(d + i * ldd + x, o[i]);
    }
    for (int64_t g = 0; g < groups; g++) {
        const int64_t t0 = g * WV_VL;
        const int n = nt - t0 < WV_VL ? (int)(nt - t0) : WV_VL;
        for (int i = 0; i < W; i++) {
            const float *row = d + i * ldd + T * t0;
            wv_f c[6], o[6];
            if (T == 4) {
                wv_f hi[4];
                wv_deint4(row, c);
                wv_deint4(row + 4, hi);
                c[4] = hi[0];
                c[5] = hi[1];
                wino4_bt(c, o);
            } else {
                wv_deint2(row, c);
                wv_deint2(row + 2, c + 2);
                wino2_bt(c, o);
            }
            for (int j = 0; j < W; j++)
                wv_store_n(v + (i * W + j) * ldv + t0, o[j], n);
        }
    }
}

static void wino4_in_vec(float *d, int64_t ldd, int nt, float *v, int64_t ldv)
{
    wino_in_loop(d, ldd, nt, v, ldv, 4);
}

/* wino4_out for one activation (ACT a compile-time constant): pass 1 takes
 * Aᵀ down the columns of each tile's 6×6 products, pass 2 along the rows;
 * then the epilogue and the interleave into output columns. */
AI void wino4_out_loop(const float *m, int64_t ldm, int nt, float *y, int64_t ldy, int rows,
                       int64_t cols, float scale, float bias, float alpha, const int ACT)
{
    const wv_f s = wv_set1(scale), b = wv_set1(bias), al = wv_set1(alpha);
    for (int64_t t0 = 0; t0 < nt; t0 += WV_VL) {
        wv_f col[4][6];
        for (int j = 0; j < 6; j++) {
            wv_f c[6], o[4];
            for (int i = 0; i < 6; i++)
                c[i] = wv_load(m + (i * 6 + j) * ldm + t0);
            wino4_at(c, o);
            for (int r = 0; r < 4; r++)
                col[r][j] = o[r];
        }
        const int64_t left = cols - 4 * t0;   /* output columns from 4·t0 on */
        for (int r = 0; r < rows; r++) {
            wv_f o[4];
            wino4_at(col[r], o);
            for (int c = 0; c < 4; c++)
                o[c] = wv_ep(o[c], s, b, al, ACT);
            float *yr = y + r * ldy + 4 * t0;
            if (left >= 4 * WV_VL) {
                wv_int4(yr, o);
            } else {
                float t[4 * WV_VL];
                wv_int4(t, o);
                for (int64_t k = 0; k < left; k++)
                    yr[k] = t[k];
            }
        }
    }
}

/* The stores of one group of VL virtual tiles, found once per group: the
 * lanes lo … hi − 1 of interleaved vector k go to y + r·ldy + lo for rows
 * r < rows. A group meets at most VL / 2 + 1 segments (each has a tile and
 * a thrown-away tile after it), and the vector boundaries cut them at most
 * `per − 1` more times. */
typedef struct wv_st {
    float *y;
    int k, lo, hi, rows;
} wv_st;

AI int wv_group_stores(const ypr_wino_seg *seg, int s0, int nseg, int t0, const int T,
                       wv_st *st, int *rows)
{
    int n = 0;
    *rows = 0;
    for (int si = s0; si < nseg && seg[si].vt < t0 + WV_VL; si++) {
        const ypr_wino_seg *g = &seg[si];
        *rows = g->rows > *rows ? g->rows : *rows;
        /* the group's floats [fa, fb) belong to this segment; float f goes to
         * column T·t0 + f − T·vt of the segment's rows */
        const int fa = T * (g->vt > t0 ? g->vt : t0) - T * t0;
        const int end = T * g->vt + g->cols - T * t0;
        const int fb = end < T * WV_VL ? end : T * WV_VL;
        float *yr = g->y + T * t0 - T * g->vt;
        for (int k = fa / WV_VL; k * WV_VL < fb; k++) {
            const int lo = (fa > k * WV_VL ? fa : k * WV_VL) - k * WV_VL;
            const int hi = (fb < (k + 1) * WV_VL ? fb : (k + 1) * WV_VL) - k * WV_VL;
            st[n++] = (wv_st){yr + k * WV_VL + lo, k, lo, hi, g->rows};
        }
    }
    return n;
}

/* wino4_out_segs (T = 4) and wino2_out_segs (T = 2) for one activation:
 * the same values as wino4_out_loop; each group of VL virtual tiles is
 * interleaved once per output row, then every segment that overlaps the
 * group stores its lanes to its own row. */
AI void wino_out_segs_loop(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                           int nseg, int64_t ldy, float scale, float bias, float alpha,
                           const int ACT, const int T)
{
    const int W = T + 2;
    const wv_f s = wv_set1(scale), b = wv_set1(bias), al = wv_set1(alpha);
    int s0 = 0;   /* the first segment that reaches the current group */
    for (int t0 = 0; t0 < nvt; t0 += WV_VL) {
        while (s0 < nseg && seg[s0].vt + seg[s0].nt <= t0)
            s0++;
        wv_st st[WV_VL / 2 + 1 + 4];
        int rows;
        const int nst = wv_group_stores(seg, s0, nseg, t0, T, st, &rows);
        wv_f col[4][6];
        for (int j = 0; j < W; j++) {
            wv_f c[6], o[4];
            for (int i = 0; i < W; i++)
                c[i] = wv_load(m + (i * W + j) * ldm + t0);
            if (T == 4)
                wino4_at(c, o);
            else
                wino2_at(c, o);
            for (int r = 0; r < T; r++)
                col[r][j] = o[r];
        }
        for (int r = 0; r < rows; r++) {
            wv_f o[4];
            float buf[4 * WV_VL];
            if (T == 4)
                wino4_at(col[r], o);
            else
                wino2_at(col[r], o);
            for (int c = 0; c < T; c++)
                o[c] = wv_ep(o[c], s, b, al, ACT);
            if (T == 4)
                wv_int4(buf, o);
            else
                wv_int2(buf, o);
            for (int e = 0; e < nst; e++)
                if (r < st[e].rows)
                    wv_store_lanes(st[e].y + r * ldy, wv_load(buf + st[e].k * WV_VL), st[e].lo,
                                   st[e].hi);
        }
    }
}

static void wino4_out_segs_vec(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                               int nseg, int64_t ldy, float scale, float bias, int act,
                               float alpha)
{
    YPR_ACT_SPECIALIZE(act, wino_out_segs_loop(m, ldm, nvt, seg, nseg, ldy, scale, bias, alpha,
                                               ACT_, 4));
}

static void wino4_out_vec(const float *m, int64_t ldm, int nt, float *y, int64_t ldy, int rows,
                          int64_t cols, float scale, float bias, int act, float alpha)
{
    YPR_ACT_SPECIALIZE(act, wino4_out_loop(m, ldm, nt, y, ldy, rows, cols, scale, bias, alpha,
                                           ACT_));
}

/* wino2_in: wino_in_loop with T = 2 (4 input rows, read up to column
 * ypr__wino2_row_floats(VL, nt); 16 values per tile). */
static void wino2_in_vec(float *d, int64_t ldd, int nt, float *v, int64_t ldv)
{
    wino_in_loop(d, ldd, nt, v, ldv, 2);
}

/* wino2_out_segs: as wino4_out_segs with 2×2 output tiles (rows ≤ 2,
 * cols ≤ 2·nt per segment; m[k·ldm + t] for k < 16, readable up to the next
 * whole vector past nvt). */
static void wino2_out_segs_vec(const float *m, int64_t ldm, int nvt, const ypr_wino_seg *seg,
                               int nseg, int64_t ldy, float scale, float bias, int act,
                               float alpha)
{
    YPR_ACT_SPECIALIZE(act, wino_out_segs_loop(m, ldm, nvt, seg, nseg, ldy, scale, bias, alpha,
                                               ACT_, 2));
}
