/* A fused SimpleRNN recurrence for small hidden sizes, and LSTM / GRU forward passes for
 * inference and LSTM / GRU training (below), for rnnlab.models.fused.
 *
 * Forward:  h[b,t] = act(xw[b,t] + h[b,t-1] @ w_hh^T), h[b,-1] = 0
 * Backward: from dh_all (the gradient of every h[b,t]) the gradients of xw and w_hh. Shapes: xw,
 * h, dh_all, dxw: (B, T, H) contiguous float32; w_hh: (H, H) row-major (torch's weight_hh_l0:
 * out x in). act: 0 = tanh, 1 = relu. Or, with ids (B, T) int64: xw is a vocabulary's input
 * projections (V, H), step t of row b reads xw[ids[b,t]] + bias, and the backward pass sums the
 * gradients per id into dxw (V, H) and over all into the bias's. Plain C, one call per batch:
 * torch would dispatch a few tiny kernels per time step instead. The common unit counts get
 * their own copy of the loops with H a constant (unrolled by the compiler).
 *
 * tanh is a rational approximation, the one XLA (so Keras 3 + JAX) and Eigen use for float32
 * (odd degree-13 / even degree-6 polynomials on x clamped to +-7.9053; the coefficients are
 * Eigen's generic_fast_tanh_float). Plain arithmetic, so the compiler vectorizes the loop over
 * the units, where glibc's tanhf is one scalar call per value (profiled: most of the forward
 * pass). Measured against tanh in float64 on [-20, 20] in steps of 1e-5: max abs error 4.0e-7
 * (tanhf: 1.0e-7); saturates to +-1; NaN stays NaN.
 */

#include <stdlib.h>

#define INLINE static inline __attribute__((always_inline))

/* fast_tanh's constants (Eigen's generic_fast_tanh_float), shared with vact_n's vector version */
#define TANH_LIM 7.90531110763549805f
#define TANH_P0 (-2.76076847742355e-16f)
#define TANH_P1 (2.00018790482477e-13f)
#define TANH_P2 (-8.60467152213735e-11f)
#define TANH_P3 (5.12229709037114e-08f)
#define TANH_P4 (1.48572235717979e-05f)
#define TANH_P5 (6.37261928875436e-04f)
#define TANH_P6 (4.89352455891786e-03f)
#define TANH_Q0 (1.19825839466702e-06f)
#define TANH_Q1 (1.18534705686654e-04f)
#define TANH_Q2 (2.26843463243900e-03f)
#define TANH_Q3 (4.89352518554385e-03f)

INLINE float fast_tanh(float x) {
    const float lim = TANH_LIM;
    const float c = x < -lim ? -lim : (x > lim ? lim : x);
    const float x2 = c * c;
    float p = TANH_P0;
    p = p * x2 + TANH_P1;
    p = p * x2 + TANH_P2;
    p = p * x2 + TANH_P3;
    p = p * x2 + TANH_P4;
    p = p * x2 + TANH_P5;
    p = p * x2 + TANH_P6;
    float q = TANH_Q0;
    q = q * x2 + TANH_Q1;
    q = q * x2 + TANH_Q2;
    q = q * x2 + TANH_Q3;
    return p * c / q;
}

/* Rows run RB at a time, step by step: the block's state is held as one vector of RB rows per
 * unit (GCC / Clang vector extensions: AVX registers where the CPU has them, else pairs of SSE
 * ones), so every multiply-add and activation works on RB rows at once. One row alone is a chain
 * of dependent steps, each too short to fill the CPU; RB independent rows side by side hide each
 * other's latency. Each value is summed in the same order as row by row: z = xw, then
 * + w[i][j] * h[j] for j = 0, 1, ... */
#define RB 8
#define MAX_SH 32 /* rnnlab.models.fused.MAX_UNITS */
typedef float vf __attribute__((vector_size(RB * sizeof(float))));
typedef int vi __attribute__((vector_size(RB * sizeof(int))));

/* m ? a : b per lane (m from a vector compare: all ones or all zeros); C has no vector ?: */
INLINE vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }

/* a[0:n] = act(a[0:n]) (0: tanh, as vtanh; 1: relu), each step of the polynomials over all n
 * vectors before the next, so that n independent chains overlap */
INLINE void vact_n(vf *a, const long n, int act) {
    const vf zero = {0.f};
    if (act != 0) {
        for (long i = 0; i < n; i++) a[i] = vsel(a[i] > zero, a[i], zero);
        return;
    }
    const vf lim = zero + TANH_LIM;
    vf c[MAX_SH], x2[MAX_SH], p[MAX_SH], q[MAX_SH];
    for (long i = 0; i < n; i++) {
        c[i] = vsel(a[i] < -lim, -lim, vsel(a[i] > lim, lim, a[i]));
        x2[i] = c[i] * c[i];
        p[i] = x2[i] * TANH_P0 + TANH_P1;
        q[i] = x2[i] * TANH_Q0 + TANH_Q1;
    }
    for (long i = 0; i < n; i++) {
        p[i] = p[i] * x2[i] + TANH_P2;
        q[i] = q[i] * x2[i] + TANH_Q2;
    }
    for (long i = 0; i < n; i++) {
        p[i] = p[i] * x2[i] + TANH_P3;
        q[i] = q[i] * x2[i] + TANH_Q3;
    }
    for (long i = 0; i < n; i++) p[i] = p[i] * x2[i] + TANH_P4;
    for (long i = 0; i < n; i++) p[i] = p[i] * x2[i] + TANH_P5;
    for (long i = 0; i < n; i++) p[i] = p[i] * x2[i] + TANH_P6;
    for (long i = 0; i < n; i++) a[i] = p[i] * c[i] / q[i];
}

