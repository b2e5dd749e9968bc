// The two products of decoding attention, which every generated token takes in every layer
// and head: scores of one query against the cached keys, and the probability-weighted sum of
// the cached values. Decoding calls them batch x heads x layers times per step over short
// rows, so per-key overhead is what counts: a horizontal sum per dot product, and loading and
// storing the output for every value row (what the one-key-at-a-time form did).
#include "CSupport.h"
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SARO_AVX2 1
#endif

#ifdef SARO_AVX2
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

// Dot products of q with eight keys as one vector of eight sums: eight accumulators reduced
// together by horizontal adds instead of one horizontal sum per key.
static inline __m256 dot8(const float *q, const float *k, long stride, long d) {
    __m256 a[8];
    for (int t = 0; t < 8; t++) a[t] = _mm256_setzero_ps();
    for (long c = 0; c < d; c += 8) {
        __m256 qc = _mm256_loadu_ps(q + c);
        for (int t = 0; t < 8; t++) a[t] = _mm256_fmadd_ps(qc, _mm256_loadu_ps(k + t * stride + c), a[t]);
    }
    __m256 s01 = _mm256_hadd_ps(a[0], a[1]), s23 = _mm256_hadd_ps(a[2], a[3]);
    __m256 s45 = _mm256_hadd_ps(a[4], a[5]), s67 = _mm256_hadd_ps(a[6], a[7]);
    // Each 128-bit half now holds partial sums of keys 0-3 (lo) and 4-7 (hi).
    __m256 lo = _mm256_hadd_ps(s01, s23), hi = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31));
}

// out[0..<8 NC] = sum_j w[j] v[j], the output held in registers across all keys.
static inline __attribute__((always_inline)) void weighted_sum_avx2(const int NC, const float *w, long n, const float *v, long stride, float *out) {
    __m256 acc[8];
    for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();
    for (long j = 0; j < n; j++) {
        __m256 wj = _mm256_broadcast_ss(w + j);
        const float *vj = v + j * stride;
        for (int c = 0; c < NC; c++) acc[c] = _mm256_fmadd_ps(wj, _mm256_loadu_ps(vj + 8 * c), acc[c]);
    }
    for (int c = 0; c < NC; c++) _mm256_storeu_ps(out + 8 * c, acc[c]);
}
#endif

void saro_attention_scores(const float *q, const float *k, long stride, long n, long d, float scale, float *scores) {
    long j = 0;
#ifdef SARO_AVX2
    if (d % 8 == 0) {
        __m256 vs = _mm256_set1_ps(scale);
        for (; j + 8 <= n; j += 8) _mm256_storeu_ps(scores + j, _mm256_mul_ps(dot8(q, k + j * stride, stride, d), vs));
        for (; j < n; j++) {
            __m256 a = _mm256_setzero_ps();
            for (long c = 0; c < d; c += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), _mm256_loadu_ps(k + j * stride + c), a);
            scores[j] = hsum8(a) * scale;
        }
        return;
    }
#endif
    for (; j < n; j++) {
        float s = 0;
        for (long c = 0; c < d; c++) s += q[c] * k[j * stride + c];
        scores[j] = s * scale;
    }
}

void saro_attention_weighted_sum(const float *w, long n, const float *v, long stride, long d, float *out) {
    long c0 = 0;
#ifdef SARO_AVX2
    for (; c0 + 64 <= d; c0 += 64) weighted_sum_avx2(8, w, n, v + c0, stride, out + c0);
    for (; c0 + 8 <= d; c0 += 8) weighted_sum_avx2(1, w, n, v + c0, stride, out + c0);
#endif
    for (; c0 < d; c0++) {
        float s = 0;
        for (long j = 0; j < n; j++) s += w[j] * v[j * stride + c0];
        out[c0] = s;
    }
}
