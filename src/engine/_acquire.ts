/**
 * Taking a lock that others hold only briefly (the writer lock): retry
 * tryLock for a few turns of the event loop before falling back to lock(),
 * whose wait on an addon thread costs a thread start and a wake-up (the
 * hand-off is 55-85 µs at the median on a 2-core machine,
 * bench/multiprocess.bench.ts lock-handoff).
 * The retries yield to the event loop, so other work runs meanwhile.
 */
import type { FileHandle } from "../io/file_io.ts";

/** Turns of the event loop spent retrying before the blocking wait. */
const retryTurnsMax = 16;

export async function acquireShortLock(handle: FileHandle, offset: number, yieldTurn: () => Promise<void>): Promise<void> {
  for (let turn = 0; turn < retryTurnsMax; turn++) {
    if (handle.tryLock(offset, 1, "exclusive")) return;
    await yieldTurn();
  }
  await handle.lock(offset, 1, "exclusive");
}
