/**
 * Model-based test of transactions (test/verify_isolation.test.ts): random
 * command sequences — begin, get, put, delete, scan, commit, rollback,
 * checkpoint, db.get / db.put, close-and-reopen, crash-and-reopen — with
 * several transactions open at once, run on the engine and on the reference
 * model (si_model.ts). Every return value and commit outcome must be equal.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { open, ConflictError, TxtDbError, type Database, type FileIO, type Transaction } from "../../src/mod.ts";
import { codeOf, collect } from "./expect.ts";
import { SiModel, type Isolation, type ModelTx, type ScanSpec, type Value } from "./si_model.ts";

export const modelNamespaces = ["x", "y"] as const;
export const modelKeys = ["a", "ab", "abc", "b", "ba", "bb", "c"] as const;

interface Model {
  m: SiModel;
  open: ModelTx[];
  /** Whether close-and-crash can be simulated (memoryIO). */
  crashable: boolean;
}

export interface Real {
  /** One or two handles on the database: commands pick one by index (two handles behave as two processes). */
  dbs: Database[];
  txs: Map<number, Transaction>;
  /** Closes the database and opens it again; `crash`: from a crash image of it instead (memoryIO only). */
  reopen(crash: boolean): Promise<void>;
}

const pick = (model: Model, i: number): ModelTx => model.open[i % model.open.length]!;
const realTx = (real: Real, tx: ModelTx): Transaction => {
  const t = real.txs.get(tx.id);
  assert.ok(t !== undefined, `no engine transaction for model transaction ${tx.id}`);
  return t;
};
const show = (x: unknown): string => JSON.stringify(x);
const on = (real: Real, h: number): Database => real.dbs[h % real.dbs.length]!;

type Cmd = fc.AsyncCommand<Model, Real>;

class Begin implements Cmd {
  constructor(readonly isolation: Isolation, readonly readOnly: boolean, readonly h: number) {}
  check = (model: Readonly<Model>): boolean => model.open.length < 6;
  async run(model: Model, real: Real): Promise<void> {
    const mtx = model.m.begin(this.isolation, this.readOnly);
    const tx = await on(real, this.h).begin({ isolation: this.isolation, readOnly: this.readOnly });
    assert.equal(tx.snapshotTsn, mtx.snapshot, "begin() sees every resolved commit (contract 6)");
    model.open.push(mtx);
    real.txs.set(mtx.id, tx);
  }
  toString = (): string => `db${this.h}.begin(${this.isolation}${this.readOnly ? ", readOnly" : ""})`;
}

class Get implements Cmd {
  constructor(readonly i: number, readonly ns: string, readonly key: string) {}
  check = (model: Readonly<Model>): boolean => model.open.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const mtx = pick(model, this.i);
    const got = await realTx(real, mtx).get(this.ns, this.key);
    assert.deepEqual(got, model.m.get(mtx, this.ns, this.key), `tx${mtx.id}.get(${this.ns}, ${this.key})`);
  }
  toString = (): string => `tx[${this.i}].get(${this.ns}, ${this.key})`;
}

class Write implements Cmd {
  constructor(readonly i: number, readonly ns: string, readonly key: string, readonly value: Value | null) {}
  check = (model: Readonly<Model>): boolean => model.open.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const mtx = pick(model, this.i);
    const tx = realTx(real, mtx);
    const call = (): Promise<void> => (this.value === null ? tx.delete(this.ns, this.key) : tx.put(this.ns, this.key, this.value));
    if (mtx.readOnly) {
      assert.equal(await codeOf(call), "TXTDB_READ_ONLY", "a write in a readOnly transaction (contract 9)");
      return;
    }
    await call();
    model.m.write(mtx, this.ns, this.key, this.value);
  }
  toString = (): string => `tx[${this.i}].${this.value === null ? `delete(${this.ns}, ${this.key})` : `put(${this.ns}, ${this.key}, ${show(this.value)})`}`;
}

class Scan implements Cmd {
  /** `take`: the caller stops reading after this many entries (the engine then observes up to the last one returned). */
  constructor(readonly i: number, readonly ns: string, readonly spec: ScanSpec, readonly take: number | null) {}
  check = (model: Readonly<Model>): boolean => model.open.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const mtx = pick(model, this.i);
    const got: Array<[unknown, unknown]> = [];
    if (this.take === null) got.push(...(await collect(realTx(real, mtx).scan(this.ns, this.spec))));
    else if (this.take > 0) {
      for await (const row of realTx(real, mtx).scan(this.ns, this.spec)) {
        got.push(row);
        if (got.length >= this.take) break;
      }
    }
    const limit = Math.min(this.spec.limit ?? Infinity, this.take ?? Infinity);
    const expected = model.m.scan(mtx, this.ns, { ...this.spec, ...(limit === Infinity ? {} : { limit }) });
    assert.deepEqual(got, expected, `tx${mtx.id}.scan(${this.ns}, ${show(this.spec)})${this.take === null ? "" : ` taking ${this.take}`}`);
  }
  toString = (): string => `tx[${this.i}].scan(${this.ns}, ${show(this.spec)})${this.take === null ? "" : `.take(${this.take})`}`;
}