/* buf[k][r] = src's row b0 + r, element k (k < n: a row's T x H values), for r < nr; 0 beyond.
 * Done for a whole block before its steps run: vectors are then read from memory written long
 * before, not from lanes stored one by one just before (a store-forwarding stall each step). */
INLINE void gather(vf *buf, const float *src, long b0, long nr, long n) {
    if (nr < RB)
        for (long k = 0; k < n; k++) buf[k] = (vf){0.f};
    for (long r = 0; r < nr; r++) {
        const float *s = src + (b0 + r) * n;
        for (long k = 0; k < n; k++) buf[k][r] = s[k];
    }
}

INLINE void scatter(float *dst, const vf *buf, long b0, long nr, long n) {
    for (long r = 0; r < nr; r++) {
        float *d = dst + (b0 + r) * n;
        for (long k = 0; k < n; k++) d[k] = buf[k][r];
    }
}

/* buf[t*H + i][r] = xw[ids[b0 + r, t], i] + bias[i] (xw: V rows of H, a vocabulary's
 * projections) for r < nr, 0 beyond; -2 when an id is outside [0, V) */
INLINE int gather_ids(vf *buf, const float *xw, const long *ids, const float *bias, long V, long b0, long nr,
                      long T, const long H) {
    if (nr < RB)
        for (long k = 0; k < T * H; k++) buf[k] = (vf){0.f};
    for (long r = 0; r < nr; r++) {
        const long *row = ids + (b0 + r) * T;
        for (long t = 0; t < T; t++) {
            const long id = row[t];
            if (id < 0 || id >= V) return -2;
            const float *x = xw + id * H;
            for (long i = 0; i < H; i++) buf[t * H + i][r] = x[i] + bias[i];
        }
    }
    return 0;
}

/* The forward pass. ids == NULL: xw holds every step's input projection (B, T, H); else xw is a
 * vocabulary's projections (V, H) and step t of row b reads xw[ids[b, t]] + bias (an embedding
 * lookup and its projection in one). 0 on success, -1 when out of memory, -2 for an id outside
 * [0, V). */
INLINE int forward_impl(const float *xw, const long *ids, const float *bias, long V, const float *w, float *h,
                        long B, long T, const long H, int act) {
    vf *X = aligned_alloc(sizeof(vf), T * H * sizeof(vf));
    if (!X) return -1;
    for (long b0 = 0; b0 < B; b0 += RB) {
        const long nr = B - b0 < RB ? B - b0 : RB;
        vf hp[MAX_SH];
        if (!ids)
            gather(X, xw, b0, nr, T * H);
        else if (gather_ids(X, xw, ids, bias, V, b0, nr, T, H)) {
            free(X);
            return -2;
        }
        for (long t = 0; t < T; t++) {
            vf *x = X + t * H; /* this step's inputs, overwritten by its outputs */
            vf a[MAX_SH];
            for (long i = 0; i < H; i++) a[i] = x[i];
            if (t > 0) /* j outer, i inner: H independent sums advance side by side */
                for (long j = 0; j < H; j++) {
                    const vf hj = hp[j];
                    for (long i = 0; i < H; i++) a[i] += w[i * H + j] * hj;
                }
            vact_n(a, H, act);
            for (long i = 0; i < H; i++) hp[i] = x[i] = a[i];
        }
        scatter(h, X, b0, nr, T * H);
    }
    free(X);
    return 0;
}

/* The gradient of every step's pre-activation (dxw) and of w_hh (dw, H x H: the sum over rows
 * and steps t >= 1 of dxw[b,t] (outer) h[b,t-1]), RB rows at a time as in the forward pass;
 * carry[j] is the gradient flowing back into h[., t-1]. dw is summed per row lane, then over the
 * lanes. Rows past B have zero gradients. 0 on success, -1 when out of memory. */
INLINE int backward_impl(const float *h, const float *w, const float *dh_all, float *dxw, const long *ids,
                         float *db, float *dw, long B, long T, const long H, int act) {
    const vf zero = {0.f}, one = zero + 1.f;
    vf *Hb = aligned_alloc(sizeof(vf), T * H * sizeof(vf));
    vf *G = aligned_alloc(sizeof(vf), T * H * sizeof(vf));
    vf *acc = aligned_alloc(sizeof(vf), H * H * sizeof(vf));
    if (!Hb || !G || !acc) {
        free(Hb), free(G), free(acc);
        return -1;
    }
    vf bsum[MAX_SH];
    for (long k = 0; k < H * H; k++) acc[k] = zero;
    for (long i = 0; i < H; i++) bsum[i] = zero;
    for (long b0 = 0; b0 < B; b0 += RB) {
        const long nr = B - b0 < RB ? B - b0 : RB;
        vf carry[MAX_SH], da[MAX_SH];
        gather(Hb, h, b0, nr, T * H);
        gather(G, dh_all, b0, nr, T * H);
        for (long i = 0; i < H; i++) carry[i] = zero;
        for (long t = T - 1; t >= 0; t--) {
            const vf *ht = Hb + t * H;
            vf *g = G + t * H; /* this step's output gradients, overwritten by dxw */
            for (long i = 0; i < H; i++) {
                const vf d = carry[i] + g[i];
                da[i] = act == 0 ? d * (one - ht[i] * ht[i]) : vsel(ht[i] > zero, d, zero);
                g[i] = da[i];
            }
            if (t == 0) break;
            const vf *hq = ht - H;
            for (long j = 0; j < H; j++) carry[j] = zero;
            for (long i = 0; i < H; i++) {
                const vf d = da[i];
                for (long j = 0; j < H; j++) {
                    carry[j] += d * w[i * H + j];
                    acc[i * H + j] += d * hq[j];
                }
            }
        }
        if (!ids)
            scatter(dxw, G, b0, nr, T * H);
        else /* dxw (V, H) += each step's gradient at its id, in the order of torch's index_add_ */
            for (long r = 0; r < nr; r++) {
                const long *row = ids + (b0 + r) * T;
                for (long t = 0; t < T; t++) {
                    float *d = dxw + row[t] * H;
                    for (long i = 0; i < H; i++) d[i] += G[t * H + i][r];
                }
            }
        if (db)
            for (long t = 0; t < T; t++)
                for (long i = 0; i < H; i++) bsum[i] += G[t * H + i];
    }
    if (db)
        for (long i = 0; i < H; i++) {
            float v = 0.f;
            for (long r = 0; r < RB; r++) v += bsum[i][r];
            db[i] = v;
        }
    for (long k = 0; k < H * H; k++) {
        float s = 0.f;
        for (long r = 0; r < RB; r++) s += acc[k][r];
        dw[k] = s;
    }
    free(Hb), free(G), free(acc);
    return 0;
}

