#ifndef JBC_KERNEL_H
#define JBC_KERNEL_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define JBC_X86 1
#else
#define JBC_X86 0
#endif

/* work = midstate s0..s7, header words 16..18 (big-endian) of the second block, target's top word. */
#define JBC_WORK_WORDS 12

/* Whether this CPU has SHA-NI plus the SSE4.1/SSSE3 the kernel also uses. */
int jbc_cpu_has_sha_ni(void);

/* Offset in [0, count) of the first nonce from `start` passing the top-word check, or -1. Needs SHA-NI. */
int64_t jbc_scan_sha_ni(const uint32_t work[JBC_WORK_WORDS], uint32_t start, uint32_t count);

#endif
