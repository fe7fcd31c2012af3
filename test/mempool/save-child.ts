/**
 * Child process of test/mempool/crash.test.ts, killed with SIGKILL at random moments:
 *
 *   node --import tsx test/mempool/save-child.ts <mempool file>
 *
 * Loads the file (printing "loaded <count> <status>"), then admits records and saves after every 50,
 * printing "saving <count>" as a save starts and "saved <count>" once it has resolved (synchronous
 * writes, so a line the parent read was true), until it is killed.
 */
import { writeSync } from "node:fs";
import { regtest } from "../../src/consensus/params.ts";
import { Mempool } from "../../src/mempool/index.ts";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: save-child.ts <mempool file>\n");
  process.exit(2);
}
const mp = new Mempool({ params: regtest, isConfirmed: () => false, file });
const loaded = await mp.load();
writeSync(1, `loaded ${mp.size} ${loaded.status}\n`);
for (let i = 0; ; i++) {
  const data = new TextEncoder().encode(`${process.pid}:${i}:${"x".repeat(200)}`);
  const r = await mp.admit({ type: "data", data }, { kind: "api" });
  if (!r.ok) throw r.error;
  if (mp.size % 50 === 0) {
    writeSync(1, `saving ${mp.size}\n`);
    await mp.save();
    writeSync(1, `saved ${mp.size}\n`);
  }
}
