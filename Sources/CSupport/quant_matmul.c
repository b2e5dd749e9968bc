// Matrix multiply against ggml block-quantized weights, for decoding: a few activation rows
// times a large weight matrix, reading the weights in their compact form (Q4_1 is 0.625 bytes
// a weight against 4 for float32), which is what bounds the speed of batch-1 decoding.
#include "CSupport.h"
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SARO_AVX2 1
#endif

static inline float f16_to_f32(const unsigned char *p) {
    unsigned short h;
    memcpy(&h, p, 2);
#ifdef SARO_AVX2
    return _cvtsh_ss(h);
#else
    unsigned int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign << 31;
        else { int e = -1; do { e++; mant <<= 1; } while (!(mant & 0x400)); mant &= 0x3ff; bits = (sign << 31) | ((127 - 15 - e) << 23) | (mant << 13); }
    } else if (exp == 31) bits = (sign << 31) | 0x7f800000 | (mant << 13);
    else bits = (sign << 31) | ((exp + 127 - 15) << 23) | (mant << 13);
    float f; memcpy(&f, &bits, 4); return f;
#endif
}

// Decodes one block of 32 weights into out[32] (the scalar reference).
static inline void decode_block(int type, const unsigned char *b, float *out) {
    if (type == 8) {
        float d = f16_to_f32(b);
        for (int j = 0; j < 32; j++) out[j] = d * (float)(signed char)b[2 + j];
    } else if (type == 2) {
        float d = f16_to_f32(b);
        for (int j = 0; j < 16; j++) { out[j] = d * (float)((b[2 + j] & 0xf) - 8); out[j + 16] = d * (float)((b[2 + j] >> 4) - 8); }
    } else {
        float d = f16_to_f32(b), m = f16_to_f32(b + 2);
        for (int j = 0; j < 16; j++) { out[j] = d * (float)(b[4 + j] & 0xf) + m; out[j + 16] = d * (float)(b[4 + j] >> 4) + m; }
    }
}

static inline int block_bytes(int type) { return type == 8 ? 34 : type == 2 ? 18 : type == 3 ? 20 : 0; }

#ifdef SARO_AVX2
// Decodes one block into four 8-wide vectors with the reference's arithmetic (a product, then
// a separate add for Q4_1, not a fused multiply-add, so the values equal the dequantizer's).
static inline void decode_block_avx2(int type, const unsigned char *b, __m256 w[4]) {
    if (type == 8) {
        __m256 d = _mm256_set1_ps(f16_to_f32(b));
        for (int i = 0; i < 4; i++) {
            __m128i q8 = _mm_loadl_epi64((const __m128i *)(b + 2 + 8 * i));
            w[i] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)));
        }
        return;
    }
    const unsigned char *qs = b + (type == 2 ? 2 : 4);
    __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f));
    __m256 q[4] = {
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))),
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))),
    };
    __m256 d = _mm256_set1_ps(f16_to_f32(b));
    if (type == 2) {
        __m256 eight = _mm256_set1_ps(8.0f);
        for (int i = 0; i < 4; i++) w[i] = _mm256_mul_ps(d, _mm256_sub_ps(q[i], eight));
    } else {
        __m256 m = _mm256_set1_ps(f16_to_f32(b + 2));
        for (int i = 0; i < 4; i++) w[i] = _mm256_add_ps(_mm256_mul_ps(d, q[i]), m);
    }
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#endif

int saro_quant_matmul(int type, const void *w, long row_bytes, long k,
                      const float *x, long ldx, long rows,
                      float *y, long ldy, long n_begin, long n_end) {
    int bb = block_bytes(type);
    if (bb == 0) return -1;
    long nblocks = k / 32;
    const unsigned char *base = (const unsigned char *)w;
#ifdef SARO_AVX2
    enum { R = 8 };  // activation rows per pass: 8 accumulators + 4 weight vectors fit 16 registers
    for (long n = n_begin; n < n_end; n++) {
        const unsigned char *row = base + n * row_bytes;
        for (long r0 = 0; r0 < rows; r0 += R) {
            long rc = rows - r0 < R ? rows - r0 : R;
            __m256 acc[R];
            for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
            for (long j = 0; j < nblocks; j++) {
                __m256 wv[4];
                decode_block_avx2(type, row + j * bb, wv);
                const float *xb = x + r0 * ldx + j * 32;
                for (long r = 0; r < rc; r++) {
                    const float *xr = xb + r * ldx;
                    acc[r] = _mm256_fmadd_ps(wv[0], _mm256_loadu_ps(xr), acc[r]);
                    acc[r] = _mm256_fmadd_ps(wv[1], _mm256_loadu_ps(xr + 8), acc[r]);
                    acc[r] = _mm256_fmadd_ps(wv[2], _mm256_loadu_ps(xr + 16), acc[r]);
                    acc[r] = _mm256_fmadd_ps(wv[3], _mm256_loadu_ps(xr + 24), acc[r]);
                }
            }
            for (long r = 0; r < rc; r++) y[(r0 + r) * ldy + n] = hsum(acc[r]);
        }
    }
#else
    float wb[32];
    for (long n = n_begin; n < n_end; n++) {
        const unsigned char *row = base + n * row_bytes;
        for (long r = 0; r < rows; r++) y[r * ldy + n] = 0;
        for (long j = 0; j < nblocks; j++) {
            decode_block(type, row + j * bb, wb);
            for (long r = 0; r < rows; r++) {
                const float *xr = x + r * ldx + j * 32;
                float s = 0;
                for (int i = 0; i < 32; i++) s += wb[i] * xr[i];
                y[r * ldy + n] += s;
            }
        }
    }
#endif
    return 0;
}
