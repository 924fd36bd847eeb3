/**
 * Verification, concurrency (issue 5, part 2): a fast-check scheduler orders
 * every append, datasync, lock wait, syncDir and rename of two handles on one
 * database, and when each transaction begins and commits; outcomes must match
 * the model applied in TSN order, and no commit may resolve before the
 * datasync covering it (test/_helpers/interleaving.ts, I-1…I-5).
 */
import { test } from "node:test";
import { interleavingProperty } from "./_helpers/interleaving.ts";
import { verifyProperty } from "./_helpers/verify.ts";

const file = "verify_interleaving";

const name = "two handles, concurrent transactions and checkpoints, I/O resolved in scheduler order: outcomes match the model in TSN order, no commit resolves before its datasync";
test(name, () => verifyProperty({ file, name, runs: 80 }, interleavingProperty()));
