// The low-rank update of a LoRA module for the few rows of decoding, added into the base
// product in place: y[r, o] += scale * sum_j (x[r] . A[j]) B[o, j]. Through BLAS the same
// update cost two library calls and two temporaries per module and token, which at batch 1
// tripled the time of a decoded token (210 modules in SmolLM2).
#include "CSupport.h"
#include <stdlib.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

static float dot(const float *a, const float *b, long n) {
    long i = 0;
    float s = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    s = _mm_cvtss_f32(h);
#endif
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

int saro_lora_rows(const float *x, long ldx, long rows, long k, const float *a, long rank, const float *b, float scale,
                   float *y, long ldy, long o_begin, long o_end) {
    float stack[8 * 64];
    float *h = rows * rank <= 8 * 64 ? stack : (float *)malloc(sizeof(float) * (size_t)(rows * rank));
    if (!h) return -1;
    // h = scale * x A^T, [rows, rank]: each caller's part recomputes it (rank x k per row).
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < rank; j++) h[r * rank + j] = scale * dot(x + r * ldx, a + j * k, k);
    for (long r = 0; r < rows; r++)
        for (long o = o_begin; o < o_end; o++) y[r * ldy + o] += dot(h + r * rank, b + o * rank, rank);
    if (h != stack) free(h);
    return 0;
}
