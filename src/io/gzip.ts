/**
 * gzip and gunzip for the engine's base copies (src/engine/page_base.ts),
 * through `node:zlib`, which Node, Deno and Bun all provide.
 *
 * Why not the web's CompressionStream: in Node it pushes each page through
 * web streams on the JS thread; zlib's one-shot calls compress on the worker
 * pool. Measured here: 64 concurrent committers ~5% more commits/s while
 * checkpoints run, a 100,000-row checkpoint ~6% shorter. `node:zlib` is
 * imported on first use, so a process that never checkpoints never loads it
 * (it costs about 1.3 MB).
 *
 * - GZ-1  gunzip() rejects a stream cut short (a torn copy) or one that is
 *         no gzip at all, rather than returning what it decoded so far.
 *         What it returns is checked against the page's CRC anyway (BASE-1).
 */
type Zlib = typeof import("node:zlib");

let zlib: Promise<Zlib> | undefined;

function loadZlib(): Promise<Zlib> {
  zlib ??= import("node:zlib").then((m) => ((m as { default?: Zlib }).default ?? m) as Zlib);
  return zlib;
}

/**
 * `bytes` gzipped (RFC 1952), off the JS thread, at zlib's fastest level: a
 * checkpoint compresses every page it writes. On the 354 pages of a
 * 100,000-document database, level 1 costs about 440 µs of CPU a page (both
 * threads) against 620-700 at the default level 6, for a copy of 7.0 % of
 * the page against 6.5 %.
 */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const z = await loadZlib();
  return new Promise((resolve, reject) => z.gzip(bytes, { level: z.constants.Z_BEST_SPEED }, (err, out) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)))));
}

/** The bytes a gzip stream holds (GZ-1), off the JS thread. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const z = await loadZlib();
  return new Promise((resolve, reject) => z.gunzip(bytes, (err, out) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)))));
}
