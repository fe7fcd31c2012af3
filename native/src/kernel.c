/*
 * Double SHA-256 nonce search over an 80-byte block header with the x86 SHA extensions (SHA-NI).
 *
 * The caller hashes the first 64 header bytes once per template and passes that midstate plus the three
 * big-endian words that precede the nonce in the second block. Per nonce we then run the second block
 * of the first hash and the second hash, and keep only nonces whose top 32 hash bits (the byte-swapped
 * last state word) are <= the target's top word: the caller confirms those against the full target.
 *
 * Only the functions marked with target("sha,sse4.1") use the extensions, so the addon loads and can
 * answer `shaNi === false` on any x86-64 CPU; it never executes a SHA instruction there.
 */
#include "kernel.h"

#if JBC_X86
#include <cpuid.h>
#include <immintrin.h>

int jbc_cpu_has_sha_ni(void) {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  const int ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
  const int sha = (ebx >> 29) & 1;
  return ssse3 && sse41 && sha;
}

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* State lives in two registers as the instructions want it: ABEF = {F,E,B,A} and CDGH = {H,G,D,C}
 * (lane 0 first). One sha256rnds2 runs two rounds using the low two lanes of its W+K operand. */
#define KV(i) _mm_loadu_si128((const __m128i*)&K[i])

/* Four rounds on message words `m` (W[i..i+3]). */
#define ROUNDS4(abef, cdgh, m, i)                          \
  do {                                                     \
    __m128i wk_ = _mm_add_epi32((m), KV(i));               \
    (cdgh) = _mm_sha256rnds2_epu32((cdgh), (abef), wk_);   \
    wk_ = _mm_shuffle_epi32(wk_, 0x0e);                    \
    (abef) = _mm_sha256rnds2_epu32((abef), (cdgh), wk_);   \
  } while (0)

/* W[i..i+3] from the previous sixteen words held in m0..m3 (oldest first). */
#define SCHEDULE(m0, m1, m2, m3) \
  _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

/*
 * Rounds 16..63 over a rolling window of message vectors. The second hash stops two rounds early:
 * its last state word, the only one the early reject reads, is final after round 61 (h64 = f62).
 */
#define ROUNDS_16_TO_59(abef, cdgh, m0, m1, m2, m3) \
  do {                                              \
    m0 = SCHEDULE(m0, m1, m2, m3);                  \
    ROUNDS4(abef, cdgh, m0, 16);                    \
    m1 = SCHEDULE(m1, m2, m3, m0);                  \
    ROUNDS4(abef, cdgh, m1, 20);                    \
    m2 = SCHEDULE(m2, m3, m0, m1);                  \
    ROUNDS4(abef, cdgh, m2, 24);                    \
    m3 = SCHEDULE(m3, m0, m1, m2);                  \
    ROUNDS4(abef, cdgh, m3, 28);                    \
    m0 = SCHEDULE(m0, m1, m2, m3);                  \
    ROUNDS4(abef, cdgh, m0, 32);                    \
    m1 = SCHEDULE(m1, m2, m3, m0);                  \
    ROUNDS4(abef, cdgh, m1, 36);                    \
    m2 = SCHEDULE(m2, m3, m0, m1);                  \
    ROUNDS4(abef, cdgh, m2, 40);                    \
    m3 = SCHEDULE(m3, m0, m1, m2);                  \
    ROUNDS4(abef, cdgh, m3, 44);                    \
    m0 = SCHEDULE(m0, m1, m2, m3);                  \
    ROUNDS4(abef, cdgh, m0, 48);                    \
    m1 = SCHEDULE(m1, m2, m3, m0);                  \
    ROUNDS4(abef, cdgh, m1, 52);                    \
    m2 = SCHEDULE(m2, m3, m0, m1);                  \
    ROUNDS4(abef, cdgh, m2, 56);                    \
  } while (0)

/* Message words 60..63 (into m3); the caller runs the last rounds it needs. */
#define SCHEDULE_60(m0, m1, m2, m3) m3 = SCHEDULE(m3, m0, m1, m2)

/*
 * Hashes two nonces per pass: sha256rnds2 has a latency of several cycles, and two independent
 * streams let the core overlap them (measured: about 1.4x the single-stream rate on this CPU family).
 * Returns the two last state words of the second hash through h7a/h7b.
 */