#define DISPATCH(CALL)                                                                           \
    switch (H) {                                                                                 \
    case 4: { const long HH = 4; CALL; } break;                                                  \
    case 8: { const long HH = 8; CALL; } break;                                                  \
    case 16: { const long HH = 16; CALL; } break;                                                \
    case 32: { const long HH = 32; CALL; } break;                                                \
    default: { const long HH = H; CALL; }                                                        \
    }

int rnn_forward(const float *xw, const long *ids, const float *bias, long V, const float *w, float *h,
                long B, long T, long H, int act) {
    int rc = 0;
    DISPATCH(rc = forward_impl(xw, ids, bias, V, w, h, B, T, HH, act))
    return rc;
}

/* ids == NULL: dxw (B, T, H) gets every step's gradient; else dxw (V, H), zeroed by the caller,
 * gets them summed per id. db (H) != NULL gets their sum over rows and steps. */
int rnn_backward(const float *h, const float *w, const float *dh_all, float *dxw, const long *ids, float *db,
                 float *dw, long B, long T, long H, int act) {
    int rc = 0;
    DISPATCH(rc = backward_impl(h, w, dh_all, dxw, ids, db, dw, B, T, HH, act))
    return rc;
}

/* LSTM and GRU forward passes for inference, one call per direction (rnnlab.models.fused).
 *
 * torch runs a step of an LSTM or GRU as a handful of kernels (a matrix product of batch x units
 * by units x gates, adds, sigmoids, tanhs); for the small batches a server scores and the small
 * hidden sizes of text classifiers each costs more to dispatch than to compute, every step. Here
 * every row runs through all its steps in one loop: the recurrent product as `units` axpys of
 * length `gates` into the gate vector (the compiler vectorizes them, no reduction), then the
 * activations, in float32.
 *
 * Shapes (all contiguous float32): xw (B, T, G), every step's input projection, biases added
 * (LSTM: b_ih + b_hh; GRU: b_ih only, since b_hh of the candidate gate is multiplied by r);
 * wt (H, G), the recurrent weight transposed (torch's weight_hh_l0 is G x H); bh (G), GRU's b_hh;
 * out: step t of row b written at out + (b*T + t)*stride (NULL: not written); last (B, H): the
 * state after the last step processed. reverse != 0 runs from t = T-1 down to 0 (the backward
 * direction of a bidirectional layer). G = 4H for the LSTM (torch's gate order i, f, g, o) and 3H
 * for the GRU (r, z, n; Keras's reset_after=True, which is torch's GRU).
 *
 * sigmoid(x) = 0.5 + 0.5 tanh(x / 2), with fast_tanh above (max abs error 4e-7), so every
 * activation is plain arithmetic the compiler vectorizes.
 */

INLINE float fast_sigmoid(float x) { return 0.5f + 0.5f * fast_tanh(0.5f * x); }

#define MAX_H 128
#define MAX_INPUTS 16 /* rnnlab.models.fused.MAX_INLINE_INPUTS */

/* unaligned loads and stores of RB floats */
typedef float vfu __attribute__((vector_size(RB * sizeof(float)), aligned(4), may_alias));
#define LD(p) (*(const vfu *)(p))
#define ST(p, v) (*(vfu *)(p) = (v))
#define BCAST(x) ((vf){x, x, x, x, x, x, x, x})

/* acc[0:G] += h[0:H] @ wt (wt: H rows of G), as axpys over the rows, each value summed in the
 * same order, row 0 first. A weight that fits in L1 (up to 32 units: LSTM 32 x 128, GRU 32 x 96)
 * is read in column blocks of 8 (then 4, then 1) vectors of acc held in registers through all H
 * rows: the loop the compiler made of the plain axpys loaded and stored acc at every row. A
 * larger one is streamed row by row (bench/fused_gated.py: register blocks were slower there). */
