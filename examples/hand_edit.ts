/**
 * Edit a YAML page file by hand, then adopt the edit as a transaction.
 *
 *   npx tsc -p . && node dist/examples/hand_edit.js
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { open } from "../src/mod.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-hand-edit-"));
const db = await open(dir, { format: "yaml" });
await db.put("accounts", "alice", { balance: 10 });
await db.put("accounts", "bob", { balance: 5 });
await db.checkpoint(); // the rows are now in pages/accounts/000001.yaml

// A person edits the file: bob gets 7.
const file = path.join(dir, "pages", "accounts", "000001.yaml");
fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("balance: 5", "balance: 7"));

console.log((await db.check()).problems);          // [ "namespace 'accounts': page file '…/000001.yaml' was changed outside txtdb …" ]
const { changes, tsn } = await db.adoptEdits();     // validates, diffs, commits one transaction
console.log(tsn, changes);                          // 3 [ { namespace: "accounts", key: "bob", deleted: false, value: { balance: 7 }, file: "…/000001.yaml", line: 8 } ]
console.log(await db.get("accounts", "bob"));       // { balance: 7 }
console.log((await db.check()).ok);                 // true
await db.close();
fs.rmSync(dir, { recursive: true, force: true });
