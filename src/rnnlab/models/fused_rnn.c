/* A fused SimpleRNN recurrence for small hidden sizes, and LSTM / GRU forward passes for
 * inference (below), for rnnlab.models.fused.
 *
 * Forward:  h[b,t] = act(xw[b,t] + h[b,t-1] @ w_hh^T), h[b,-1] = 0
 * Backward: from dh_all (the gradient of every h[b,t]) the gradient of xw (torch then takes
 * w_hh's from it). Shapes: xw, h, dh_all, dxw: (B, T, H) contiguous float32; w_hh: (H, H) row-major (torch's
 * weight_hh_l0: out x in). act: 0 = tanh, 1 = relu. Plain C, one call per batch: torch would
 * dispatch a few tiny kernels per time step instead. The common unit counts get their own
 * copy of the loops with H a constant (unrolled by the compiler).
 *
 * tanh is a rational approximation, the one XLA (so Keras 3 + JAX) and Eigen use for float32
 * (odd degree-13 / even degree-6 polynomials on x clamped to +-7.9053; the coefficients are
 * Eigen's generic_fast_tanh_float). Plain arithmetic, so the compiler vectorizes the loop over
 * the units, where glibc's tanhf is one scalar call per value (profiled: most of the forward
 * pass). Measured against tanh in float64 on [-20, 20] in steps of 1e-5: max abs error 4.0e-7
 * (tanhf: 1.0e-7); saturates to +-1; NaN stays NaN.
 */

#define INLINE static inline __attribute__((always_inline))

INLINE float fast_tanh(float x) {
    const float lim = 7.90531110763549805f;
    const float c = x < -lim ? -lim : (x > lim ? lim : x);
    const float x2 = c * c;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p * c / q;
}

INLINE void forward_impl(const float *xw, const float *w, float *h, long B, long T, const long H, int act) {
    for (long b = 0; b < B; b++) {
        const float *prev = 0;
        for (long t = 0; t < T; t++) {
            const float *x = xw + (b * T + t) * H;
            float *out = h + (b * T + t) * H;
            for (long i = 0; i < H; i++) {
                float z = x[i];
                if (prev) {
                    const float *wi = w + i * H;
                    for (long j = 0; j < H; j++) z += wi[j] * prev[j];
                }
                out[i] = z;
            }
            if (act == 0)
                for (long i = 0; i < H; i++) out[i] = fast_tanh(out[i]);
            else
                for (long i = 0; i < H; i++) out[i] = out[i] > 0.f ? out[i] : 0.f;
            prev = out;
        }
    }
}

/* The gradient of every step's pre-activation (dxw); carry (H) is the gradient flowing back
 * from the next step. The gradient of w_hh, the sum over rows and steps of dxw[b,t] (outer)
 * h[b,t-1], is one matrix product in torch (rnnlab.models.fused). */
INLINE void backward_impl(const float *h, const float *w, const float *dh_all, float *dxw, float *carry,
                          long B, long T, const long H, int act) {
    for (long b = 0; b < B; b++) {
        for (long i = 0; i < H; i++) carry[i] = 0.f;
        for (long t = T - 1; t >= 0; t--) {
            const float *ht = h + (b * T + t) * H;
            const float *g = dh_all + (b * T + t) * H;
            float *da = dxw + (b * T + t) * H;
            for (long i = 0; i < H; i++) {
                float d = carry[i] + g[i];
                da[i] = act == 0 ? d * (1.f - ht[i] * ht[i]) : (ht[i] > 0.f ? d : 0.f);
            }
            for (long j = 0; j < H; j++) carry[j] = 0.f;
            for (long i = 0; i < H; i++) {
                const float *wi = w + i * H;
                for (long j = 0; j < H; j++) carry[j] += da[i] * wi[j];
            }
        }
    }
}

#define DISPATCH(CALL)                                                                           \
    switch (H) {                                                                                 \
    case 4: { const long HH = 4; CALL; } break;                                                  \
    case 8: { const long HH = 8; CALL; } break;                                                  \
    case 16: { const long HH = 16; CALL; } break;                                                \
    case 32: { const long HH = 32; CALL; } break;                                                \
    default: { const long HH = H; CALL; }                                                        \
    }

void rnn_forward(const float *xw, const float *w, float *h, long B, long T, long H, int act) {
    DISPATCH(forward_impl(xw, w, h, B, T, HH, act))
}

void rnn_backward(const float *h, const float *w, const float *dh_all, float *dxw, float *carry,
                  long B, long T, long H, int act) {
    DISPATCH(backward_impl(h, w, dh_all, dxw, carry, B, T, HH, act))
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

/* acc[0:G] += h[0:H] @ wt (wt: H rows of G), as axpys over the rows the compiler vectorizes */
INLINE void add_hw(float *acc, const float *h, const float *wt, const long H, const long G) {
    for (long j = 0; j < H; j++) {
        const float hj = h[j];
        const float *w = wt + j * G;
        for (long k = 0; k < G; k++) acc[k] += hj * w[k];
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
                      const float *wt, float *out, long stride, float *last, long B, long T, const long H,
                      int reverse) {
    const long G = 4 * H;
    float g[4 * MAX_H], h[MAX_H], c[MAX_H];
    for (long b = 0; b < B; b++) {
        for (long i = 0; i < H; i++) h[i] = c[i] = 0.f;
        for (long s = 0; s < T; s++) {
            const long t = reverse ? T - 1 - s : s;
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
                     const float *wt, const float *bh, float *out, long stride, float *last, long B, long T,
                     const long H, int reverse) {
    const long G = 3 * H;
    float hw[3 * MAX_H], xg[3 * MAX_H], h[MAX_H];
    for (long b = 0; b < B; b++) {
        for (long i = 0; i < H; i++) h[i] = 0.f;
        for (long s = 0; s < T; s++) {
            const long t = reverse ? T - 1 - s : s;
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

#define DISPATCH_GATED(CALL)                                                                           \
    switch (H) {                                                                                 \
    case 8: { const long HH = 8; CALL; } break;                                                  \
    case 16: { const long HH = 16; CALL; } break;                                                \
    case 32: { const long HH = 32; CALL; } break;                                                \
    case 64: { const long HH = 64; CALL; } break;                                                \
    default: { const long HH = H; CALL; }                                                        \
    }

/* Returns 0, or -1 when H is above MAX_H (nothing written). xw: every step's input projection
 * (B, T, G), or NULL: then x (B, T, I), wit (I, G) and bias (G) give it, step by step (no
 * (B, T, G) array through memory; for small input sizes, rnnlab.models.fused). */
int lstm_forward(const float *xw, const float *x, const float *wit, const float *bias, long I, const float *wt,
                 float *out, long stride, float *last, long B, long T, long H, int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    DISPATCH_GATED(lstm_impl(xw, x, wit, bias, I, wt, out, stride, last, B, T, HH, reverse))
    return 0;
}

int gru_forward(const float *xw, const float *x, const float *wit, const float *bias, long I, const float *wt,
                const float *bh, float *out, long stride, float *last, long B, long T, long H, int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    DISPATCH_GATED(gru_impl(xw, x, wit, bias, I, wt, bh, out, stride, last, B, T, HH, reverse))
    return 0;
}