INLINE void add_hw(float *acc, const float *h, const float *wt, const long H, const long G) {
    long k0 = 0;
    if (H * G <= 4096) {
        for (; k0 + 8 * RB <= G; k0 += 8 * RB) {
            float *o = acc + k0;
            vf a0 = LD(o), a1 = LD(o + RB), a2 = LD(o + 2 * RB), a3 = LD(o + 3 * RB);
            vf a4 = LD(o + 4 * RB), a5 = LD(o + 5 * RB), a6 = LD(o + 6 * RB), a7 = LD(o + 7 * RB);
            for (long j = 0; j < H; j++) {
                const float hs = h[j];
                const vf hj = BCAST(hs);
                const float *w = wt + j * G + k0;
                a0 += hj * LD(w), a1 += hj * LD(w + RB), a2 += hj * LD(w + 2 * RB), a3 += hj * LD(w + 3 * RB);
                a4 += hj * LD(w + 4 * RB), a5 += hj * LD(w + 5 * RB), a6 += hj * LD(w + 6 * RB);
                a7 += hj * LD(w + 7 * RB);
            }
            ST(o, a0), ST(o + RB, a1), ST(o + 2 * RB, a2), ST(o + 3 * RB, a3);
            ST(o + 4 * RB, a4), ST(o + 5 * RB, a5), ST(o + 6 * RB, a6), ST(o + 7 * RB, a7);
        }
        for (; k0 + 4 * RB <= G; k0 += 4 * RB) {
            float *o = acc + k0;
            vf a0 = LD(o), a1 = LD(o + RB), a2 = LD(o + 2 * RB), a3 = LD(o + 3 * RB);
            for (long j = 0; j < H; j++) {
                const float hs = h[j];
                const vf hj = BCAST(hs);
                const float *w = wt + j * G + k0;
                a0 += hj * LD(w), a1 += hj * LD(w + RB), a2 += hj * LD(w + 2 * RB), a3 += hj * LD(w + 3 * RB);
            }
            ST(o, a0), ST(o + RB, a1), ST(o + 2 * RB, a2), ST(o + 3 * RB, a3);
        }
        for (; k0 + RB <= G; k0 += RB) {
            vf a = LD(acc + k0);
            for (long j = 0; j < H; j++) {
                const float hs = h[j];
                a += BCAST(hs) * LD(wt + j * G + k0);
            }
            ST(acc + k0, a);
        }
    }
    if (k0 < G)
        for (long j = 0; j < H; j++) {
            const float hj = h[j];
            const float *w = wt + j * G;
            for (long k = k0; k < G; k++) acc[k] += hj * w[k];
        }
}

/* out[0:H] = sum over k < G of d[k] * w[k][0:H] (w: G rows of H), in two partial sums (even and
 * odd k) added at the end, an odd G's last row into the even one; 4 vectors of out at a time in
 * registers */
INLINE void sum_dw(float *out, const float *d, const float *w, const long H, const long G) {
    const long G2 = G & ~1L; /* the pairs */
    long j0 = 0;
    for (; j0 + 4 * RB <= H; j0 += 4 * RB) {
        vf a0 = {0.f}, a1 = {0.f}, a2 = {0.f}, a3 = {0.f}, b0 = {0.f}, b1 = {0.f}, b2 = {0.f}, b3 = {0.f};
        for (long k = 0; k < G2; k += 2) {
            const float e = d[k], f = d[k + 1];
            const vf de = BCAST(e), df = BCAST(f);
            const float *u = w + k * H + j0, *v = u + H;
            a0 += de * LD(u), a1 += de * LD(u + RB), a2 += de * LD(u + 2 * RB), a3 += de * LD(u + 3 * RB);
            b0 += df * LD(v), b1 += df * LD(v + RB), b2 += df * LD(v + 2 * RB), b3 += df * LD(v + 3 * RB);
        }
        if (G2 < G) {
            const float e = d[G2];
            const vf de = BCAST(e);
            const float *u = w + G2 * H + j0;
            a0 += de * LD(u), a1 += de * LD(u + RB), a2 += de * LD(u + 2 * RB), a3 += de * LD(u + 3 * RB);
        }
        ST(out + j0, a0 + b0), ST(out + j0 + RB, a1 + b1), ST(out + j0 + 2 * RB, a2 + b2);
        ST(out + j0 + 3 * RB, a3 + b3);
    }
    for (; j0 + RB <= H; j0 += RB) {
        vf a = {0.f}, b = {0.f};
        for (long k = 0; k < G2; k += 2) {
            const float e = d[k], f = d[k + 1];
            a += BCAST(e) * LD(w + k * H + j0), b += BCAST(f) * LD(w + (k + 1) * H + j0);
        }
        if (G2 < G) {
            const float e = d[G2];
            a += BCAST(e) * LD(w + G2 * H + j0);
        }
        ST(out + j0, a + b);
    }
    for (long j = j0; j < H; j++) {
        float a = 0.f, b = 0.f;
        for (long k = 0; k < G2; k += 2) a += d[k] * w[k * H + j], b += d[k + 1] * w[(k + 1) * H + j];
        if (G2 < G) a += d[G2] * w[G2 * H + j];
        out[j] = a + b;
    }
}

/* g[0:G] = the input projection of step t of row b: xw's row, or (x given: xw == NULL) its bias
 * plus x[b,t] @ wit, computed here (wit: I rows of G, the input weight transposed) */
INLINE void project(float *g, const float *xw, const float *x, const float *wit, const float *bias, long I, long b,
                    long T, long t, const long G) {
    if (xw) {
        const float *row = xw + (b * T + t) * G;
        for (long k = 0; k < G; k++) g[k] = row[k];
    } else {
        for (long k = 0; k < G; k++) g[k] = bias[k];
        add_hw(g, x + (b * T + t) * I, wit, I, G);
    }
}

