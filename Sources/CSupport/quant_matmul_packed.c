// Block-quantized weights times a few activation rows with integer dot products. For Q4_0 and
// Q4_1 weights this is llama.cpp's scheme: each 32-wide block of an activation row is rounded
// to int8 the way ggml's Q8_0 quantizer does it (d = max|x| / 127 kept as float16, q =
// round(x / d)), and AVX-512 VNNI's vpdpbusd multiplies and adds four byte pairs per 32-bit
// lane. Q8_0 weights (the default model's tied LM head) take int16 activations instead
// (d = max|x| / 32767, vpdpwssd on pairs of int16): with int8 activations the LM head of
// SmolLM2 lost enough precision to change greedy answers ("The capital of France is Paris."
// became a list of French words); int16 rounding is 256 times finer.
//
// The weights are repacked once, eight output rows together: for each block, the rows' float16
// scales (as ggml stores them, so the packed form is no larger) and their codes interleaved per row (four bytes, or two int8 codes to widen), so
// one 32-byte vector holds the same columns of all eight rows and one instruction against those
// activation codes (broadcast) advances eight dot products. The one-row kernel of
// quant_matmul.c needs about thirty instructions per 32 weights (unpacking codes to floats,
// then FMAs); this needs five to ten, so batch-1 decoding gets near the speed at which the
// weights can be read.
#include "CSupport.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int block_bytes(int type) { return type == 8 ? 34 : type == 2 ? 18 : type == 3 ? 20 : 0; }
// Bytes of one (eight rows, one block) record: float16 scales d[8] and m[8], then the codes.
static long record_bytes(int type) { return 32 + (type == 8 ? 256 : 128); }

long saro_quant_packed_bytes(int type, long rows, long k) {
    if (block_bytes(type) == 0 || rows % 8 != 0 || k % 32 != 0) return -1;
    return rows / 8 * (k / 32) * record_bytes(type);
}

long saro_quant_pack(int type, const void *w, long row_bytes, long rows, long k, void *out) {
    long size = saro_quant_packed_bytes(type, rows, k);
    if (size < 0) return -1;
    int bb = block_bytes(type);
    long nblocks = k / 32, rb = record_bytes(type);
    const unsigned char *base = (const unsigned char *)w;
    unsigned char *dst = (unsigned char *)out;
    for (long g = 0; g < rows / 8; g++) {
        for (long b = 0; b < nblocks; b++) {
            unsigned char *rec = dst + (g * nblocks + b) * rb;
            unsigned char *codes = rec + 32;
            memset(rec, 0, 32);
            for (int r = 0; r < 8; r++) {
                const unsigned char *blk = base + (g * 8 + r) * row_bytes + b * bb;
                memcpy(rec + 2 * r, blk, 2);
                if (type == 3) memcpy(rec + 16 + 2 * r, blk + 2, 2);
                if (type == 8) {
                    // Chunk c of 16 bytes: columns 2c, 2c+1 of each row, widened to int16 later.
                    for (int c = 0; c < 16; c++)
                        for (int t = 0; t < 2; t++) codes[c * 16 + r * 2 + t] = blk[2 + 2 * c + t];
                } else {
                    // Byte j of a Q4 block holds weight j (low nibble) and weight j + 16 (high):
                    // vector c's low nibbles are columns 4c..4c+3, its high ones 16+4c...
                    const unsigned char *qs = blk + (type == 3 ? 4 : 2);
                    for (int c = 0; c < 4; c++)
                        for (int t = 0; t < 4; t++) codes[c * 32 + r * 4 + t] = qs[4 * c + t];
                }
            }
        }
    }
    return size;
}

#if defined(__x86_64__)
#include <immintrin.h>
#define VNNI_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))

