/**
 * Reading the durability probe: what a resolved commit actually waited for.
 *
 * The probe (workload.mjs --workload probe) writes "@@GO@@" to /dev/null,
 * then after every resolved commit "@@ACK@@", then "@@END@@", and run.mjs runs
 * it under `strace -f -e trace=fsync,fdatasync,msync,sync_file_range,…,write,pwrite64`.
 * In strace's log, lines appear in the order the calls return (a call that
 * blocks shows as "<unfinished ...>" and later "<... name resumed>").
 *
 * Invariants
 *   DUR-1  A sync counts only once it has returned 0: fsync, fdatasync, or msync
 *          with MS_SYNC. sync_file_range is counted apart: it is not a barrier
 *          (it neither flushes the disk cache nor the metadata).
 *   DUR-2  An ack is "after a sync" when at least one sync returned between the
 *          previous ack (or GO) and it. With one caller this is exactly "the
 *          promise resolved only after a sync that began after the previous
 *          commit resolved"; it cannot prove the sync covered the right file.
 */

/** @param {string} text the strace log */
export function parseTrace(text) {
  let started = false;
  let syncs = 0;
  let syncsSinceAck = 0;
  let acks = 0;
  let acksAfterSync = 0;
  let rangeSyncs = 0;
  const returned0 = (l, name) => / = 0$/.test(l) && ((l.includes(`${name}(`) && !l.includes("<unfinished")) || l.includes(`<... ${name} resumed>`));
  for (const line of text.split("\n")) {
    const l = line.trimEnd();
    if (l.includes('"@@GO@@"')) { started = true; continue; }
    if (!started) continue;
    if (l.includes('"@@END@@"')) break;
    if (l.includes('"@@ACK@@"')) {
      acks++;
      if (syncsSinceAck > 0) acksAfterSync++;
      syncsSinceAck = 0;
      continue;
    }
    if (returned0(l, "fsync") || returned0(l, "fdatasync") || (returned0(l, "msync") && l.includes("MS_SYNC"))) { syncs++; syncsSinceAck++; }
    else if (returned0(l, "sync_file_range")) rangeSyncs++;
  }
  return { acks, syncs, acksAfterSync, rangeSyncs };
}

/**
 * A label from the two probe runs (1 caller, 64 callers).
 * @param {{ measured: boolean, error?: string, seqSyncsPerCommit?: number, seqAcksAfterSync?: number, concSyncsPerCommit?: number } | undefined} p
 */
export function durabilityLabel(p) {
  if (p === undefined || !p.measured) return p?.error ? `probe failed: ${p.error}` : "not measured (no strace)";
  const f = (n) => n.toFixed(2);
  if (p.seqSyncsPerCommit === 0 && p.concSyncsPerCommit === 0) return "none: no fsync at all";
  let kind;
  if (p.seqAcksAfterSync >= 0.99) kind = p.concSyncsPerCommit <= 0.5 ? "fsync per group (before ack)" : "fsync per commit (before ack)";
  else if (p.seqAcksAfterSync > 0) kind = `fsync before only ${Math.round(p.seqAcksAfterSync * 100)}% of acks`;
  else kind = "fsyncs, but not before the ack";
  return `${kind}; syncs/commit seq ${f(p.seqSyncsPerCommit)}, 64 callers ${f(p.concSyncsPerCommit)}`;
}