INLINE void lstm_impl(const float *xw, const float *x, const float *wit, const float *bias, long I,
                      const float *wt, float *out, long stride, float *last, const long *span, long B, long T,
                      const long H, int reverse) {
    const long G = 4 * H;
    float g[4 * MAX_H], h[MAX_H], c[MAX_H];
    for (long b = 0; b < B; b++) {
        const long t0 = span ? span[2 * b] : 0, n = span ? span[2 * b + 1] : T;
        for (long i = 0; i < H; i++) h[i] = c[i] = 0.f;
        for (long s = 0; s < n; s++) {
            const long t = t0 + (reverse ? n - 1 - s : s);
            project(g, xw, x, wit, bias, I, b, T, t, G);
            if (s > 0) add_hw(g, h, wt, H, G);
            for (long i = 0; i < H; i++) {
                const float ig = fast_sigmoid(g[i]), fg = fast_sigmoid(g[H + i]);
                const float cg = fast_tanh(g[2 * H + i]), og = fast_sigmoid(g[3 * H + i]);
                c[i] = fg * c[i] + ig * cg;
                h[i] = og * fast_tanh(c[i]);
            }
            if (out)
                for (long i = 0; i < H; i++) out[(b * T + t) * stride + i] = h[i];
        }
        for (long i = 0; i < H; i++) last[b * H + i] = h[i];
    }
}

INLINE void gru_impl(const float *xw, const float *x, const float *wit, const float *bias, long I,
                     const float *wt, const float *bh, float *out, long stride, float *last, const long *span,
                     long B, long T, const long H, int reverse) {
    const long G = 3 * H;
    float hw[3 * MAX_H], xg[3 * MAX_H], h[MAX_H];
    for (long b = 0; b < B; b++) {
        const long t0 = span ? span[2 * b] : 0, n = span ? span[2 * b + 1] : T;
        for (long i = 0; i < H; i++) h[i] = 0.f;
        for (long s = 0; s < n; s++) {
            const long t = t0 + (reverse ? n - 1 - s : s);
            project(xg, xw, x, wit, bias, I, b, T, t, G);
            for (long k = 0; k < G; k++) hw[k] = bh[k];
            if (s > 0) add_hw(hw, h, wt, H, G);
            for (long i = 0; i < H; i++) {
                const float r = fast_sigmoid(xg[i] + hw[i]);
                const float z = fast_sigmoid(xg[H + i] + hw[H + i]);
                const float n = fast_tanh(xg[2 * H + i] + r * hw[2 * H + i]);
                h[i] = (1.f - z) * n + z * h[i];
            }
            if (out)
                for (long i = 0; i < H; i++) out[(b * T + t) * stride + i] = h[i];
        }
        for (long i = 0; i < H; i++) last[b * H + i] = h[i];
    }
}

/* LSTM training, forward direction, one layer (rnnlab.models.fused.lstm_train): the forward pass
 * of lstm_impl that also keeps what the backward pass needs: every step's gate activations
 * (acts: B, T, 4H; i, f, g, o after their sigmoid / tanh), cell state (cs: B, T, H) and output
 * (hs: B, T, H). xw: every step's input projection, biases added (B, T, 4H), or NULL: x (B, T,
 * I), wit (I, 4H) and bias (4H) give it step by step, as in lstm_impl. */
INLINE void lstm_train_fwd_impl(const float *xw, const float *x, const float *wit, const float *bias, long I,
                                const float *wt, float *hs, float *acts, float *cs, long B, long T, const long H) {
    const long G = 4 * H;
    float g[4 * MAX_H], c[MAX_H];
    for (long b = 0; b < B; b++) {
        const float *h = 0;
        for (long i = 0; i < H; i++) c[i] = 0.f;
        for (long t = 0; t < T; t++) {
            const long at = b * T + t;
            project(g, xw, x, wit, bias, I, b, T, t, G);
            if (h) add_hw(g, h, wt, H, G);
            float *a = acts + at * G, *ho = hs + at * H, *co = cs + at * H;
            for (long i = 0; i < H; i++) {
                const float ig = fast_sigmoid(g[i]), fg = fast_sigmoid(g[H + i]);
                const float cg = fast_tanh(g[2 * H + i]), og = fast_sigmoid(g[3 * H + i]);
                c[i] = fg * c[i] + ig * cg;
                a[i] = ig, a[H + i] = fg, a[2 * H + i] = cg, a[3 * H + i] = og;
                co[i] = c[i];
                ho[i] = og * fast_tanh(c[i]);
            }
            h = ho;
        }
    }
}

/* The backward pass through time of lstm_train_fwd_impl: from dhs (the gradient of every
 * output, B, T, H) the gradient of every step's gate pre-activations (dg: B, T, 4H), which is
 * also xw's; torch takes the weights' from it (rnnlab.models.fused). w: W_hh as torch holds it
 * (4H rows of H). The gradient into h[t-1] sums the 4H gate rows of w in two interleaved
 * partial sums (sum_dw; the order differs from torch's; within 1e-5). */
