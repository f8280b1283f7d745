/* Keras's Adam update in one pass over a float32 parameter (rnnlab.train.optimizers.Adam).
 *
 * torch's _foreach path makes six passes over memory per parameter (lerp, mul, addcmul, sqrt
 * into a new tensor, add, addcdiv) and allocates a temporary the size of the parameter. For an
 * embedding of 50,000 x 128 that is 6.4M floats read and written six times every step, a
 * tenth of a GRU classifier's step. Here every element is read once and written once:
 *
 *   m = fma(1 - b1, g - m, m)              (torch's lerp_)
 *   v = fma((1 - b2) * g, g, v * b2)       (mul_, then addcmul_)
 *   p = p + (-alpha * m) / (sqrt(v) + eps)   (addcdiv_), alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
 *
 * the _foreach path's float32 operations in its order (contraction into other fused
 * multiply-adds is switched off below), so m and v are bit-identical to it. The weights differ
 * only in the last bit of a few elements: sqrtf here is the correctly rounded instruction (as
 * TensorFlow's), torch's vectorized sqrt is one ulp off for about a fifth of its inputs
 * (tests/train/test_optimizers.py). Built with -fno-math-errno (optimizers.py), so that sqrtf is
 * the vector instruction and the loop vectorizes. The work is split over `threads` POSIX threads
 * when the parameter is large enough to repay starting them; each element's arithmetic is the
 * same whatever the split.
 */
#include <math.h>
#include <pthread.h>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

typedef struct {
    float *p, *m, *v;
    const float *g;
    long n;
    float w1, b2, c2, nalpha, eps;
} job_t;

static void run(const job_t *j) {
    float *restrict p = j->p, *restrict m = j->m, *restrict v = j->v;
    const float *restrict g = j->g;
    const float w1 = j->w1, b2 = j->b2, c2 = j->c2, nalpha = j->nalpha, eps = j->eps;
    for (long i = 0; i < j->n; i++) {
        float gi = g[i];
        float mi = fmaf(w1, gi - m[i], m[i]);
        float vi = fmaf(c2 * gi, gi, v[i] * b2);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] + (nalpha * mi) / (sqrtf(vi) + eps);
    }
}

static void *run_thread(void *arg) {
    run((const job_t *)arg);
    return 0;
}

#define MAX_THREADS 64
#define MIN_PER_THREAD 262144L  /* below this a thread costs more than it saves */

/* One Adam step on n floats. w1 = 1 - beta_1, c2 = 1 - beta_2, nalpha = -alpha. */
void adam_step(float *p, float *m, float *v, const float *g, long n, float w1, float b2, float c2,
               float nalpha, float eps, int threads) {
    job_t jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    long k = threads < 1 ? 1 : (threads > MAX_THREADS ? MAX_THREADS : threads);
    if (n / k < MIN_PER_THREAD) k = n / MIN_PER_THREAD < 1 ? 1 : n / MIN_PER_THREAD;
    long chunk = ((n + k - 1) / k + 15) & ~15L;  /* whole cache lines per thread */
    for (long t = 0; t < k; t++) {
        long lo = t * chunk < n ? t * chunk : n, hi = lo + chunk < n ? lo + chunk : n;
        jobs[t] = (job_t){p + lo, m + lo, v + lo, g + lo, hi - lo, w1, b2, c2, nalpha, eps};
    }
    for (long t = 1; t < k; t++)  /* a thread that cannot start leaves its part to this one */
        started[t] = pthread_create(&tids[t], 0, run_thread, &jobs[t]) == 0;
    run(&jobs[0]);
    for (long t = 1; t < k; t++) {
        if (started[t]) pthread_join(tids[t], 0);
        else run(&jobs[t]);
    }
}
