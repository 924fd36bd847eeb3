/** Small assertions shared by the engine tests. */
import assert from "node:assert/strict";
import process from "node:process";
import { TxtDbError } from "../../src/errors.ts";

/** The code a call rejects (or throws) with, "resolved" if it does not. */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof TxtDbError) return err.code;
    throw err;
  }
  return "resolved";
}

/** The TxtDbError a call rejects (or throws) with; fails if it does not. */
export async function errorOf(fn: () => unknown): Promise<TxtDbError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof TxtDbError) return err;
    throw err;
  }
  assert.fail("expected a rejection");
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The fast-check seed of a test file: TXTDB_SEED replays a run; printed so a failure can be replayed. */
export function testSeed(file: string): number {
  const seed = process.env["TXTDB_SEED"] !== undefined ? Number(process.env["TXTDB_SEED"]) : Date.now() % 0x7fffffff;
  console.log(`${file}: seed=${seed} (replay: TXTDB_SEED=${seed})`);
  return seed;
}

/** Asserts that a synchronous call throws a TxtDbError with `code` (and a message matching `message`). */
export function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TxtDbError, `expected a TxtDbError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}
