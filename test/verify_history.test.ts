/**
 * Verification, histories (issue 5, part 3): the list-append history
 * checker (test/_helpers/history.ts) on small hand-made histories with known
 * anomalies, then on the engine's own histories under snapshot isolation and
 * serializable, from several logical clients on one or two handles.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkHistory, type Level, type MicroOp, type Txn } from "./_helpers/history.ts";
import { historyProperty } from "./_helpers/history_workload.ts";
import { verifyProperty } from "./_helpers/verify.ts";

const file = "verify_history";

const r = (key: string, ...value: number[]): MicroOp => ({ f: "r", key, value });
const a = (key: string, value: number): MicroOp => ({ f: "append", key, value });
const t = (id: number, ops: MicroOp[], status: Txn["status"] = "ok"): Txn => ({ id, client: id, status, ops });
const types = (h: Txn[], level: Level): string[] => checkHistory(h, level).map((x) => x.type).sort();

describe("history checker on hand-made histories", () => {
  test("a serial history has no anomaly at either level", () => {
    const h = [t(1, [r("x"), a("x", 1)]), t(2, [r("x", 1), a("x", 2), r("y")]), t(3, [r("x", 1, 2), r("y")])];
    assert.deepEqual(types(h, "snapshot"), []);
    assert.deepEqual(types(h, "serializable"), []);
  });

  test("G0: two transactions' appends in opposite orders on two keys (a ww cycle)", () => {
    const h = [t(1, [a("x", 1), a("y", 1)]), t(2, [a("x", 2), a("y", 2)]), t(3, [r("x", 1, 2), r("y", 2, 1)])];
    assert.deepEqual(types(h, "snapshot"), ["G0"]);
    assert.deepEqual(types(h, "serializable"), ["G0"]);
  });

  test("G1a: reading a failed transaction's append", () => {
    const h = [t(1, [a("x", 1)], "fail"), t(2, [r("x", 1)])];
    assert.deepEqual(types(h, "snapshot"), ["G1a"]);
  });

  test("G1b: reading an intermediate state of another transaction (it also read-depends both ways: G-single)", () => {
    const h = [t(1, [a("x", 1), a("x", 2)]), t(2, [r("x", 1)]), t(3, [r("x", 1, 2)])];
    assert.deepEqual(types(h, "snapshot"), ["G-single", "G1b"]);
  });

  test("G1c: each transaction reads the other's append (a wr cycle)", () => {
    const h = [t(1, [a("x", 1), r("y", 2)]), t(2, [a("y", 2), r("x", 1)])];
    assert.deepEqual(types(h, "snapshot"), ["G1c"]);
    assert.deepEqual(types(h, "serializable"), ["G1c"]);
  });

  test("lost update: both read the same version and appended (also a G-single cycle)", () => {
    const h = [t(1, [r("x"), a("x", 1)]), t(2, [r("x"), a("x", 2)]), t(3, [r("x", 1, 2)])];
    assert.deepEqual(types(h, "snapshot"), ["G-single", "lost-update"]);
    assert.deepEqual(types(h, "serializable"), ["G-single", "lost-update"]);
  });

  test("write skew (two adjacent rw edges) is allowed under SI, G2 under serializable", () => {
    const h = [t(1, [r("x"), r("y"), a("x", 1)]), t(2, [r("x"), r("y"), a("y", 1)]), t(3, [r("x", 1), r("y", 1)])];
    assert.deepEqual(types(h, "snapshot"), []);
    assert.deepEqual(types(h, "serializable"), ["G2"]);
  });

  test("G-nonadjacent: a cycle rw, wr, rw, wr is forbidden under SI", () => {
    const h = [
      t(1, [r("a"), r("d", 1)]), // rw → T2 (a), read T4's d
      t(2, [a("a", 1), a("b", 1)]),
      t(3, [r("b", 1), r("c")]), // wr from T2, rw → T4 (c)
      t(4, [a("c", 1), a("d", 1)]),
      t(5, [r("a", 1), r("c", 1)]),
    ];
    assert.deepEqual(types(h, "snapshot"), ["G-nonadjacent"]);
    assert.deepEqual(types(h, "serializable"), ["G-nonadjacent"]);
  });

  test("internal inconsistency: a read that misses the transaction's own append or its earlier read", () => {
    assert.deepEqual(types([t(1, [a("x", 1), r("x")])], "snapshot"), ["internal"]);
    assert.deepEqual(types([t(1, [r("x"), a("x", 1), r("x", 1)]), t(2, [r("y"), r("y", 5)]), t(3, [a("y", 5)])], "snapshot"), ["G-single", "internal"]);
  });

  test("incompatible orders and garbage reads", () => {
    const h = [t(1, [a("x", 1)]), t(2, [a("x", 2)]), t(3, [r("x", 1, 2)]), t(4, [r("x", 2)])];
    assert.deepEqual(types(h, "snapshot"), ["G-single", "incompatible-order"]);
    assert.deepEqual(types([t(1, [r("x", 9)])], "snapshot"), ["garbage-read"]);
  });

  test("each report names the transactions and the cycle", () => {
    const [anomaly] = checkHistory([t(1, [a("x", 1), r("y", 2)]), t(2, [a("y", 2), r("x", 1)])], "snapshot");
    assert.deepEqual(anomaly?.txns.sort(), [1, 2]);
    assert.match(anomaly!.detail, /T1 -wr→ T2 -wr→ T1|T2 -wr→ T1 -wr→ T2/);
  });
});

describe("the engine's list-append histories", () => {
  for (const level of ["snapshot", "serializable"] as const) {
    const name = `${level}: concurrent clients on one or two handles show no anomaly ${level} forbids`;
    test(name, () => verifyProperty({ file, name, runs: 60 }, historyProperty(level)));
  }
});