class Commit implements Cmd {
  constructor(readonly i: number) {}
  check = (model: Readonly<Model>): boolean => model.open.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const mtx = pick(model, this.i);
    const tx = realTx(real, mtx);
    const got = await tx.commit().then(
      (r) => r,
      (err: unknown) => {
        if (err instanceof ConflictError && err.code === "TXTDB_CONFLICT") return "conflict" as const;
        throw err;
      },
    );
    const expected = model.m.commit(mtx);
    assert.deepEqual(got, expected, `tx${mtx.id} (snapshot ${mtx.snapshot}, ${mtx.isolation}).commit()`);
    await ended(model, real, mtx, tx);
  }
  toString = (): string => `tx[${this.i}].commit()`;
}

class Rollback implements Cmd {
  constructor(readonly i: number) {}
  check = (model: Readonly<Model>): boolean => model.open.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const mtx = pick(model, this.i);
    const tx = realTx(real, mtx);
    await tx.rollback();
    model.m.rollback(mtx);
    await ended(model, real, mtx, tx);
  }
  toString = (): string => `tx[${this.i}].rollback()`;
}

/** Contract 1: after commit or rollback every call but rollback() throws TXTDB_TX_CLOSED. */
async function ended(model: Model, real: Real, mtx: ModelTx, tx: Transaction): Promise<void> {
  model.open.splice(model.open.indexOf(mtx), 1);
  real.txs.delete(mtx.id);
  assert.equal(await codeOf(() => tx.get("x", "a")), "TXTDB_TX_CLOSED");
  assert.equal(await codeOf(() => collect(tx.scan("x"))), "TXTDB_TX_CLOSED");
  assert.equal(await codeOf(() => tx.commit()), "TXTDB_TX_CLOSED");
  await tx.rollback();
}

class DbGet implements Cmd {
  constructor(readonly ns: string, readonly key: string, readonly h: number) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    assert.deepEqual(await on(real, this.h).get(this.ns, this.key), model.m.valueAt(this.ns, this.key, model.m.lastTsn), `db.get(${this.ns}, ${this.key})`);
  }
  toString = (): string => `db${this.h}.get(${this.ns}, ${this.key})`;
}

class DbWrite implements Cmd {
  constructor(readonly ns: string, readonly key: string, readonly value: Value | null, readonly h: number) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const db = on(real, this.h);
    const got = await (this.value === null ? db.delete(this.ns, this.key) : db.put(this.ns, this.key, this.value));
    const mtx = model.m.begin("snapshot");
    model.m.write(mtx, this.ns, this.key, this.value);
    assert.deepEqual(got, model.m.commit(mtx), `db.${this.value === null ? "delete" : "put"}(${this.ns}, ${this.key})`);
  }
  toString = (): string => `db${this.h}.${this.value === null ? `delete(${this.ns}, ${this.key})` : `put(${this.ns}, ${this.key}, ${show(this.value)})`}`;
}

class Checkpoint implements Cmd {
  constructor(readonly h: number) {}
  check = (): boolean => true;
  async run(_model: Model, real: Real): Promise<void> {
    await on(real, this.h).checkpoint();
  }
  toString = (): string => `db${this.h}.checkpoint()`;
}

class Reopen implements Cmd {
  constructor(readonly crash: boolean) {}
  check = (model: Readonly<Model>): boolean => !this.crash || model.crashable;
  async run(model: Model, real: Real): Promise<void> {
    const open = [...real.txs.values()];
    await real.reopen(this.crash);
    for (const tx of open) assert.equal(await codeOf(() => tx.get("x", "a")), "TXTDB_CLOSED", "a transaction of a closed database");
    for (const mtx of model.open) model.m.rollback(mtx);
    model.open = [];
    real.txs.clear();
    for (const db of real.dbs) {
      assert.equal(db.stats().lastTsn, model.m.lastTsn, "TSN after reopen");
      assert.deepEqual(await dumpModelNamespaces(db), model.m.dump(), "state after reopen");
    }
  }
  toString = (): string => (this.crash ? "crash and reopen" : "close and reopen");
}

/** The engine's state, in SiModel.dump() form. */
export async function dumpModelNamespaces(db: Database): Promise<Array<[string, Array<[string, Value]>]>> {
  const tx = await db.begin({ readOnly: true });
  try {
    const out: Array<[string, Array<[string, Value]>]> = [];
    for (const ns of modelNamespaces) {
      const rows = (await collect(tx.scan(ns))) as Array<[string, Value]>;
      if (rows.length > 0) out.push([ns, rows]);
    }
    return out;
  } finally {
    await tx.rollback();
  }
}

