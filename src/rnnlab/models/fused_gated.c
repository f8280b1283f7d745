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
 * sigmoid(x) = 0.5 + 0.5 tanh(x / 2), with the rational tanh of fused_rnn.c (XLA's and Eigen's;
 * max abs error 4e-7), so every activation is plain arithmetic the compiler vectorizes.
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

INLINE float fast_sigmoid(float x) { return 0.5f + 0.5f * fast_tanh(0.5f * x); }

#define MAX_H 128

INLINE void lstm_impl(const float *xw, const float *wt, float *out, long stride, float *last, long B, long T,
                      const long H, int reverse) {
    const long G = 4 * H;
    float g[4 * MAX_H], h[MAX_H], c[MAX_H];
    for (long b = 0; b < B; b++) {
        for (long i = 0; i < H; i++) h[i] = c[i] = 0.f;
        for (long s = 0; s < T; s++) {
            const long t = reverse ? T - 1 - s : s;
            const float *x = xw + (b * T + t) * G;
            for (long k = 0; k < G; k++) g[k] = x[k];
            if (s > 0)
                for (long j = 0; j < H; j++) {
                    const float hj = h[j];
                    const float *w = wt + j * G;
                    for (long k = 0; k < G; k++) g[k] += hj * w[k];
                }
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

INLINE void gru_impl(const float *xw, const float *wt, const float *bh, float *out, long stride, float *last,
                     long B, long T, const long H, int reverse) {
    const long G = 3 * H;
    float hw[3 * MAX_H], h[MAX_H];
    for (long b = 0; b < B; b++) {
        for (long i = 0; i < H; i++) h[i] = 0.f;
        for (long s = 0; s < T; s++) {
            const long t = reverse ? T - 1 - s : s;
            const float *x = xw + (b * T + t) * G;
            for (long k = 0; k < G; k++) hw[k] = bh[k];
            if (s > 0)
                for (long j = 0; j < H; j++) {
                    const float hj = h[j];
                    const float *w = wt + j * G;
                    for (long k = 0; k < G; k++) hw[k] += hj * w[k];
                }
            for (long i = 0; i < H; i++) {
                const float r = fast_sigmoid(x[i] + hw[i]);
                const float z = fast_sigmoid(x[H + i] + hw[H + i]);
                const float n = fast_tanh(x[2 * H + i] + r * hw[2 * H + i]);
                h[i] = (1.f - z) * n + z * h[i];
            }
            if (out)
                for (long i = 0; i < H; i++) out[(b * T + t) * stride + i] = h[i];
        }
        for (long i = 0; i < H; i++) last[b * H + i] = h[i];
    }
}

#define DISPATCH(CALL)                                                                           \
    switch (H) {                                                                                 \
    case 8: { const long HH = 8; CALL; } break;                                                  \
    case 16: { const long HH = 16; CALL; } break;                                                \
    case 32: { const long HH = 32; CALL; } break;                                                \
    case 64: { const long HH = 64; CALL; } break;                                                \
    default: { const long HH = H; CALL; }                                                        \
    }

/* Returns 0, or -1 when H is above MAX_H (nothing written). */
int lstm_forward(const float *xw, const float *wt, float *out, long stride, float *last, long B, long T, long H,
                 int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    DISPATCH(lstm_impl(xw, wt, out, stride, last, B, T, HH, reverse))
    return 0;
}

int gru_forward(const float *xw, const float *wt, const float *bh, float *out, long stride, float *last, long B,
                long T, long H, int reverse) {
    if (H < 1 || H > MAX_H) return -1;
    DISPATCH(gru_impl(xw, wt, bh, out, stride, last, B, T, HH, reverse))
    return 0;
}
