/* A fused SimpleRNN recurrence for small hidden sizes (rnnlab.models.fused).
 *
 * Forward:  h[b,t] = act(xw[b,t] + h[b,t-1] @ w_hh^T), h[b,-1] = 0
 * Backward: from dh_all (the gradient of every h[b,t]) the gradient of xw and of w_hh.
 * Shapes: xw, h, dh_all, dxw: (B, T, H) contiguous float32; w_hh, dw: (H, H) row-major (torch's
 * weight_hh_l0: out x in). act: 0 = tanh, 1 = relu. Plain C, one call per batch: torch would
 * dispatch a few tiny kernels per time step instead. The common unit counts get their own
 * copy of the loops with H a constant (unrolled by the compiler).
 */
#include <math.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

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
                for (long i = 0; i < H; i++) out[i] = tanhf(out[i]);
            else
                for (long i = 0; i < H; i++) out[i] = out[i] > 0.f ? out[i] : 0.f;
            prev = out;
        }
    }
}

INLINE void backward_impl(const float *h, const float *w, const float *dh_all, float *dxw, float *dw,
                          float *carry, long B, long T, const long H, int act) {
    memset(dw, 0, sizeof(float) * H * H);
    for (long b = 0; b < B; b++) {
        for (long i = 0; i < H; i++) carry[i] = 0.f;
        for (long t = T - 1; t >= 0; t--) {
            const float *ht = h + (b * T + t) * H;
            const float *hp = t > 0 ? h + (b * T + t - 1) * H : 0;
            const float *g = dh_all + (b * T + t) * H;
            float *da = dxw + (b * T + t) * H;
            for (long i = 0; i < H; i++) {
                float d = carry[i] + g[i];
                da[i] = act == 0 ? d * (1.f - ht[i] * ht[i]) : (ht[i] > 0.f ? d : 0.f);
            }
            if (hp)
                for (long i = 0; i < H; i++) {
                    float *dwi = dw + i * H;
                    for (long j = 0; j < H; j++) dwi[j] += da[i] * hp[j];
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

void rnn_backward(const float *h, const float *w, const float *dh_all, float *dxw, float *dw,
                  float *carry, long B, long T, long H, int act) {
    DISPATCH(backward_impl(h, w, dh_all, dxw, dw, carry, B, T, HH, act))
}