const nsArb = fc.constantFrom(...modelNamespaces);
const keyArb = fc.constantFrom(...modelKeys);
const valueArb: fc.Arbitrary<Value> = fc.oneof(fc.nat(99), fc.record({ v: fc.nat(99), tag: fc.constantFrom("", "é", "x".repeat(40)) }).map((r) => ({ ...r })));
const txIndex = fc.nat(5);
const handle = fc.nat(1);
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined, freq: 3 });
const specArb: fc.Arbitrary<ScanSpec> = fc
  .tuple(maybe(fc.constantFrom("a", "b", "ab", "")), maybe(keyArb), maybe(keyArb), maybe(keyArb), maybe(keyArb), maybe(fc.nat(4)), fc.boolean())
  .map(([prefix, gte, gt, lte, lt, limit, reverse]) => {
    const spec: ScanSpec = { reverse };
    for (const [k, v] of [["prefix", prefix], ["gte", gte], ["gt", gt], ["lte", lte], ["lt", lt], ["limit", limit]] as const) {
      if (v !== undefined) (spec as Record<string, unknown>)[k] = v;
    }
    return spec;
  });

/** The command generators; `isolations`: which isolation levels transactions use. */
export function isolationCommands(isolations: readonly Isolation[], maxCommands: number): fc.Arbitrary<Iterable<Cmd>> {
  const iso = fc.constantFrom(...isolations);
  const arbs: Array<fc.Arbitrary<Cmd>> = [
    fc.tuple(iso, fc.constantFrom(false, false, true), handle).map(([i, ro, h]) => new Begin(i, ro, h)),
    fc.tuple(iso, handle).map(([i, h]) => new Begin(i, false, h)),
    fc.tuple(iso, handle).map(([i, h]) => new Begin(i, false, h)),
    fc.tuple(txIndex, nsArb, keyArb).map(([i, ns, k]) => new Get(i, ns, k)),
    fc.tuple(txIndex, nsArb, keyArb).map(([i, ns, k]) => new Get(i, ns, k)),
    fc.tuple(txIndex, nsArb, keyArb, valueArb).map(([i, ns, k, v]) => new Write(i, ns, k, v)),
    fc.tuple(txIndex, nsArb, keyArb, valueArb).map(([i, ns, k, v]) => new Write(i, ns, k, v)),
    fc.tuple(txIndex, nsArb, keyArb).map(([i, ns, k]) => new Write(i, ns, k, null)),
    fc.tuple(txIndex, nsArb, specArb, fc.option(fc.nat(3), { nil: null, freq: 3 })).map(([i, ns, s, t]) => new Scan(i, ns, s, t)),
    fc.tuple(txIndex, nsArb, specArb, fc.option(fc.nat(3), { nil: null, freq: 3 })).map(([i, ns, s, t]) => new Scan(i, ns, s, t)),
    txIndex.map((i) => new Commit(i)),
    txIndex.map((i) => new Commit(i)),
    txIndex.map((i) => new Rollback(i)),
    fc.tuple(nsArb, keyArb, handle).map(([ns, k, h]) => new DbGet(ns, k, h)),
    fc.tuple(nsArb, keyArb, fc.option(valueArb, { nil: null, freq: 4 }), handle).map(([ns, k, v, h]) => new DbWrite(ns, k, v, h)),
    handle.map((h) => new Checkpoint(h)),
    fc.boolean().map((crash) => new Reopen(crash)),
  ];
  return fc.commands(arbs, { maxCommands, size: "max" });
}

export interface Target {
  /** A fresh, empty place for a database: its FileIO, path, and a crash image maker (null: cannot crash). */
  fresh(): Promise<{ io: FileIO; dir: string; crash: ((io: FileIO) => FileIO) | null; cleanup(): Promise<void> }>;
}

/** The property: engine and model agree on every command sequence. */
export function isolationProperty(target: Target, isolations: readonly Isolation[], maxCommands = 40, handles: 1 | 2 = 1): fc.IAsyncPropertyWithHooks<[Iterable<Cmd>]> {
  return fc.asyncProperty(isolationCommands(isolations, maxCommands), async (cmds) => {
    const place = await target.fresh();
    let io = place.io;
    const openAll = async (): Promise<Database[]> => {
      const dbs: Database[] = [];
      for (let h = 0; h < handles; h++) dbs.push(await open(place.dir, { io, random: () => 0 }));
      return dbs;
    };
    const real: Real = {
      dbs: await openAll(),
      txs: new Map(),
      async reopen(crash) {
        const image = crash ? place.crash!(io) : null;
        for (const db of real.dbs) await db.close();
        if (image !== null) io = image;
        real.dbs = await openAll();
      },
    };
    try {
      const model: Model = { m: new SiModel(), open: [], crashable: place.crash !== null };
      await fc.asyncModelRun(() => ({ model, real }), cmds);
      // Finally: everything committed is there after a clean close.
      await new Reopen(false).run(model, real);
      assert.deepEqual(await real.dbs[0]!.check(), { ok: true, problems: [] }, "check() after the run");
    } finally {
      for (const db of real.dbs) {
        await db.close().catch((err: unknown) => {
          if (!(err instanceof TxtDbError)) throw err;
        });
      }
      await place.cleanup();
    }
  });
}
