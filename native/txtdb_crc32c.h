// txtdb_crc32c.h — CRC-32C (Castagnoli) for the checksums of log lines, page
// files and manifests, the same function as src/engine/_crc32c.ts.
//
// Why native: JS computes it fast once the JIT has compiled the loop, but the
// first pages a process reads (the manifest, the first page of a cold open)
// run in the interpreter at about 70 ns a byte; here it is ~0.1 ns a byte
// with the CPU's crc32 instruction and ~1 ns a byte without it.
//
// x86-64 with GCC or Clang (not MSVC, nor clang-cl, whose linker lacks
// __builtin_cpu_supports' runtime): SSE4.2 crc32, chosen at run time, so the
// binary still runs on CPUs without it. aarch64 built with the CRC extension
// (__ARM_FEATURE_CRC32: Apple silicon, or -march=armv8-a+crc; not Linux's
// default armv8-a): __crc32cd. Everything else — big-endian hosts too —
// slicing-by-8, which tests reach on this machine through
// TXTDB_NATIVE_CRC_SOFTWARE=1, read once at the first call.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <cstring>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TXTDB_CRC_BIG_ENDIAN 1  // the 4- and 8-byte loads below assume little-endian
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER)
#include <nmmintrin.h>
#define TXTDB_CRC_X86 1
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#define TXTDB_CRC_ARM 1
#endif

namespace txtdb {
namespace crc {

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t c = n;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1;
      t[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t c = t[0][n];
      for (int k = 1; k < 8; k++) {
        c = t[0][c & 0xff] ^ (c >> 8);
        t[k][n] = c;
      }
    }
  }
};

inline const Tables& tables() {
  static const Tables instance;
  return instance;
}

// The raw register (no pre/post inversion) over [p, p + n).
inline uint32_t Software(uint32_t c, const uint8_t* p, size_t n) {
  const auto& t = tables().t;
#if !TXTDB_CRC_BIG_ENDIAN
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t lo;
    std::memcpy(&lo, p, 4);  // little-endian (TXTDB_CRC_BIG_ENDIAN skips this loop)
    lo ^= c;
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
  }
#endif
  for (; n > 0; n--, p++) c = t[0][(c ^ *p) & 0xff] ^ (c >> 8);
  return c;
}

#if TXTDB_CRC_X86
__attribute__((target("sse4.2"))) inline uint32_t Hardware(uint32_t c, const uint8_t* p, size_t n) {
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
  }
  uint32_t c32 = static_cast<uint32_t>(c64);
  for (; n > 0; n--, p++) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

inline bool HasHardware() {
  static const bool has = __builtin_cpu_supports("sse4.2") && std::getenv("TXTDB_NATIVE_CRC_SOFTWARE") == nullptr;
  return has;
}
#elif TXTDB_CRC_ARM
inline uint32_t Hardware(uint32_t c, const uint8_t* p, size_t n) {
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __crc32cd(c, v);
  }
  for (; n > 0; n--, p++) c = __crc32cb(c, *p);
  return c;
}

inline bool HasHardware() {
  static const bool has = std::getenv("TXTDB_NATIVE_CRC_SOFTWARE") == nullptr;
  return has;
}
#endif

// CRC-32C of [p, p + n), continuing `crc` (0 to start), as crc32c() in JS.
inline uint32_t Crc32c(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
#if TXTDB_CRC_X86 || TXTDB_CRC_ARM
  if (HasHardware()) return ~Hardware(c, p, n);
#endif
  return ~Software(c, p, n);
}

}  // namespace crc
}  // namespace txtdb
