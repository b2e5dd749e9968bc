#ifndef SARO_CSUPPORT_H
#define SARO_CSUPPORT_H

/// CPU feature bits read with CPUID, so the program can pick (and check) the BLAS kernel
/// that matches the processor before the BLAS library is loaded.
typedef struct {
    int avx;
    int avx2;
    int fma;
    int f16c;
    int avx512f;
    int is_amd;
    int is_intel;
    int family;
    int model;
} saro_cpu_features;

saro_cpu_features saro_cpu_detect(void);

/// Makes glibc keep large freed blocks for reuse instead of unmapping them (see TensorStorage).
void saro_configure_allocator(void);
/// Returns the heap's free pages to the system (glibc's malloc_trim), for the end of a stage.
void saro_release_free_memory(void);

/// posix_spawn file actions (a `posix_spawn_file_actions_t *`) that glibc declares only for
/// _GNU_SOURCE: close every descriptor from `lowest_fd` up, and change the working folder.
/// 0 on success, else an errno value (ENOSYS where the C library has no such action).
int saro_spawn_add_closefrom(void *actions, int lowest_fd);
int saro_spawn_add_chdir(void *actions, const char *path);
/// A pipe whose two ends are closed on exec (pipe2 with O_CLOEXEC), so a program another thread
/// starts meanwhile does not inherit them. 0 on success, else -1 with errno set.
int saro_pipe_cloexec(int fds[2]);


/// y[r * ldy + n] = sum_k x[r * ldx + k] * W[n, k] for rows r < rows and outputs n in
/// [n_begin, n_end), with W stored as ggml blocks along k (Q8_0, Q4_0 or Q4_1: 32 weights a
/// block; `row_bytes` bytes per output row). Weights are decoded exactly as ggml's reference
/// dequantizer does (d * q, d * (q - 8), d * q + m); products and sums are float32, grouped
/// per block as d * (q . x) + c * sum(x), so they round differently from a float32 GEMM.
/// type: 8 = Q8_0, 2 = Q4_0, 3 = Q4_1 (ggml's ids), or 0 = float32 rows (k a multiple of 32),
/// which decoding uses for unquantized models: one pass over the weights serves all rows,
/// where BLAS would repack the whole matrix for a handful of rows. Returns 0, or -1 for
/// another type.
int saro_quant_matmul(int type, const void *w, long row_bytes, long k,
                      const float *x, long ldx, long rows,
                      float *y, long ldy, long n_begin, long n_end);

/// The integer form of the product above, as llama.cpp computes it: each 32-wide block of an
/// activation row rounded to int8 as ggml's Q8_0 quantizer does (scale max|x| / 127 kept as
/// float16), then exact integer dot products against the weights' codes (AVX-512 VNNI), scaled
/// per block. The weights first go through `saro_quant_pack` (eight output rows interleaved;
/// rows a multiple of 8). `saro_quant_packed_bytes` is the packed size, or -1 when the type or
/// shape has no packed form; `saro_quant_pack` returns that size or -1. The product covers
/// output rows [8 g_begin, 8 g_end) and returns 0, or -1 when this CPU has no VNNI (see
/// `saro_quant_packed_supported`) or the type is not Q8_0, Q4_0 or Q4_1.
long saro_quant_packed_bytes(int type, long rows, long k);
long saro_quant_pack(int type, const void *w, long row_bytes, long rows, long k, void *out);
int saro_quant_packed_supported(void);
int saro_quant_matmul_packed(int type, const void *packed, long k, const float *x, long ldx, long rows,
                             float *y, long ldy, long g_begin, long g_end);

/// x [count] (whole 32-value blocks) rounded to Q8_0 blocks into out (34 bytes per block) as
/// ggml's reference quantizer does: d = max |x| / 127 stored as float16, q = round(x / d).
void saro_quantize_q8_0(const float *x, long count, void *out);

/// y[r * ldy + o] += scale * sum_j (x[r] . a[j]) bt[j * ldbt + o] for rows r < rows and outputs o
/// in [o_begin, o_end): a LoRA module's update (A [rank, k], B [outputs, rank] given transposed
/// as bt [rank, ldbt]) added to the base product of a few decoding rows. Returns 0, or -1 when
/// out of memory.
int saro_lora_rows(const float *x, long ldx, long rows, long k, const float *a, long rank, const float *bt, long ldbt,
                   float scale, float *y, long ldy, long o_begin, long o_end);

/// Attention scores of one query against n keys: scores[j] = scale * (q . k[j * stride ...])
/// over d dimensions.
void saro_attention_scores(const float *q, const float *k, long stride, long n, long d, float scale, float *scores);

/// out[0..<d] = sum over j < n of w[j] * v[j * stride ...]: attention's weighted sum of values.
void saro_attention_weighted_sum(const float *w, long n, const float *v, long stride, long d, float *out);

/// One part of a pool job: `part` in 0..<parts.
typedef void (*saro_pool_task)(void *context, long part);

/// Runs task(context, 0 ..< parts) on the calling thread and `threads - 1` pool workers (made
/// on the first call) and returns 1 once every part is done. Workers spin for `spin_ns` after
/// each job, then sleep. Called from inside a part, it runs the parts in order on that thread.
/// Returns 0 without running anything when the pool cannot take the job (one thread, one part,
/// or another thread's job is running): the caller then runs it another way.
int saro_pool_run(int threads, long spin_ns, int parts, saro_pool_task task, void *context);

#endif
