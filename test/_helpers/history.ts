/**
 * A history checker for list-append workloads, in the manner of Elle
 * (Kingsbury & Alvaro, "Elle: inferring isolation anomalies from
 * experimental observations", 2020) and Adya's dependency graphs.
 *
 * A history is a list of transactions, each with its micro-operations in
 * order: `append(k, v)` adds v to the end of the list at k, `r(k)` observed
 * the whole list. Every appended value is unique per key, so a read names
 * exactly which appends it saw and in what order: the longest read of a key
 * is (a prefix of) that key's version order, and every other read must be a
 * prefix of it.
 *
 * Reported anomalies (each with the transactions involved):
 *
 * - "duplicate-append"   one value appended twice to a key (a workload error)
 * - "garbage-read"       a read holds a value nobody appended
 * - "incompatible-order" two reads of a key where neither is a prefix of the other
 * - "internal"           a transaction's read disagrees with its own earlier
 *                        reads and appends (internal inconsistency)
 * - "G1a" aborted read   a committed transaction read a failed one's append
 * - "G1b" intermediate   a read ends at a value its writer followed with
 *                        another append to that key (not its final state)
 * - "lost-update"        two committed transactions read the same version of
 *                        a key and both appended to it
 * - cycles in the dependency graph of committed transactions, with edges
 *   ww (T1's append directly precedes T2's in a key's order), wr (T2 read
 *   a version whose last value T1 appended), rw (T1 read a version, T2
 *   appended the value right after it):
 *     "G0" only ww · "G1c" ww and wr · "G-single" exactly one rw ·
 *     "G-nonadjacent" several rw, no two adjacent · "G2" adjacent rw.
 *   Snapshot isolation forbids every cycle without two adjacent rw edges
 *   (G0, G1c, G-single, G-nonadjacent); serializable forbids every cycle.
 *
 * Failed transactions ("fail": rejected, nothing written) take no part in
 * the graph. "info" transactions (outcome unknown) count as committed when
 * one of their appends was read, else are left out.
 */

export type MicroOp = { f: "append"; key: string; value: number } | { f: "r"; key: string; value: readonly number[] };

export interface Txn {
  id: number;
  /** The logical client (for messages). */
  client: number;
  status: "ok" | "fail" | "info";
  ops: MicroOp[];
}

export interface Anomaly {
  type: string;
  txns: number[];
  detail: string;
}

export type Level = "snapshot" | "serializable";

type EdgeType = "ww" | "wr" | "rw";

