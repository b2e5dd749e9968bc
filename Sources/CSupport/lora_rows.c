// The low-rank update of a LoRA module for the few rows of decoding, added into the base
// product in place: y[r, o] += sum_j h[r, j] B^T[j, o] with h = scale * x A^T. Through BLAS
// the same update cost two library calls and two temporaries per module and token, which at
// batch 1 tripled the time of a decoded token (210 modules in SmolLM2). B comes transposed
// ([rank, outputs]) so that eight outputs take one multiply-add per rank step, where B's own
// [outputs, rank] layout ended every output in a horizontal sum of a rank-long dot. Inference
// with one adapter folds it into the weights instead (`PretrainedModel.makeModel(adapter:)`);
// this update serves adapters kept separate (a server's run-time adapters).
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

// y[o_begin..<o_end] += h[0..<rank] B^T for one row; bt is [rank, ldbt].
static void add_row_update(const float *h, long rank, const float *bt, long ldbt, float *y, long o_begin, long o_end) {
    long o = o_begin;
#if defined(__AVX2__) && defined(__FMA__)
    // 32 outputs (four registers) at a time: a [rank, 32] panel of B^T read once per row.
    for (; o + 32 <= o_end; o += 32) {
        __m256 y0 = _mm256_loadu_ps(y + o), y1 = _mm256_loadu_ps(y + o + 8);
        __m256 y2 = _mm256_loadu_ps(y + o + 16), y3 = _mm256_loadu_ps(y + o + 24);
        for (long j = 0; j < rank; j++) {
            const float *row = bt + j * ldbt + o;
            __m256 hj = _mm256_broadcast_ss(h + j);
            y0 = _mm256_fmadd_ps(hj, _mm256_loadu_ps(row), y0);
            y1 = _mm256_fmadd_ps(hj, _mm256_loadu_ps(row + 8), y1);
            y2 = _mm256_fmadd_ps(hj, _mm256_loadu_ps(row + 16), y2);
            y3 = _mm256_fmadd_ps(hj, _mm256_loadu_ps(row + 24), y3);
        }
        _mm256_storeu_ps(y + o, y0); _mm256_storeu_ps(y + o + 8, y1);
        _mm256_storeu_ps(y + o + 16, y2); _mm256_storeu_ps(y + o + 24, y3);
    }
    for (; o + 8 <= o_end; o += 8) {
        __m256 y0 = _mm256_loadu_ps(y + o);
        for (long j = 0; j < rank; j++) y0 = _mm256_fmadd_ps(_mm256_broadcast_ss(h + j), _mm256_loadu_ps(bt + j * ldbt + o), y0);
        _mm256_storeu_ps(y + o, y0);
    }
#endif
    for (; o < o_end; o++) {
        float s = y[o];
        for (long j = 0; j < rank; j++) s += h[j] * bt[j * ldbt + o];
        y[o] = s;
    }
}

int saro_lora_rows(const float *x, long ldx, long rows, long k, const float *a, long rank, const float *bt, long ldbt, float scale,
                   float *y, long ldy, long o_begin, long o_end) {
    float stack[16 * 64];
    float *h = rows * rank <= 16 * 64 ? stack : (float *)malloc(sizeof(float) * (size_t)(rows * rank));
    if (!h) return -1;
    // h = scale * x A^T, [rows, rank]: each caller's part recomputes it (rank x k per row).
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < rank; j++) h[r * rank + j] = scale * dot(x + r * ldx, a + j * k, k);
    for (long r = 0; r < rows; r++) add_row_update(h + r * rank, rank, bt, ldbt, y + r * ldy, o_begin, o_end);
    if (h != stack) free(h);
    return 0;
}
