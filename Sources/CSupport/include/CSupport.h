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

#endif
