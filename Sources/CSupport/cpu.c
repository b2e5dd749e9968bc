#include "CSupport.h"
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

saro_cpu_features saro_cpu_detect(void) {
    saro_cpu_features f;
    memset(&f, 0, sizeof f);
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
    unsigned int maxLeaf = a;
    char vendor[13];
    memcpy(vendor, &b, 4); memcpy(vendor + 4, &d, 4); memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    f.is_amd = strcmp(vendor, "AuthenticAMD") == 0;
    f.is_intel = strcmp(vendor, "GenuineIntel") == 0;
    __get_cpuid(1, &a, &b, &c, &d);
    int baseFamily = (a >> 8) & 0xf, baseModel = (a >> 4) & 0xf;
    f.family = baseFamily == 0xf ? baseFamily + ((a >> 20) & 0xff) : baseFamily;
    f.model = (baseFamily == 0x6 || baseFamily == 0xf) ? (((a >> 16) & 0xf) << 4) + baseModel : baseModel;
    int osxsave = (c >> 27) & 1;
    // AVX state must be enabled by the OS (XCR0 bits 1 and 2), not only present in the CPU.
    int osAVX = osxsave && ((xgetbv0() & 0x6) == 0x6);
    f.avx = osAVX && ((c >> 28) & 1);
    f.fma = osAVX && ((c >> 12) & 1);
    f.f16c = osAVX && ((c >> 29) & 1);
    if (maxLeaf >= 7) {
        __get_cpuid_count(7, 0, &a, &b, &c, &d);
        f.avx2 = osAVX && ((b >> 5) & 1);
        int osAVX512 = osxsave && ((xgetbv0() & 0xe6) == 0xe6);
        f.avx512f = osAVX512 && ((b >> 16) & 1);
    }
    return f;
}
#else
saro_cpu_features saro_cpu_detect(void) {
    saro_cpu_features f;
    memset(&f, 0, sizeof f);
    return f;
}
#endif

#if defined(__linux__)
#include <malloc.h>
void saro_configure_allocator(void) {
    // 32 MiB is glibc's largest mmap threshold on 64-bit; larger blocks are mapped regardless.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void saro_release_free_memory(void) { malloc_trim(0); }
#else
void saro_configure_allocator(void) {}
void saro_release_free_memory(void) {}
#endif
