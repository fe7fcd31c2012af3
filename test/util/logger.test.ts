import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createLogger } from "../../src/util/logger.ts";

/** The node's log file rotates by size and keeps a bounded number of files, across restarts too. */

const dir = mkdtempSync(join(tmpdir(), "jbc-logger-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MB = 1024 * 1024;

async function writeLog(run: number, lines: number): Promise<void> {
  const log = createLogger({
    level: "info",
    pretty: false,
    file: { path: join(dir, "logs", "node.log"), maxMb: 1, keep: 3 },
  });
  const pad = "x".repeat(1000);
  // A node logs a little at a time: 50 lines (about 50 KiB), then the file is written.
  for (let i = 0; i < lines; i += 50) {
    for (let j = i; j < i + 50; j++) log.info({ run, j, pad }, "line");
    await new Promise((r) => setTimeout(r, 5));
  }
  log.info({ run }, "last line");
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  await new Promise((r) => setTimeout(r, 500));
}

test("the log file rotates at its size and at most `keep` files remain", { timeout: 60_000 }, async () => {
  await writeLog(1, 4000);
  await writeLog(2, 4000);
  const logs = join(dir, "logs");
  const files = readdirSync(logs).filter((f) => f !== "current.log");
  assert.ok(files.length <= 3, `kept ${files.join(", ")}`);
  for (const f of files) {
    const size = statSync(join(logs, f)).size;
    // A file is rotated once a write takes it past 1 MiB: at most one batch over.
    assert.ok(size < 1.2 * MB, `${f} is ${size} bytes`);
  }
  const current = readlinkSync(join(logs, "current.log"));
  assert.ok(files.includes(current), `current.log -> ${current}`);
  const all = files
    .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]))
    .map((f) => readFileSync(join(logs, f), "utf8"))
    .join("");
  assert.match(all, /"run":2,"msg":"last line"/);
  // 8 MB were written; 3 files of about 1 MiB remain.
  assert.ok(all.length < 3.6 * MB);
});
