/**
 * A FileIO whose I/O promises resolve when a fast-check scheduler says so,
 * and which records what happened, in order (test/verify_interleaving.test.ts).
 *
 * Scheduled (each call waits for the scheduler before it runs): append and
 * write, datasync, reads of log segments (catch-up), the blocking lock(),
 * syncDir and rename. So the scheduler
 * decides the order of appends, datasyncs, lock hand-offs and checkpoint
 * steps of every handle opened through it.
 *
 * Recorded events, each with a sequence number (`seq`):
 * - "append": a write to a log segment completed; `tsns` are the TSNs of the
 *   records in it.
 * - "sync-start" / "sync-end": a datasync of `path` was called / completed.
 * The test adds its own ("ack": a commit resolved) to check GC-1.
 *
 * ErrSeq models Linux's errseq between the handles of one test, under
 * scheduledIO or, without a scheduler, errseqIO (deterministic regression
 * tests).
 */
import fc from "fast-check";
import { ErrorCode, TxtDbError, type FileHandle, type FileIO } from "../../src/mod.ts";

export type NewIoEvent =
  | { kind: "append"; path: string; tsns: number[] }
  | { kind: "sync-start" | "sync-end"; path: string; id: number }
  | { kind: "ack"; tsn: number; who: string };
export type IoEvent = NewIoEvent & { seq: number };

export class EventLog {
  readonly events: IoEvent[] = [];
  #seq = 0;
  #syncId = 0;
  add(e: NewIoEvent): number {
    const seq = ++this.#seq;
    this.events.push({ ...e, seq });
    return seq;
  }
  nextSyncId(): number {
    return ++this.#syncId;
  }

  /**
   * GC-1: every acknowledged commit's record was appended, and a datasync of
   * that file started after the append and ended before the acknowledgement.
   * Returns the violations.
   */
  unsyncedAcks(): string[] {
    const out: string[] = [];
    for (const ack of this.events) {
      if (ack.kind !== "ack") continue;
      const append = this.events.find((e) => e.kind === "append" && e.tsns.includes(ack.tsn));
      if (append === undefined || append.kind !== "append") {
        out.push(`commit ${ack.tsn} (${ack.who}) resolved at #${ack.seq} but no log append holds it`);
        continue;
      }
      const covered = this.events.some((s) => s.kind === "sync-start" && s.path === append.path && s.seq > append.seq &&
        this.events.some((e) => e.kind === "sync-end" && e.id === s.id && e.seq < ack.seq));
      if (!covered) out.push(`commit ${ack.tsn} (${ack.who}) resolved at #${ack.seq} before any datasync of ${append.path} that started after its append at #${append.seq}`);
    }
    return out;
  }
}