INLINE void lstm_train_bwd_impl(const float *acts, const float *cs, const float *w, const float *dhs, float *dg,
                                const float *x, const float *wit, long I, float *dx, float *dwit, float *db,
                                long B, long T, const long H) {
    const long G = 4 * H;
    float dh[MAX_H], dc[MAX_H];
    float rw[MAX_INPUTS * 4 * MAX_H], rb[4 * MAX_H]; /* one row's sums of dwit and db */
    if (x) {
        for (long k = 0; k < I * G; k++) dwit[k] = 0.f;
        for (long k = 0; k < G; k++) db[k] = 0.f;
    }
    for (long b = 0; b < B; b++) {
        for (long i = 0; i < H; i++) dh[i] = dc[i] = 0.f;
        if (x) {
            for (long k = 0; k < I * G; k++) rw[k] = 0.f;
            for (long k = 0; k < G; k++) rb[k] = 0.f;
        }
        for (long t = T - 1; t >= 0; t--) {
            const long at = b * T + t;
            const float *a = acts + at * G, *c = cs + at * H, *go = dhs + at * H;
            float *d = dg + at * G;
            for (long i = 0; i < H; i++) {
                const float ig = a[i], fg = a[H + i], cg = a[2 * H + i], og = a[3 * H + i];
                const float cp = t > 0 ? c[i - H] : 0.f;
                const float tc = fast_tanh(c[i]);
                const float dhi = dh[i] + go[i];
                const float dci = dc[i] + dhi * og * (1.f - tc * tc);
                d[i] = dci * cg * ig * (1.f - ig);
                d[H + i] = dci * cp * fg * (1.f - fg);
                d[2 * H + i] = dci * ig * (1.f - cg * cg);
                d[3 * H + i] = dhi * tc * og * (1.f - og);
                dc[i] = dci * fg;
            }
            if (x) { /* the input side: dx = d @ W_ih (eight partial sums per input), dW_ih, db */
                const float *xr = x + at * I;
                for (long m = 0; m < I; m++) {
                    const float *wm = wit + m * G;
                    float acc[8] = {0.f};
                    long k = 0;
                    for (; k + 8 <= G; k += 8)
                        for (long l = 0; l < 8; l++) acc[l] += d[k + l] * wm[k + l];
                    for (; k < G; k++) acc[0] += d[k] * wm[k];
                    dx[at * I + m] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
                    const float xm = xr[m];
                    for (long k = 0; k < G; k++) rw[m * G + k] += xm * d[k];
                }
                for (long k = 0; k < G; k++) rb[k] += d[k];
            }
            if (t == 0) break;
            sum_dw(dh, d, w, H, G);
        }
        if (x) {
            for (long k = 0; k < I * G; k++) dwit[k] += rw[k];
            for (long k = 0; k < G; k++) db[k] += rb[k];
        }
    }
}

/* hw[r][0:N] = (init ? init : 0) + in[r][0:K] @ w (w: K rows of N, N a multiple of RB), for
 * MB_ROWS rows at once: each weight vector is read once for all of them, and a tile of 4 rows x
 * 3 vectors (12 of AVX2's 16 registers) is summed over the K rows in registers, then 4 x 1 for
 * what is left. Per value the same order as add_hw: init, then k = 0, 1, ... */
#define MB_ROWS 4
INLINE void mm_rows(float *const out[MB_ROWS], const float *const in[MB_ROWS], const float *w, const float *init,
                    const long K, const long N) {
    const float *i0 = in[0], *i1 = in[1], *i2 = in[2], *i3 = in[3];
    long n0 = 0;
    for (; n0 + 3 * RB <= N; n0 += 3 * RB) {
        vf a00 = {0.f}, a01 = {0.f}, a02 = {0.f};
        if (init) a00 = LD(init + n0), a01 = LD(init + n0 + RB), a02 = LD(init + n0 + 2 * RB);
        vf a10 = a00, a11 = a01, a12 = a02, a20 = a00, a21 = a01, a22 = a02, a30 = a00, a31 = a01, a32 = a02;
        for (long k = 0; k < K; k++) {
            const float *wk = w + k * N + n0;
            const vf w0 = LD(wk), w1 = LD(wk + RB), w2 = LD(wk + 2 * RB);
            vf x = BCAST(i0[k]);
            a00 += x * w0, a01 += x * w1, a02 += x * w2;
            x = BCAST(i1[k]);
            a10 += x * w0, a11 += x * w1, a12 += x * w2;
            x = BCAST(i2[k]);
            a20 += x * w0, a21 += x * w1, a22 += x * w2;
            x = BCAST(i3[k]);
            a30 += x * w0, a31 += x * w1, a32 += x * w2;
        }
        ST(out[0] + n0, a00), ST(out[0] + n0 + RB, a01), ST(out[0] + n0 + 2 * RB, a02);
        ST(out[1] + n0, a10), ST(out[1] + n0 + RB, a11), ST(out[1] + n0 + 2 * RB, a12);
        ST(out[2] + n0, a20), ST(out[2] + n0 + RB, a21), ST(out[2] + n0 + 2 * RB, a22);
        ST(out[3] + n0, a30), ST(out[3] + n0 + RB, a31), ST(out[3] + n0 + 2 * RB, a32);
    }
    for (; n0 < N; n0 += RB) {
        vf a0 = {0.f};
        if (init) a0 = LD(init + n0);
        vf a1 = a0, a2 = a0, a3 = a0;
        for (long k = 0; k < K; k++) {
            const vf wk = LD(w + k * N + n0);
            a0 += BCAST(i0[k]) * wk, a1 += BCAST(i1[k]) * wk, a2 += BCAST(i2[k]) * wk, a3 += BCAST(i3[k]) * wk;
        }
        ST(out[0] + n0, a0), ST(out[1] + n0, a1), ST(out[2] + n0, a2), ST(out[3] + n0, a3);
    }
}

/* Rows of a GRU (or LSTM) layer this wide or wider, with H a multiple of RB, step MB_ROWS rows at
 * a time through mm_rows (their weight leaves L1 at 64 units, so reading it once per row was the
 * cost); narrower ones one row at a time, their weight held in L1. */