/** Anomalies `level` forbids in `history`; empty when it is consistent with the level. */
export function checkHistory(history: readonly Txn[], level: Level): Anomaly[] {
  const out: Anomaly[] = [];
  const byId = new Map(history.map((t) => [t.id, t]));
  // Who appended each (key, value), and at which of that transaction's appends to the key.
  const writer = new Map<string, { txn: Txn; index: number; last: boolean }>();
  const id = (k: string, v: number): string => `${k}\u0000${v}`;
  for (const t of history) {
    const perKey = new Map<string, number[]>();
    for (const op of t.ops) if (op.f === "append") (perKey.get(op.key) ?? perKey.set(op.key, []).get(op.key)!).push(op.value);
    for (const [k, values] of perKey) {
      values.forEach((v, index) => {
        const prior = writer.get(id(k, v));
        if (prior !== undefined) out.push({ type: "duplicate-append", txns: [prior.txn.id, t.id], detail: `${k} ← ${v} appended twice` });
        writer.set(id(k, v), { txn: t, index, last: index === values.length - 1 });
      });
    }
  }
  const committed = (t: Txn): boolean => t.status === "ok" || (t.status === "info" && infoSeen.has(t.id));
  const infoSeen = new Set<number>();
  for (const t of history) {
    for (const op of t.ops) {
      if (op.f !== "r") continue;
      for (const v of op.value) {
        const w = writer.get(id(op.key, v));
        if (w === undefined) out.push({ type: "garbage-read", txns: [t.id], detail: `T${t.id} read ${op.key} = ${show(op.value)}: nobody appended ${v}` });
        else if (w.txn.status === "info" && w.txn.id !== t.id && t.status === "ok") infoSeen.add(w.txn.id);
      }
    }
  }

  // Internal consistency, and each read's external part (without the reader's own trailing appends).
  interface Read { txn: Txn; key: string; external: readonly number[] }
  const reads: Read[] = [];
  for (const t of history) {
    const known = new Map<string, number[]>(); // what the transaction must see next, when it has read the key
    const own = new Map<string, number[]>(); // its appends so far
    for (const op of t.ops) {
      if (op.f === "append") {
        known.get(op.key)?.push(op.value);
        (own.get(op.key) ?? own.set(op.key, []).get(op.key)!).push(op.value);
        continue;
      }
      const mine = own.get(op.key) ?? [];
      const expected = known.get(op.key);
      if (expected !== undefined && !sameList(expected, op.value)) {
        out.push({ type: "internal", txns: [t.id], detail: `T${t.id} read ${op.key} = ${show(op.value)}, expected ${show(expected)} from its own reads and appends` });
      } else if (expected === undefined && !sameList(op.value.slice(op.value.length - mine.length), mine)) {
        out.push({ type: "internal", txns: [t.id], detail: `T${t.id} read ${op.key} = ${show(op.value)} without its own appends ${show(mine)}` });
      }
      known.set(op.key, [...op.value]);
      const external = op.value.slice(0, Math.max(0, op.value.length - mine.length));
      if (t.status !== "fail") reads.push({ txn: t, key: op.key, external });
    }
  }

  // G1a, G1b.
  for (const r of reads) {
    if (!committed(r.txn)) continue;
    for (const v of r.external) {
      const w = writer.get(id(r.key, v));
      if (w?.txn.status === "fail") out.push({ type: "G1a", txns: [w.txn.id, r.txn.id], detail: `T${r.txn.id} read ${r.key} ${v}, appended by failed T${w.txn.id}` });
    }
    const lastV = r.external.at(-1);
    const w = lastV === undefined ? undefined : writer.get(id(r.key, lastV));
    if (w !== undefined && w.txn.id !== r.txn.id && !w.last) {
      out.push({ type: "G1b", txns: [w.txn.id, r.txn.id], detail: `T${r.txn.id} read ${r.key} = ${show(r.external)}, an intermediate state of T${w.txn.id}` });
    }
  }

  // Version orders: the longest read of each key; every read a prefix of it.
  const order = new Map<string, readonly number[]>();
  for (const t of history) {
    if (t.status === "fail") continue;
    for (const op of t.ops) if (op.f === "r" && op.value.length > (order.get(op.key)?.length ?? -1)) order.set(op.key, op.value);
  }
  for (const t of history) {
    if (t.status === "fail") continue;
    for (const op of t.ops) {
      if (op.f !== "r") continue;
      const longest = order.get(op.key)!;
      if (!sameList(longest.slice(0, op.value.length), op.value)) {
        out.push({ type: "incompatible-order", txns: [t.id], detail: `T${t.id} read ${op.key} = ${show(op.value)}, not a prefix of ${show(longest)}` });
      }
    }
  }

  // Lost updates: two committed transactions that read the same version of a key and both appended to it.
  const readVersion = new Map<string, Map<string, number[]>>(); // key → version → readers that appended
  for (const r of reads) {
    if (!committed(r.txn) || !r.txn.ops.some((op) => op.f === "append" && op.key === r.key)) continue;
    const byVersion = readVersion.get(r.key) ?? readVersion.set(r.key, new Map()).get(r.key)!;
    const v = show(r.external);
    const readers = byVersion.get(v) ?? byVersion.set(v, []).get(v)!;
    if (!readers.includes(r.txn.id)) readers.push(r.txn.id);
  }
  for (const [k, byVersion] of readVersion) {
    for (const [v, readers] of byVersion) {
      if (readers.length > 1) out.push({ type: "lost-update", txns: readers, detail: `${readers.map((t) => `T${t}`).join(", ")} all read ${k} = ${v} and appended to it` });
    }
  }

  // The dependency graph of committed transactions.
  const edges = new Map<number, Map<number, Set<EdgeType>>>();
  const edge = (from: Txn, to: Txn, type: EdgeType): void => {
    if (from.id === to.id || !committed(from) || !committed(to)) return;
    const m = edges.get(from.id) ?? edges.set(from.id, new Map()).get(from.id)!;
    (m.get(to.id) ?? m.set(to.id, new Set()).get(to.id)!).add(type);
  };
  for (const [k, values] of order) {
    for (let i = 0; i + 1 < values.length; i++) {
      const a = writer.get(id(k, values[i]!));
      const b = writer.get(id(k, values[i + 1]!));
      if (a !== undefined && b !== undefined) edge(a.txn, b.txn, "ww");
    }
  }
  for (const r of reads) {
    if (!committed(r.txn)) continue;
    const values = order.get(r.key) ?? [];
    const lastV = r.external.at(-1);
    if (lastV !== undefined) {
      const w = writer.get(id(r.key, lastV));
      if (w !== undefined) edge(w.txn, r.txn, "wr");
    }
    const next = values[r.external.length];
    const u = next === undefined ? undefined : writer.get(id(r.key, next));
    if (u !== undefined) edge(r.txn, u.txn, "rw");
  }
  for (const cycle of forbiddenCycles(edges, level)) {
    out.push({ type: classify(cycle.types), txns: cycle.nodes, detail: cycle.nodes.map((n, i) => `T${n} -${cycle.types[i]}→ `).join("") + `T${cycle.nodes[0]}` });
  }
  void byId;
  return out;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function show(list: readonly number[]): string {
  return `[${list.join(",")}]`;
}

function classify(types: EdgeType[]): string {
  const rw = types.filter((t) => t === "rw").length;
  if (rw === 0) return types.includes("wr") ? "G1c" : "G0";
  if (rw === 1) return "G-single";
  const adjacent = types.some((t, i) => t === "rw" && types[(i + 1) % types.length] === "rw");
  return adjacent ? "G2" : "G-nonadjacent";
}

/**
 * One forbidden cycle per strongly connected component at most (enough to
 * fail a test and show why). Between two transactions the search uses a
 * non-rw edge when there is one: only rw edges are constrained.
 *
 * For snapshot isolation it looks for a closed walk with no two adjacent rw
 * edges (wrapping around), by breadth-first search over (transaction, whether
 * the last edge was rw). A closed walk is enough: Fekete et al.'s argument
 * (take the transaction of the walk that committed first; the edge into it
 * and the one before must both be rw) holds for walks as well as cycles, so
 * SI forbids every such walk. Polynomial, so it never gives up.
 */
function forbiddenCycles(edges: Map<number, Map<number, Set<EdgeType>>>, level: Level): Array<{ nodes: number[]; types: EdgeType[] }> {
  const typeOf = (from: number, to: number): EdgeType => {
    const s = edges.get(from)!.get(to)!;
    return s.has("ww") ? "ww" : s.has("wr") ? "wr" : "rw";
  };
  const found: Array<{ nodes: number[]; types: EdgeType[] }> = [];
  for (const scc of components(edges)) {
    if (scc.length < 2) continue;
    const inScc = new Set(scc);
    let cycle: { nodes: number[]; types: EdgeType[] } | null = null;
    for (const start of [...scc].sort((a, b) => a - b)) {
      for (const first of edges.get(start)?.keys() ?? []) {
        if (!inScc.has(first)) continue;
        const t0 = typeOf(start, first);
        // BFS over states "node,prevRw" from the first edge's head back to start.
        const key = (n: number, rw: boolean): string => `${n},${rw ? 1 : 0}`;
        const parent = new Map<string, { from: string; node: number; type: EdgeType } | null>([[key(first, t0 === "rw"), null]]);
        const queue: Array<[number, boolean]> = [[first, t0 === "rw"]];
        let closing: { state: string; type: EdgeType } | null = null;
        while (queue.length > 0 && closing === null) {
          const [node, prevRw] = queue.shift()!;
          for (const next of edges.get(node)?.keys() ?? []) {
            if (!inScc.has(next)) continue;
            const t = typeOf(node, next);
            if (level === "snapshot" && t === "rw" && prevRw) continue;
            if (next === start) {
              if (level === "snapshot" && t === "rw" && t0 === "rw") continue; // adjacent across the wrap
              closing = { state: key(node, prevRw), type: t };
              break;
            }
            const k = key(next, t === "rw");
            if (parent.has(k)) continue;
            parent.set(k, { from: key(node, prevRw), node: next, type: t });
            queue.push([next, t === "rw"]);
          }
        }
        if (closing === null) continue;
        const nodes: number[] = [];
        const types: EdgeType[] = [closing.type];
        for (let st: string | undefined = closing.state; st !== undefined;) {
          const p = parent.get(st);
          nodes.unshift(Number(st.split(",")[0]));
          if (p === null || p === undefined) break;
          types.unshift(p.type);
          st = p.from;
        }
        nodes.unshift(start);
        types.unshift(t0);
        cycle = { nodes, types };
        break;
      }
      if (cycle !== null) break;
    }
    if (cycle !== null) found.push(cycle);
  }
  return found;
}

/** Tarjan's strongly connected components. */
function components(edges: Map<number, Map<number, Set<EdgeType>>>): number[][] {
  const nodes = new Set<number>();
  for (const [from, m] of edges) {
    nodes.add(from);
    for (const to of m.keys()) nodes.add(to);
  }
  let index = 0;
  const idx = new Map<number, number>();
  const low = new Map<number, number>();
  const stack: number[] = [];
  const on = new Set<number>();
  const out: number[][] = [];
  const visit = (v: number): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: number[] = [];
      let w: number;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}
