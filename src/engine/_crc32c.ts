/**
 * CRC-32C (Castagnoli), slicing-by-8: the checksum of log records and page
 * files. Detects every burst error up to 32 bits and torn sector writes with
 * probability 1 − 2⁻³².
 *
 * Ranges of nativeFromBytes or more go to the native addon once nativeIO()
 * has loaded it (NATIVE-13: the same function, on the CPU's crc32
 * instruction; memoryIO alone never loads the addon): besides being faster on
 * big pages, it spares a cold process the interpreter — the first manifest
 * and page a process checks would otherwise run this loop before the JIT
 * compiles it, at about 70 ns a byte (3 ms for a 45 KB manifest, a quarter
 * of a cold open).
 */
import { loadedNative } from "../io/_native.ts";

/** Below this many bytes the call into the addon costs more than the loop. */
const nativeFromBytes = 512;

type Crc32c = (bytes: Uint8Array, start: number, end: number, crc: number) => number;

/** The addon's crc32c once the addon was loaded (null: it has none, or did not load); undefined before. */
let native: Crc32c | null | undefined;

function nativeCrc32c(): Crc32c | null | undefined {
  if (native === undefined) {
    const load = loadedNative();
    if (load === undefined) return undefined; // not loaded (yet): ask again next time
    const addon = load.addon;
    native = addon?.crc32c === undefined ? null : addon.crc32c.bind(addon);
  }
  return native;
}

const tables: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[0]![n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c >>> 0;
    }
  }
  return t;
})();

/** CRC-32C of bytes[start, end). Pass a previous result as `crc` to continue it. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  if (end - start >= nativeFromBytes) {
    const fast = nativeCrc32c();
    if (fast !== undefined && fast !== null) return fast(bytes, start, end, crc);
  }
  return crc32cJs(bytes, start, end, crc);
}

/** The same, always in JS (tests compare the two). */
export function crc32cJs(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = ~crc >>> 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    c = t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
      t3[bytes[i + 4]!]! ^ t2[bytes[i + 5]!]! ^ t1[bytes[i + 6]!]! ^ t0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** 8 lowercase hex digits. */
export function crcHex(crc: number): string {
  return crc.toString(16).padStart(8, "0");
}