// x rows rounded per 32-wide block to integer codes of at most `qmax` (127: ggml's Q8_0
// quantizer, its scale kept as float16; 32767: int16 codes, the scale as float32), written to
// xq8 or xq16 [r * k + i], with the scale dx and the code sum sq [r * nblocks + b].
static VNNI_TARGET void quantize_rows(const float *x, long ldx, long rows, long k, int qmax, signed char *xq8, short *xq16,
                          float *dx, int *sq) {
    long nblocks = k / 32;
    for (long r = 0; r < rows; r++) {
        for (long b = 0; b < nblocks; b++) {
            const float *xb = x + r * ldx + b * 32;
            float amax = 0;
            for (int i = 0; i < 32; i++) { float a = fabsf(xb[i]); if (a > amax) amax = a; }
            float d = amax / (float)qmax, id = d != 0 ? 1.0f / d : 0.0f;
            int s = 0;
            for (int i = 0; i < 32; i++) {
                int q = (int)roundf(xb[i] * id);
                if (qmax == 127) xq8[r * k + b * 32 + i] = (signed char)q;
                else xq16[r * k + b * 32 + i] = (short)q;
                s += q;
            }
            dx[r * nblocks + b] = qmax == 127 ? _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT)) : d;
            sq[r * nblocks + b] = s;
        }
    }
}

// RC activation rows against eight output rows, Q4_0 / Q4_1 weights and int8 activations. RC
// is a constant at each call, so the accumulators stay in registers.
static inline __attribute__((always_inline)) VNNI_TARGET void group_kernel_q4(
    const int RC, int type, const unsigned char *recs, long nblocks, const signed char *xq, long k,
    const float *dx, const int *sq, float *y, long ldy, long n0) {
    const long rb = record_bytes(type);
    __m256 acc[4];
    for (int r = 0; r < RC; r++) acc[r] = _mm256_setzero_ps();
    const __m256i low = _mm256_set1_epi8(0x0f);
    for (long b = 0; b < nblocks; b++) {
        const unsigned char *rec = recs + b * rb;
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)rec));
        __m256i w[8];
        for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(rec + 32 + 32 * c));
            w[c] = _mm256_and_si256(v, low);
            w[c + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        }
        for (int r = 0; r < RC; r++) {
            const int *xb = (const int *)(xq + r * k + b * 32);
            // Two chains of four, so consecutive vpdpbusd do not wait on each other.
            __m256i i0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), w[0], _mm256_set1_epi32(xb[0]));
            __m256i i1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), w[1], _mm256_set1_epi32(xb[1]));
            for (int c = 2; c < 8; c += 2) {
                i0 = _mm256_dpbusd_epi32(i0, w[c], _mm256_set1_epi32(xb[c]));
                i1 = _mm256_dpbusd_epi32(i1, w[c + 1], _mm256_set1_epi32(xb[c + 1]));
            }
            __m256i dot = _mm256_add_epi32(i0, i1);
            int s = sq[r * nblocks + b];
            // Q4_0's codes are q + 8: its exact dot product is the raw one less 8 * sum(x codes).
            if (type == 2) dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(8 * s));
            float sx = dx[r * nblocks + b];
            acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(sx)), _mm256_cvtepi32_ps(dot), acc[r]);
            if (type == 3) {   // Q4_1's offset m: m * dx * sum(x codes)
                __m256 m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rec + 16)));
                acc[r] = _mm256_fmadd_ps(m, _mm256_set1_ps(sx * (float)s), acc[r]);
            }
        }
    }
    for (int r = 0; r < RC; r++) _mm256_storeu_ps(y + r * ldy + n0, acc[r]);
}

// The same for Q8_0 weights and int16 activations: vpdpwssd adds two int16 products per lane.
static inline __attribute__((always_inline)) VNNI_TARGET void group_kernel_q8(
    const int RC, const unsigned char *recs, long nblocks, const short *xq, long k,
    const float *dx, float *y, long ldy, long n0) {
    const long rb = record_bytes(8);
    __m256 acc[4];
    for (int r = 0; r < RC; r++) acc[r] = _mm256_setzero_ps();
    for (long b = 0; b < nblocks; b++) {
        const unsigned char *rec = recs + b * rb;
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)rec));
        __m256i i0[4], i1[4];
        for (int r = 0; r < RC; r++) { i0[r] = _mm256_setzero_si256(); i1[r] = _mm256_setzero_si256(); }
        for (int c = 0; c < 16; c += 2) {
            __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(rec + 32 + 16 * c)));
            __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(rec + 32 + 16 * (c + 1))));
            for (int r = 0; r < RC; r++) {
                const int *xb = (const int *)(xq + r * k + b * 32);
                i0[r] = _mm256_dpwssd_epi32(i0[r], w0, _mm256_set1_epi32(xb[c]));
                i1[r] = _mm256_dpwssd_epi32(i1[r], w1, _mm256_set1_epi32(xb[c + 1]));
            }
        }
        for (int r = 0; r < RC; r++) {
            __m256 scale = _mm256_mul_ps(d, _mm256_set1_ps(dx[r * nblocks + b]));
            acc[r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(_mm256_add_epi32(i0[r], i1[r])), acc[r]);
        }
    }
    for (int r = 0; r < RC; r++) _mm256_storeu_ps(y + r * ldy + n0, acc[r]);
}