#define BLOCK_MIN_H 48
#define BLOCKED(H) ((H) >= BLOCK_MIN_H && (H) % RB == 0)

/* GRU training, one direction of one layer (rnnlab.models.fused.gru_train): the forward pass of
 * gru_impl that also keeps, per step, r, z, n and the candidate's recurrent term hn = (h W_hn^T +
 * b_hn) (acts: B, T, 4H) and writes every output (hs: B, T, H). xw: every step's input projection
 * with b_ih (B, T, 3H); bh: b_hh (3H); wt: W_hh transposed (H, 3H). reverse != 0 runs from the
 * last step to the first (the backward direction of a bidirectional layer). */

/* one step of one row: from its input projection xg and recurrent one hw (with b_hh), and the
 * previous output hp (NULL at the first step), the gates (a: r, z, n, hn) and the output ho */
INLINE void gru_gates(const float *xg, const float *hw, const float *hp, float *a, float *ho, const long H) {
    for (long i = 0; i < H; i++) {
        const float r = fast_sigmoid(xg[i] + hw[i]);
        const float z = fast_sigmoid(xg[H + i] + hw[H + i]);
        const float n = fast_tanh(xg[2 * H + i] + r * hw[2 * H + i]);
        const float h = hp ? hp[i] : 0.f;
        a[i] = r, a[H + i] = z, a[2 * H + i] = n, a[3 * H + i] = hw[2 * H + i];
        ho[i] = (1.f - z) * n + z * h;
    }
}

INLINE void gru_train_fwd_impl(const float *xw, const float *wt, const float *bh, float *hs, float *acts, long B,
                               long T, const long H, int reverse) {
    const long G = 3 * H;
    long b = 0;
    if (BLOCKED(H)) {
        float hw[MB_ROWS][3 * MAX_H];
        float *const outs[MB_ROWS] = {hw[0], hw[1], hw[2], hw[3]};
        for (; b + MB_ROWS <= B; b += MB_ROWS)
            for (long s = 0; s < T; s++) {
                const long t = reverse ? T - 1 - s : s, tp = reverse ? t + 1 : t - 1;
                if (s > 0) {
                    const float *const ins[MB_ROWS] = {hs + (b * T + tp) * H, hs + ((b + 1) * T + tp) * H,
                                                       hs + ((b + 2) * T + tp) * H, hs + ((b + 3) * T + tp) * H};
                    mm_rows(outs, ins, wt, bh, H, G);
                } else
                    for (long r = 0; r < MB_ROWS; r++)
                        for (long k = 0; k < G; k++) hw[r][k] = bh[k];
                for (long r = 0; r < MB_ROWS; r++) {
                    const long at = (b + r) * T + t;
                    gru_gates(xw + at * G, hw[r], s > 0 ? hs + ((b + r) * T + tp) * H : 0, acts + at * 4 * H,
                              hs + at * H, H);
                }
            }
    }
    float hw[3 * MAX_H];
    for (; b < B; b++) {
        const float *h = 0;
        for (long s = 0; s < T; s++) {
            const long t = reverse ? T - 1 - s : s, at = b * T + t;
            for (long k = 0; k < G; k++) hw[k] = bh[k];
            if (h) add_hw(hw, h, wt, H, G);
            gru_gates(xw + at * G, hw, h, acts + at * 4 * H, hs + at * H, H);
            h = hs + at * H;
        }
    }
}

/* The backward pass through time of gru_train_fwd_impl: from dhs (the gradient of every output)
 * the gradients of every step's input projection (dxw: B, T, 3H; r, z, n pre-activations) and of
 * its recurrent projection (dhw: B, T, 3H; r, z and hn); torch takes the weights' and biases'
 * from them. w: W_hh as torch holds it (3H rows of H). */

/* one step of one row, backwards: from the gates a, the output's gradient go (plus dh, what the
 * later steps sent back) and the previous output hp (NULL at the first step), the gradients of
 * the input projection (dx) and of the recurrent one (dw); dh becomes the part of the previous
 * output's gradient that does not pass through W_hh */
INLINE void gru_dgates(const float *a, const float *go, const float *hp, float *dh, float *dx, float *dw,
                       const long H) {
    for (long i = 0; i < H; i++) {
        const float r = a[i], z = a[H + i], n = a[2 * H + i], hn = a[3 * H + i];
        const float d = dh[i] + go[i];
        const float dn = d * (1.f - z) * (1.f - n * n);
        const float dz = d * ((hp ? hp[i] : 0.f) - n) * z * (1.f - z);
        const float dr = dn * hn * r * (1.f - r);
        dx[i] = dr, dx[H + i] = dz, dx[2 * H + i] = dn;
        dw[i] = dr, dw[H + i] = dz, dw[2 * H + i] = dn * r;
        dh[i] = d * z;
    }
}

