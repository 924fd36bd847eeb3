/**
 * Every bound of the codec, in one place, with its unit last (STYLE.md §5).
 *
 * A bound is part of the on-disk contract: raising one later is compatible
 * (old data still fits), lowering one is not (old data could stop decoding).
 */

/** Encoded key size (bytes of the binary string): keys sit in every log line and page index and are compared constantly, so they stay small. */
export const keyBytesMax = 2048;

/** Encoded value size (UTF-8 bytes of its JSON text): one value must fit comfortably in a page and a log line held in memory. */
export const valueBytesMax = 16 << 20;

/** Encoded size of one transaction's writes (bytes): a commit is one log line that is built, checksummed and fsync'd in one piece. */
export const transactionBytesMax = 64 << 20;

/** Elements of one composite (array) key, at every nesting level: a longer key is almost certainly a value passed as a key by mistake. */
export const compositeKeyElementsMax = 64;

/** Nesting of containers (arrays, objects, Maps, Sets) in a value: bounds the codec's recursion, so a deep value is refused rather than overflowing the stack. */
export const valueDepthMax = 256;

/** Nesting of arrays in a composite key: derived, since every level costs 2 bytes (tag and terminator), so a deeper key cannot fit in keyBytesMax anyway; checked first so a cyclic or absurd key fails fast instead of recursing. */
export const keyDepthMax = keyBytesMax >> 1;