SHA_TARGET static inline void hash_pair(__m128i abef0, __m128i cdgh0, __m128i m0_base, uint32_t w3a,
                                        uint32_t w3b, uint32_t* h7a, uint32_t* h7b) {
  const __m128i iv_abef = _mm_set_epi32(IV[0], IV[1], IV[4], IV[5]);
  const __m128i iv_cdgh = _mm_set_epi32(IV[2], IV[3], IV[6], IV[7]);
  const __m128i pad1 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);  /* W4..W7 of block 2 */
  const __m128i zero = _mm_setzero_si128();                         /* W8..W11 */
  const __m128i len1 = _mm_set_epi32(640, 0, 0, 0);                 /* W12..W15: 80 bytes */
  const __m128i len2 = _mm_set_epi32(256, 0, 0, 0);                 /* second hash: 32 bytes */

  /* First hash, second block: W0..W2 from the template, W3 the byte-swapped nonce. */
  __m128i a_abef = abef0, a_cdgh = cdgh0, b_abef = abef0, b_cdgh = cdgh0;
  __m128i am0 = _mm_insert_epi32(m0_base, (int)w3a, 3), am1 = pad1, am2 = zero, am3 = len1;
  __m128i bm0 = _mm_insert_epi32(m0_base, (int)w3b, 3), bm1 = pad1, bm2 = zero, bm3 = len1;
  ROUNDS4(a_abef, a_cdgh, am0, 0);
  ROUNDS4(b_abef, b_cdgh, bm0, 0);
  ROUNDS4(a_abef, a_cdgh, am1, 4);
  ROUNDS4(b_abef, b_cdgh, bm1, 4);
  ROUNDS4(a_abef, a_cdgh, am2, 8);
  ROUNDS4(b_abef, b_cdgh, bm2, 8);
  ROUNDS4(a_abef, a_cdgh, am3, 12);
  ROUNDS4(b_abef, b_cdgh, bm3, 12);
  ROUNDS_16_TO_59(a_abef, a_cdgh, am0, am1, am2, am3);
  ROUNDS_16_TO_59(b_abef, b_cdgh, bm0, bm1, bm2, bm3);
  SCHEDULE_60(am0, am1, am2, am3);
  SCHEDULE_60(bm0, bm1, bm2, bm3);
  ROUNDS4(a_abef, a_cdgh, am3, 60);
  ROUNDS4(b_abef, b_cdgh, bm3, 60);
  a_abef = _mm_add_epi32(a_abef, abef0);
  a_cdgh = _mm_add_epi32(a_cdgh, cdgh0);
  b_abef = _mm_add_epi32(b_abef, abef0);
  b_cdgh = _mm_add_epi32(b_cdgh, cdgh0);

  /* The digest words become the second hash's W0..W7 in order a..h. */
  am0 = _mm_shuffle_epi32(_mm_unpackhi_epi64(a_abef, a_cdgh), 0xb1); /* {A,B,C,D} */
  am1 = _mm_shuffle_epi32(_mm_unpacklo_epi64(a_abef, a_cdgh), 0xb1); /* {E,F,G,H} */
  bm0 = _mm_shuffle_epi32(_mm_unpackhi_epi64(b_abef, b_cdgh), 0xb1);
  bm1 = _mm_shuffle_epi32(_mm_unpacklo_epi64(b_abef, b_cdgh), 0xb1);
  am2 = bm2 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
  am3 = bm3 = len2;
  a_abef = b_abef = iv_abef;
  a_cdgh = b_cdgh = iv_cdgh;
  ROUNDS4(a_abef, a_cdgh, am0, 0);
  ROUNDS4(b_abef, b_cdgh, bm0, 0);
  ROUNDS4(a_abef, a_cdgh, am1, 4);
  ROUNDS4(b_abef, b_cdgh, bm1, 4);
  ROUNDS4(a_abef, a_cdgh, am2, 8);
  ROUNDS4(b_abef, b_cdgh, bm2, 8);
  ROUNDS4(a_abef, a_cdgh, am3, 12);
  ROUNDS4(b_abef, b_cdgh, bm3, 12);
  ROUNDS_16_TO_59(a_abef, a_cdgh, am0, am1, am2, am3);
  ROUNDS_16_TO_59(b_abef, b_cdgh, bm0, bm1, bm2, bm3);
  SCHEDULE_60(am0, am1, am2, am3);
  SCHEDULE_60(bm0, bm1, bm2, bm3);
  /* Rounds 60 and 61 only; after them ABEF = {f62, ...} and the final h is f62. */
  a_cdgh = _mm_sha256rnds2_epu32(a_cdgh, a_abef, _mm_add_epi32(am3, KV(60)));
  b_cdgh = _mm_sha256rnds2_epu32(b_cdgh, b_abef, _mm_add_epi32(bm3, KV(60)));
  *h7a = (uint32_t)_mm_cvtsi128_si32(a_cdgh) + IV[7];
  *h7b = (uint32_t)_mm_cvtsi128_si32(b_cdgh) + IV[7];
}

SHA_TARGET int64_t jbc_scan_sha_ni(const uint32_t work[JBC_WORK_WORDS], uint32_t start, uint32_t count) {
  const __m128i abef0 = _mm_set_epi32(work[0], work[1], work[4], work[5]);
  const __m128i cdgh0 = _mm_set_epi32(work[2], work[3], work[6], work[7]);
  const __m128i m0_base = _mm_set_epi32(0, work[10], work[9], work[8]);
  const uint32_t target_top = work[11];
  uint32_t i = 0;
  for (; i < count; i += 2) {
    const uint32_t n = start + i;
    uint32_t h7a, h7b;
    /* The pair's second nonce may fall past the range (odd count): its result is ignored below. */
    hash_pair(abef0, cdgh0, m0_base, __builtin_bswap32(n), __builtin_bswap32(n + 1), &h7a, &h7b);
    if (__builtin_bswap32(h7a) <= target_top) return i;
    if (__builtin_bswap32(h7b) <= target_top && i + 1 < count) return i + 1;
  }
  return -1;
}

#else

int jbc_cpu_has_sha_ni(void) { return 0; }
int64_t jbc_scan_sha_ni(const uint32_t work[JBC_WORK_WORDS], uint32_t start, uint32_t count) {
  (void)work;
  (void)start;
  (void)count;
  return -1;
}

#endif
