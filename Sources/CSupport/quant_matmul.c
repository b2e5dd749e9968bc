// Matrix multiply against ggml block-quantized weights, for decoding: a few activation rows
// times a large weight matrix, reading the weights in their compact form (Q4_1 is 0.625 bytes
// a weight against 4 for float32), which is what bounds the speed of batch-1 decoding.
#include "CSupport.h"
#include <stdlib.h>
#include <math.h>
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
    if (type == 0) {
        memcpy(out, b, 128);
    } else if (type == 8) {
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

static inline int block_bytes(int type) { return type == 8 ? 34 : type == 2 ? 18 : type == 3 ? 20 : type == 0 ? 128 : 0; }

#ifdef SARO_AVX2
// The block's integer codes q as floats (four 8-wide vectors), and (d, c) such that each
// weight is d * q + c: Q8_0 (c = 0), Q4_0 (c = -8 d), Q4_1 (c = m).
static inline void block_codes_avx2(int type, const unsigned char *b, __m256 q[4], float *d, float *c) {
    if (type == 0) {   // float32: the weights themselves, d = 1, c = 0
        *d = 1;
        *c = 0;
        for (int i = 0; i < 4; i++) q[i] = _mm256_loadu_ps((const float *)b + 8 * i);
        return;
    }
    *d = f16_to_f32(b);
    if (type == 8) {
        *c = 0;
        for (int i = 0; i < 4; i++)
            q[i] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + 8 * i))));
        return;
    }
    *c = type == 2 ? -8.0f * *d : f16_to_f32(b + 2);
    __m128i bytes = _mm_loadu_si128((const __m128i *)(b + (type == 2 ? 2 : 4)));
    __m128i lo = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f));
    q[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    q[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    q[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    q[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#endif

#ifdef SARO_AVX2
// One block of weights against RC activation rows, accumulated into acc and cacc.
// One row: sum_i (d q_i + c) x_i = d * (q . x) + c * sum(x), with sum(x) per block
// precomputed; two independent products keep the FMA units busy on a single row.
// Several rows: the block is dequantized once into four registers (d q + c) shared by the
// rows, and each row costs four FMAs: half the arithmetic of the one-row form, which is
// what bounds batched decoding.
static inline __attribute__((always_inline)) void block_step(
    const int RC, int type, const unsigned char *block, const float *xb, long ldx,
    const float *xs, __m256 *acc, float *cacc) {
    __m256 q[4];
    float d, c;
    block_codes_avx2(type, block, q, &d, &c);
    __m256 vd = _mm256_set1_ps(d);
    if (RC == 1) {
        __m256 t0 = _mm256_mul_ps(q[0], _mm256_loadu_ps(xb));
        __m256 t1 = _mm256_mul_ps(q[1], _mm256_loadu_ps(xb + 8));
        t0 = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xb + 16), t0);
        t1 = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xb + 24), t1);
        acc[0] = _mm256_fmadd_ps(vd, _mm256_add_ps(t0, t1), acc[0]);
        cacc[0] += c * xs[0];
        return;
    }
    // Float32 blocks come with d = 1 and c = 0, for which q * d + c is q exactly.
    __m256 vc = _mm256_set1_ps(c);
    __m256 w0 = _mm256_fmadd_ps(q[0], vd, vc), w1 = _mm256_fmadd_ps(q[1], vd, vc);
    __m256 w2 = _mm256_fmadd_ps(q[2], vd, vc), w3 = _mm256_fmadd_ps(q[3], vd, vc);
    for (int r = 0; r < RC; r++) {
        const float *xr = xb + r * ldx;
        __m256 a = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr), acc[r]);
        a = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), a);
        a = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xr + 16), a);
        acc[r] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xr + 24), a);
    }
}

// RC activation rows against output rows [n_begin, n_end). RC is a constant at every call
// site, so the accumulators live in registers (a runtime row count would put them on the
// stack, and the loop would wait on store-to-load forwarding at every block). Eight rows is
// the most whose accumulators fit beside the block's four weight registers: sixteen spill,
// and measured slower than two passes of eight.
static inline __attribute__((always_inline)) void rows_kernel(
    const int RC, int type, const unsigned char *base, long row_bytes, int bb, long nblocks,
    const float *x, long ldx, const float *xsum, float *y, long ldy, long n_begin, long n_end) {
    for (long n = n_begin; n < n_end; n++) {
        const unsigned char *row = base + n * row_bytes;
        __m256 acc[8];
        float cacc[8];
        for (int r = 0; r < RC; r++) { acc[r] = _mm256_setzero_ps(); cacc[r] = 0; }
        for (long j = 0; j < nblocks; j++) block_step(RC, type, row + j * bb, x + j * 32, ldx, xsum + j, acc, cacc);
        for (int r = 0; r < RC; r++) y[r * ldy + n] = hsum(acc[r]) + cacc[r];
    }
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
    float xsum_stack[512];
    float *xsum = nblocks <= 512 ? xsum_stack : (float *)malloc(sizeof(float) * nblocks);
    for (long r0 = 0; r0 < rows; r0 += 8) {
        long rc = rows - r0 < 8 ? rows - r0 : 8;
        const float *xr0 = x + r0 * ldx;
        if (rc == 1)   // sum(x) per block: only the one-row form uses it
            for (long j = 0; j < nblocks; j++) {
                const float *xb = xr0 + j * 32;
                float s = 0;
                for (int i = 0; i < 32; i++) s += xb[i];
                xsum[j] = s;
            }
        float *yr0 = y + r0 * ldy;
        switch (rc) {
        case 1: rows_kernel(1, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        case 2: rows_kernel(2, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        case 3: rows_kernel(3, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        case 4: rows_kernel(4, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        case 5: rows_kernel(5, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        case 6: rows_kernel(6, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        case 7: rows_kernel(7, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        default: rows_kernel(8, type, base, row_bytes, bb, nblocks, xr0, ldx, xsum, yr0, ldy, n_begin, n_end); break;
        }
    }
    if (xsum != xsum_stack) free(xsum);
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

void saro_quantize_q8_0(const float *x, long count, void *out) {
    unsigned char *b = (unsigned char *)out;
    for (long block = 0; block < count / 32; block++, x += 32, b += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127, inverse = d != 0 ? 1 / d : 0;
#ifdef SARO_AVX2
        unsigned short h = (unsigned short)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
#else
        _Float16 hf = (_Float16)d;
        unsigned short h;
        memcpy(&h, &hf, 2);
#endif
        memcpy(b, &h, 2);
        for (int j = 0; j < 32; j++) b[2 + j] = (unsigned char)(signed char)roundf(x[j] * inverse);
    }
}
