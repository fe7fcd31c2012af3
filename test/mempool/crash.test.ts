/**
 * The mempool file under SIGKILL: a child (save-child.ts) admits records and saves every 50 while the
 * parent kills it at random moments, mid-write included. After each kill the file must load completely
 * (never "damaged": the temp-file-and-rename write leaves the old file or the new one) and hold at least
 * every record of the last save the child reported.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import { Mempool, mempoolFile } from "../../src/mempool/index.ts";

const CHILD = new URL("./save-child.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "jbc-mempool-crash-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs one life of the child; kills it `delayMs` after its `saves`-th save starts (so mostly mid-write). */
function life(file: string, saves: number, delayMs: number): Promise<{ loaded: number; saved: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let loaded = -1;
    let saved = 0;
    let seen = 0;
    let buf = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^(loaded|saving|saved) (\d+)/.exec(line);
        if (!m) continue;
        if (m[1] === "loaded") {
          loaded = Number(m[2]);
          assert.match(line, / (ok|missing)$/, "the file the last life left loads");
        } else if (m[1] === "saving") {
          if (++seen === saves) setTimeout(() => child.kill("SIGKILL"), delayMs);
        } else {
          saved = Number(m[2]);
        }
      }
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve({ loaded, saved });
      else reject(new Error(`child exited with ${code}: ${stderr}`));
    });
  });
}

it("leaves a complete mempool file whenever the node is killed", { timeout: 120_000 }, async () => {
  const file = mempoolFile(dir);
  let lastSaved = 0;
  for (let round = 0; round < 5; round++) {
    const { loaded, saved } = await life(file, 2 + Math.floor(Math.random() * 6), Math.random() * 3);
    assert.ok(loaded >= lastSaved, `round ${round}: loaded ${loaded}, but ${lastSaved} were saved`);
    lastSaved = saved;
    const mp = new Mempool({ params: regtest, isConfirmed: () => false, file });
    const r = await mp.load();
    assert.equal(r.status, "ok", `round ${round}: ${JSON.stringify(r)}`);
    assert.ok(mp.size >= saved, `round ${round}: ${mp.size} loaded after a reported save of ${saved}`);
    assert.ok(mp.size <= saved + 50, "at most the save in flight on top");
  }
});