const isSegment = (path: string): boolean => /\/log\/\d+\.jsonl$/.test(path);
const tsnsIn = (data: Uint8Array): number[] => [...new TextDecoder().decode(data).matchAll(/\{"tsn":(\d+)/g)].map((m) => Number(m[1]));

/**
 * Linux's errseq (since 4.13), which memoryIO's MEM-5 does not model across
 * handles: a failed datasync of a file is reported once to every other
 * descriptor that had the file open when it failed — its next datasync
 * writes what is dirty, then rejects with EIO. A descriptor opened after the
 * failure is told nothing. Shared by the wrappers of one test (scheduledIO
 * or errseqIO, one per simulated process).
 */
export class ErrSeq {
  readonly #failures = new Map<string, number>();
  failed(path: string): number {
    const n = (this.#failures.get(path) ?? 0) + 1;
    this.#failures.set(path, n);
    return n;
  }
  now(path: string): number {
    return this.#failures.get(path) ?? 0;
  }

  /**
   * A descriptor of `path` opened now: returns its datasync, given the
   * underlying one (`sync`). A failure is recorded for the other
   * descriptors; a success after a failure elsewhere since this one was
   * opened (or last told) rejects with EIO, once.
   */
  descriptor(path: string): (sync: () => Promise<void>) => Promise<void> {
    let seen = this.now(path);
    return async (sync) => {
      try {
        await sync();
      } catch (err) {
        seen = this.failed(path);
        throw err;
      }
      if (seen < this.now(path)) {
        seen = this.now(path);
        throw new TxtDbError(ErrorCode.IO, `datasync '${path}' failed: an earlier writeback of this file failed (errseq)`, { cause: Object.assign(new Error("EIO"), { code: "EIO" }), file: path });
      }
    };
  }
}

/**
 * Wraps `io` with Linux's errseq between the descriptors opened through
 * every wrapper that shares `errseq` (one wrapper per simulated process),
 * with no scheduler: for deterministic regression tests
 * (test/recovery.test.ts). Faults are injected into the underlying memoryIO.
 */
export function errseqIO(io: FileIO, errseq: ErrSeq): FileIO {
  return new Proxy(io, {
    get(target, prop) {
      if (prop === "open") {
        return async (path: string, o?: Parameters<FileIO["open"]>[1]) => {
          const h = await target.open(path, o);
          const datasync = errseq.descriptor(path);
          return new Proxy(h, {
            get(t, p) {
              if (p === "datasync") return () => datasync(() => t.datasync());
              const v = Reflect.get(t, p) as unknown;
              return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
            },
          });
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as FileIO;
}

/** Wraps `io`: scheduled by `s`, recorded into `log`; `who` labels the tasks. */
export function scheduledIO(io: FileIO, s: fc.Scheduler, log: EventLog, who: string, errseq: ErrSeq | null = null): FileIO {
  const gate = (label: string): Promise<void> => s.schedule(Promise.resolve(), `${who} ${label}`);
  const wrapHandle = (h: FileHandle, path: string): FileHandle => {
    const datasync = errseq?.descriptor(path) ?? ((sync: () => Promise<void>) => sync());
    // FileHandle.close(): pending operations finish first — those held at the gate too.
    const inFlight = new Set<Promise<unknown>>();
    const track = <T>(p: Promise<T>): Promise<T> => {
      inFlight.add(p);
      void p.then(() => inFlight.delete(p), () => inFlight.delete(p));
      return p;
    };
    return new Proxy(h, {
    get(target, prop) {
      switch (prop) {
        case "close":
        case Symbol.asyncDispose:
          return async () => {
            await Promise.allSettled([...inFlight]);
            return target.close();
          };
        case "append":
        case "write":
          return (...args: [Uint8Array] | [number, Uint8Array]) => track((async () => {
            const data = args.length === 1 ? args[0] : args[1];
            await gate(`${String(prop)} ${path}`);
            const r = await (prop === "append" ? target.append(data) : target.write(args[0] as number, data));
            if (isSegment(path)) {
              const tsns = tsnsIn(data);
              if (tsns.length > 0) log.add({ kind: "append", path, tsns });
            }
            return r;
          })());
        case "datasync":
          return () => track((async () => {
            await gate(`datasync ${path}`);
            const id = log.nextSyncId();
            log.add({ kind: "sync-start", path, id });
            await datasync(async () => {
              await target.datasync();
              log.add({ kind: "sync-end", path, id });
            });
          })());
        case "read":
        case "readAll":
          // Catch-up reads of the log: when another handle's records are seen.
          if (!isSegment(path)) break;
          return (...args: [number, number] | []) => track((async () => {
            await gate(`${String(prop)} ${path}`);
            return args.length === 0 ? target.readAll() : target.read(args[0], args[1]);
          })());
        case "lock":
          return (...args: Parameters<FileHandle["lock"]>) => track((async () => {
            await gate(`lock ${args[0]} ${path}`);
            return target.lock(...args);
          })());
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  };
  return new Proxy(io, {
    get(target, prop) {
      switch (prop) {
        case "open":
          return async (path: string, o?: Parameters<FileIO["open"]>[1]) => wrapHandle(await target.open(path, o), path);
        case "syncDir":
          return async (path: string) => {
            await gate(`syncDir ${path}`);
            return target.syncDir(path);
          };
        case "rename":
          return async (from: string, to: string) => {
            await gate(`rename ${from}`);
            return target.rename(from, to);
          };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as FileIO;
}
