/**
 * Crashes of index-maintaining workloads (ROW-1, CAT-1, BLD-1, BLD-2): random
 * table transactions — with unique and non-unique indexes, an index built
 * while they run, a dropped index, checkpoints — on memoryIO() behind a
 * FileIO that takes a crash image before and after every datasync and
 * syncDir. Every image must reopen to the rows after some TSN L at least as
 * new as every acknowledged commit, with every ready index exactly what its
 * rows imply, no entry of a building index without its row; and db.table()
 * must then finish any interrupted build. Property tests print their seed;
 * replay with TXTDB_SEED=<n>.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import { memoryIO, open, TxtDbError, type CrashOptions, type Database } from "../src/mod.ts";
import { collect, testSeed } from "./_helpers/expect.ts";
import { CrashImages, type Image } from "./_helpers/crash.ts";
import { tableProblems } from "./_helpers/table_check.ts";

const seed = testSeed("table_recovery");
const soak = process.env["TXTDB_SOAK"] === "1";
const dir = "/db";

type Row = { id: number; email: string; group: number; name: string };
const options = { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byGroup: { fields: ["group", "name"] } } } as const;

type Op = { kind: "put" | "insert"; id: number; email: number; group: number } | { kind: "update"; id: number; email: number } | { kind: "delete"; id: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom("put" as const, "insert" as const), id: fc.nat(11), email: fc.nat(7), group: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("update" as const), id: fc.nat(11), email: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), id: fc.nat(11) }) },
);
interface Round {
  txs: Op[][];
  /** What runs alongside the round's transactions. */
  schema: "none" | "build" | "dropIndex" | "checkpoint";
}
const roundsArb: fc.Arbitrary<Round[]> = fc.array(
  fc.record({
    txs: fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
    schema: fc.constantFrom("none" as const, "none" as const, "build" as const, "dropIndex" as const, "checkpoint" as const),
  }),
  { minLength: 2, maxLength: 6 },
);

class Model {
  /** TSN → each row the commit changed, as it left it (undefined: deleted). */
  readonly commits = new Map<number, Array<[number, Row | undefined]>>();
  stateAt(l: number): Row[] {
    const rows = new Map<number, Row>();
    for (const tsn of [...this.commits.keys()].sort((a, b) => a - b)) {
      if (tsn > l) break;
      for (const [id, row] of this.commits.get(tsn)!) {
        if (row === undefined) rows.delete(id);
        else rows.set(id, row);
      }
    }
    return [...rows.values()].sort((a, b) => a.id - b.id);
  }
}

let version = 0;

/** One transaction of table operations; records what it committed. */
async function runTx(db: Database, ops: Op[], model: Model, ack: (tsn: number) => void): Promise<void> {
  const users = await db.table<Row>("users");
  const tx = await db.begin();
  const t = tx.table(users);
  const touched = new Set<number>();
  for (const op of ops) {
    try {
      // Only what is written counts: deleting an absent row writes nothing.
      if (op.kind === "delete") {
        if (await t.delete(op.id)) touched.add(op.id);
      } else if (op.kind === "update") await t.update(op.id, (r) => ({ ...r, email: `e${op.email}`, name: `v${++version}` }));
      else await t[op.kind]({ id: op.id, email: `e${op.email}`, group: op.group, name: `v${++version}` });
      if (op.kind !== "delete") touched.add(op.id);
    } catch (err) {
      if (!(err instanceof TxtDbError) || !["TXTDB_UNIQUE", "TXTDB_DUPLICATE_KEY", "TXTDB_NOT_FOUND"].includes(err.code)) throw err;
    }
  }
  const after: Array<[number, Row | undefined]> = [];
  for (const id of touched) after.push([id, await t.get(id)]);
  try {
    const { tsn } = await tx.commit();
    if (tsn > tx.snapshotTsn) {
      model.commits.set(tsn, after);
      ack(tsn);
    }
  } catch (err) {
    if (!(err instanceof TxtDbError && err.code === "TXTDB_CONFLICT")) throw err;
  }
}