INLINE void gru_train_bwd_impl(const float *hs, const float *acts, const float *w, const float *dhs, float *dxw,
                               float *dhw, long B, long T, const long H, int reverse) {
    const long G = 3 * H;
    long b = 0;
    if (BLOCKED(H)) {
        float dh[MB_ROWS][MAX_H], back[MB_ROWS][MAX_H];
        float *const outs[MB_ROWS] = {back[0], back[1], back[2], back[3]};
        for (; b + MB_ROWS <= B; b += MB_ROWS) {
            for (long r = 0; r < MB_ROWS; r++)
                for (long i = 0; i < H; i++) dh[r][i] = 0.f;
            for (long s = T - 1; s >= 0; s--) {
                const long t = reverse ? T - 1 - s : s, tp = reverse ? t + 1 : t - 1;
                for (long r = 0; r < MB_ROWS; r++) {
                    const long at = (b + r) * T + t;
                    gru_dgates(acts + at * 4 * H, dhs + at * H, s > 0 ? hs + ((b + r) * T + tp) * H : 0, dh[r],
                               dxw + at * G, dhw + at * G, H);
                }
                if (s == 0) break;
                const float *const ins[MB_ROWS] = {dhw + (b * T + t) * G, dhw + ((b + 1) * T + t) * G,
                                                   dhw + ((b + 2) * T + t) * G, dhw + ((b + 3) * T + t) * G};
                mm_rows(outs, ins, w, 0, G, H);
                for (long r = 0; r < MB_ROWS; r++)
                    for (long i = 0; i < H; i++) dh[r][i] += back[r][i];
            }
        }
    }
    float dh[MAX_H], dx2[4 * MAX_H];
    for (; b < B; b++) {
        for (long i = 0; i < H; i++) dh[i] = 0.f;
        for (long s = T - 1; s >= 0; s--) {
            const long t = reverse ? T - 1 - s : s, at = b * T + t;
            const long tp = reverse ? t + 1 : t - 1; /* the step before, in this direction */
            gru_dgates(acts + at * 4 * H, dhs + at * H, s > 0 ? hs + (b * T + tp) * H : 0, dh, dxw + at * G,
                       dhw + at * G, H);
            if (s == 0) break;
            sum_dw(dx2, dhw + at * G, w, H, G);
            for (long i = 0; i < H; i++) dh[i] += dx2[i];
        }
    }
}

#define DISPATCH_GATED(CALL)                                                                           \
    switch (H) {                                                                                 \
    case 8: { const long HH = 8; CALL; } break;                                                  \
    case 16: { const long HH = 16; CALL; } break;                                                \
    case 32: { const long HH = 32; CALL; } break;                                                \
    case 64: { const long HH = 64; CALL; } break;                                                \
    default: { const long HH = H; CALL; }                                                        \
    }

/* Returns 0, -1 when H is above MAX_H, or -2 when a span leaves the T steps (nothing written).
 * xw: every step's input projection (B, T, G), or NULL: then x (B, T, I), wit (I, G) and bias (G)
 * give it, step by step (no (B, T, G) array through memory; for small input sizes,
 * rnnlab.models.fused). span: NULL (every row runs all T steps), or (first, count) per row: row
 * b runs only steps first .. first + count - 1 (backwards when reverse), from a zero state, so
 * rows padded to different widths share one call (rnnlab.models.fused.gated's spans); out is
 * written at those steps only. */
static int bad_spans(const long *span, long B, long T) {
    if (!span) return 0;
    for (long b = 0; b < B; b++)
        if (span[2 * b] < 0 || span[2 * b + 1] < 1 || span[2 * b] + span[2 * b + 1] > T) return 1;
    return 0;
}

int lstm_forward(const float *xw, const float *x, const float *wit, const float *bias, long I, const float *wt,
                 float *out, long stride, float *last, const long *span, long B, long T, long H, int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    if (bad_spans(span, B, T)) return -2;
    DISPATCH_GATED(lstm_impl(xw, x, wit, bias, I, wt, out, stride, last, span, B, T, HH, reverse))
    return 0;
}

int gru_forward(const float *xw, const float *x, const float *wit, const float *bias, long I, const float *wt,
                const float *bh, float *out, long stride, float *last, const long *span, long B, long T, long H,
                int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    if (bad_spans(span, B, T)) return -2;
    DISPATCH_GATED(gru_impl(xw, x, wit, bias, I, wt, bh, out, stride, last, span, B, T, HH, reverse))
    return 0;
}

/* LSTM training (rnnlab.models.fused.lstm_train); -1 when H is above MAX_H (nothing written) */
int lstm_train_forward(const float *xw, const float *x, const float *wit, const float *bias, long I,
                       const float *wt, float *hs, float *acts, float *cs, long B, long T, long H) {
    if (H < 1 || H > MAX_H || I > MAX_INPUTS) return -1;
    DISPATCH_GATED(lstm_train_fwd_impl(xw, x, wit, bias, I, wt, hs, acts, cs, B, T, HH))
    return 0;
}

/* x != NULL (the forward pass projected x inline): also dx (B, T, I), dwit (I, 4H: W_ih's
 * gradient transposed) and db (4H), from wit (I, 4H) */
int lstm_train_backward(const float *acts, const float *cs, const float *w, const float *dhs, float *dg,
                        const float *x, const float *wit, long I, float *dx, float *dwit, float *db, long B, long T,
                        long H) {
    if (H < 1 || H > MAX_H || I > MAX_INPUTS) return -1;
    DISPATCH_GATED(lstm_train_bwd_impl(acts, cs, w, dhs, dg, x, wit, I, dx, dwit, db, B, T, HH))
    return 0;
}

/* GRU training (rnnlab.models.fused.gru_train); -1 when H is above MAX_H (nothing written) */
int gru_train_forward(const float *xw, const float *wt, const float *bh, float *hs, float *acts, long B, long T,
                      long H, int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    DISPATCH_GATED(gru_train_fwd_impl(xw, wt, bh, hs, acts, B, T, HH, reverse))
    return 0;
}

int gru_train_backward(const float *hs, const float *acts, const float *w, const float *dhs, float *dxw, float *dhw,
                       long B, long T, long H, int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    DISPATCH_GATED(gru_train_bwd_impl(hs, acts, w, dhs, dxw, dhw, B, T, HH, reverse))
    return 0;
}