static VNNI_TARGET void packed_groups(int type, const unsigned char *packed, long k, const signed char *xq8,
                                      const short *xq16, const float *dx, const int *sq, long rows, float *y, long ldy,
                                      long g_begin, long g_end) {
    long nblocks = k / 32, rb = record_bytes(type);
    for (long g = g_begin; g < g_end; g++) {
        const unsigned char *recs = packed + g * nblocks * rb;
        for (long r0 = 0; r0 < rows; r0 += 4) {
            long rc = rows - r0 < 4 ? rows - r0 : 4;
            const float *dr = dx + r0 * nblocks;
            float *yr = y + r0 * ldy;
            if (type == 8) {
                const short *xr = xq16 + r0 * k;
                switch (rc) {
                case 1: group_kernel_q8(1, recs, nblocks, xr, k, dr, yr, ldy, g * 8); break;
                case 2: group_kernel_q8(2, recs, nblocks, xr, k, dr, yr, ldy, g * 8); break;
                case 3: group_kernel_q8(3, recs, nblocks, xr, k, dr, yr, ldy, g * 8); break;
                default: group_kernel_q8(4, recs, nblocks, xr, k, dr, yr, ldy, g * 8); break;
                }
                continue;
            }
            const signed char *xr = xq8 + r0 * k;
            const int *sr = sq + r0 * nblocks;
            switch (rc) {
            case 1: group_kernel_q4(1, type, recs, nblocks, xr, k, dr, sr, yr, ldy, g * 8); break;
            case 2: group_kernel_q4(2, type, recs, nblocks, xr, k, dr, sr, yr, ldy, g * 8); break;
            case 3: group_kernel_q4(3, type, recs, nblocks, xr, k, dr, sr, yr, ldy, g * 8); break;
            default: group_kernel_q4(4, type, recs, nblocks, xr, k, dr, sr, yr, ldy, g * 8); break;
            }
        }
    }
}

int saro_quant_packed_supported(void) {
    static int supported = -1;   // a benign race: every thread computes the same value
    if (supported < 0) {
        __builtin_cpu_init();
        supported = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
    }
    return supported;
}
#else
int saro_quant_packed_supported(void) { return 0; }
#endif

int saro_quant_matmul_packed(int type, const void *packed, long k, const float *x, long ldx, long rows,
                             float *y, long ldy, long g_begin, long g_end) {
#if defined(__x86_64__)
    if (block_bytes(type) == 0 || k % 32 != 0 || !saro_quant_packed_supported()) return -1;
    long nblocks = k / 32;
    int wide = type == 8;
    size_t code_bytes = (size_t)(rows * k) * (wide ? 2 : 1);
    // Decoding's few rows fit on the stack; the workers' stacks are the default 8 MiB.
    _Alignas(32) unsigned char codes_stack[8 * 4096 * 2];
    float dx_stack[8 * 128];
    int sq_stack[8 * 128];
    int small = rows <= 8 && k <= 4096;
    unsigned char *codes = small ? codes_stack : (unsigned char *)malloc(code_bytes);
    float *dx = small ? dx_stack : (float *)malloc(sizeof(float) * (size_t)(rows * nblocks));
    int *sq = small ? sq_stack : (int *)malloc(sizeof(int) * (size_t)(rows * nblocks));
    if (!codes || !dx || !sq) { if (!small) { free(codes); free(dx); free(sq); } return -2; }
    quantize_rows(x, ldx, rows, k, wide ? 32767 : 127, (signed char *)codes, (short *)codes, dx, sq);
    packed_groups(type, (const unsigned char *)packed, k, (const signed char *)codes, (const short *)codes, dx, sq, rows, y, ldy,
                  g_begin, g_end);
    if (!small) { free(codes); free(dx); free(sq); }
    return 0;
#else
    (void)type; (void)packed; (void)k; (void)x; (void)ldx; (void)rows; (void)y; (void)ldy; (void)g_begin; (void)g_end;
    return -1;
#endif
}
