/**
 * Attack: a log flood (docs/security.md, "Disk"). Whatever makes a node log fast (here: refused requests
 * with 12 KB URLs at `--log-level debug`, each one a "request refused" line carrying the URL) must not
 * take its disk: log files stay within `--log-max-mb` each and `--log-keep` in number. With pino-roll the
 * rotation waited for its write buffer to drain, which a fast writer never lets happen, and single files
 * grew to several times their limit (4.4 MB against 1 MiB in test/util/logger.test.ts). A real `jbc node`
 * process is flooded until it has logged about twenty files' worth, then stopped.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../helpers/chain.ts";
import { waitFor } from "../helpers/wait.ts";

const BIN = process.env.JBC_TEST_BIN ?? new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const MIB = 1024 * 1024;
const tmp = tempDir("jbc-log-flood-");
let proc: ChildProcess | undefined;
after(() => {
  proc?.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

/** GETs `path` and drains the answer; resolves with the status. */
function get(agent: Agent, url: URL, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: url.hostname, port: url.port, path }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("attack: a log flood", () => {
  it("keeps every log file within --log-max-mb and at most --log-keep of them", async (t) => {
    const datadir = join(tmp, "node");
    const logs = join(datadir, "logs");
    // Its stdout (a copy of the log) goes nowhere: only the node's own files are measured.
    proc = spawn(
      process.execPath,
      [
        BIN,
        "node",
        "--network",
        "regtest",
        "--no-p2p",
        "--port",
        "0",
        "--datadir",
        datadir,
        "--log-level",
        "debug",
        "--log-max-mb",
        "1",
        "--log-keep",
        "3",
      ],
      { stdio: "ignore" },
    );
    const url = new URL(
      await waitFor(
        () => {
          let text = "";
          try {
            text = readFileSync(join(logs, "current.log"), "utf8");
          } catch {
            return undefined;
          }
          return /"url":"(http:[^"]+)","network"/.exec(text)?.[1];
        },
        { timeoutMs: 30_000, what: "the node to start" },
      ),
    );

    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const path = `/api/blocks/${"z".repeat(12_000)}`;
    const target = 24 * MIB; // about twenty files of 1 MiB
    let requests = 0;
    const t0 = performance.now();
    const flood = async (): Promise<void> => {
      while (requests * path.length < target && performance.now() - t0 < 60_000) {
        requests++;
        assert.equal(await get(agent, url, path), 400);
      }
    };
    await Promise.all(Array.from({ length: 8 }, flood));
    agent.destroy();
    const seconds = (performance.now() - t0) / 1000;
    t.diagnostic(
      `${requests} refused requests in ${seconds.toFixed(1)} s: ${((requests * path.length) / MIB / seconds).toFixed(1)} MB/s of log`,
    );

    proc.kill("SIGINT");
    await new Promise((resolve) => proc!.once("exit", resolve));

    const files = readdirSync(logs).filter((f) => f !== "current.log");
    const sizes = files.map((f) => statSync(join(logs, f)).size);
    t.diagnostic(`log files: ${files.map((f, i) => `${f} ${sizes[i]}`).join(", ")}`);
    assert.ok(files.length <= 3, `kept ${files.join(", ")}`);
    for (const [i, f] of files.entries()) assert.ok(sizes[i]! <= MIB, `${f} is ${sizes[i]} bytes`);
    const newest = Math.max(...files.map((f) => Number(f.split(".")[1])));
    assert.ok(newest >= 15, `the flood rotated the log (newest file number ${newest})`);
    assert.equal(readlinkSync(join(logs, "current.log")), `node.${newest}.log`);
    assert.match(readFileSync(join(logs, `node.${newest - 1}.log`), "utf8"), /"msg":"request refused"/);
  });
});