async function runWorkload(rounds: Round[], crash: (n: number) => CrashOptions, phases: ReadonlyArray<"before" | "after">): Promise<{ model: Model; images: Image[] }> {
  const model = new Model();
  const crashes = new CrashImages(memoryIO(), crash, phases);
  const db = await open(dir, { io: crashes.io, random: () => 0 });
  await db.table<Row>("users", options);
  let builds = 0;
  for (const round of rounds) {
    const running: Array<Promise<unknown>> = round.txs.map((ops) => runTx(db, ops, model, (tsn) => crashes.ack(tsn)));
    if (round.schema === "build") running.push(db.table<Row>("users", { ...options, indexes: { ...options.indexes, [`byName${++builds}`]: { fields: "name" } } }));
    if (round.schema === "dropIndex") running.push(db.table<Row>("users").then((t) => t.dropIndex(`byName${builds}`)));
    if (round.schema === "checkpoint") running.push(db.checkpoint());
    await Promise.all(running);
  }
  await db.close();
  crashes.final();
  return { model, images: crashes.images };
}

async function verify(image: Image, model: Model): Promise<void> {
  const where = `image ${image.label}`;
  const db = await open(dir, { io: image.io }).catch((err: unknown) => assert.fail(`${where}: open rejected: ${String(err)}`));
  try {
    const l = db.stats().lastTsn;
    assert.ok(l >= image.acked, `${where}: recovered TSN ${l} lost acknowledged commit ${image.acked}`);
    const tables = await db.tables();
    if (tables.length === 0) {
      assert.deepEqual(model.stateAt(l), [], `${where}: no catalog, yet rows were committed`);
      return;
    }
    const tx = await db.begin({ readOnly: true });
    const rows = (await collect(tx.scan("users"))).map(([, v]) => v);
    await tx.rollback();
    assert.deepEqual(rows, model.stateAt(l), `${where}: rows are not those after TSN ${l}`);
    assert.deepEqual(await tableProblems(db, "users"), [], `${where}: indexes disagree with rows`);
    // BLD-2: opening the table finishes an interrupted build.
    const users = await db.table<Row>("users");
    assert.ok(Object.values(users.definition().indexes).every((ix) => ix.state === "ready"), `${where}: an index is still building`);
    assert.deepEqual(await tableProblems(db, "users"), [], `${where}: after finishing builds`);
    for (const [name, ix] of Object.entries(users.definition().indexes)) {
      if (ix.unique) for (const r of rows) assert.deepEqual(await users.index(name).get(r.email), r, `${where}: ${name} lookup`);
    }
  } finally {
    await db.close();
  }
}

/** fast-check's report of a failing property leaves the error out: say it first. */
function report(err: unknown): never {
  console.error(String((err as Error)?.stack ?? err));
  throw err;
}

describe("crash at every sync point of table workloads (seeded)", () => {
  test('crash mode "drop": before and after every datasync and syncDir, indexes agree with rows', async () => {
    let images = 0;
    await fc.assert(
      fc.asyncProperty(roundsArb, async (rounds) => {
        const w = await runWorkload(rounds, () => ({ mode: "drop" }), ["before", "after"]);
        images += w.images.length;
        for (const image of w.images) await verify(image, w.model).catch(report);
      }),
      { seed, numRuns: soak ? 100 : 20, endOnFailure: true },
    );
    console.log(`table_recovery: ${images} crash images verified`);
  });

  test('crash mode "torn": unsynced sectors torn in any order, before every sync point', async () => {
    await fc.assert(
      fc.asyncProperty(roundsArb, fc.integer({ min: 1, max: 1 << 30 }), async (rounds, crashSeed) => {
        const w = await runWorkload(rounds, (n) => ({ mode: "torn", seed: crashSeed + n }), ["before"]);
        for (const image of w.images) await verify(image, w.model).catch(report);
      }),
      { seed: seed + 1, numRuns: soak ? 60 : 10, endOnFailure: true },
    );
  });
});
