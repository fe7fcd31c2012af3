import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  checkPortFree,
  EXIT,
  PID_FILE,
  STOP_SIGNALS,
  StartupError,
  stopOnSignals,
  writePidFile,
} from "../../src/node/lifecycle.ts";

/** The pieces of src/node/lifecycle.ts in this process: signals, the pid file, the port check. */

const dir = mkdtempSync(join(tmpdir(), "jbc-lifecycle-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a second stop signal forces the exit; so does a stop that overruns its time", async () => {
  const codes: number[] = [];
  const why: string[] = [];
  try {
    stopOnSignals({
      stop: () => new Promise(() => {}), // a stop that never finishes
      exit: (code) => codes.push(code),
      onStopping: (w) => why.push(w),
      timeoutMs: 200,
    });
    process.emit("SIGHUP", "SIGHUP");
    assert.deepEqual(codes, []);
    process.emit("SIGTERM", "SIGTERM");
    assert.deepEqual(codes, [EXIT.FORCED]);
    assert.equal(why[0], "SIGHUP");
    assert.match(why[1]!, /SIGTERM while stopping/);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(codes, [EXIT.FORCED, EXIT.FORCED]);
    assert.match(why[2]!, /did not finish within 200 ms/);
  } finally {
    for (const s of STOP_SIGNALS) process.removeAllListeners(s);
  }
});

test("a clean stop exits 0, a failed one 1", async () => {
  for (const [stop, want] of [
    [async () => {}, EXIT.OK],
    [async () => Promise.reject(new Error("x")), EXIT.FAILED],
  ] as const) {
    const codes: number[] = [];
    try {
      stopOnSignals({ stop, exit: (c) => codes.push(c) });
      process.emit("SIGINT", "SIGINT");
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(codes, [want]);
    } finally {
      for (const s of STOP_SIGNALS) process.removeAllListeners(s);
    }
  }
});

test("the pid file names a live holder, replaces a stale one and is removed by its owner", () => {
  const d = join(dir, "pid");
  mkdirSync(d, { recursive: true });
  // A live process that is not this one: the test's parent (the test runner).
  writeFileSync(join(d, PID_FILE), `${process.ppid}\n`);
  assert.throws(
    () => writePidFile(d),
    (err: unknown) =>
      err instanceof StartupError &&
      err.exitCode === EXIT.DATADIR_IN_USE &&
      err.message === `data directory ${d} is in use by process ${process.ppid}`,
  );
  // A pid that is no longer running is stale.
  writeFileSync(join(d, PID_FILE), "999999999\n");
  const remove = writePidFile(d);
  assert.equal(readFileSync(join(d, PID_FILE), "utf8").trim(), String(process.pid));
  remove();
  assert.throws(() => readFileSync(join(d, PID_FILE)));
});

test("a port in use is refused with the pid of its holder", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    await assert.rejects(
      checkPortFree("HTTP", "127.0.0.1", port),
      (err: unknown) =>
        err instanceof StartupError &&
        err.exitCode === EXIT.PORT_IN_USE &&
        err.message === `HTTP port ${port} on 127.0.0.1 is in use by process ${process.pid}`,
    );
  } finally {
    await new Promise((r) => server.close(r));
  }
  await checkPortFree("HTTP", "127.0.0.1", port);
  await checkPortFree("HTTP", "127.0.0.1", 0);
});
