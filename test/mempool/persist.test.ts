import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pino } from "pino";
import { hashToHex } from "../../src/consensus/header.ts";
import { devnet, regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId, signRecord } from "../../src/consensus/records.ts";
import {
  decodeMempoolFile,
  encodeMempoolFile,
  Mempool,
  type MempoolOptions,
  mempoolFile,
} from "../../src/mempool/index.ts";
import type { Logger } from "../../src/util/logger.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function datadir(): string {
  const d = mkdtempSync(join(tmpdir(), "jbc-mempool-"));
  dirs.push(d);
  return d;
}

const utf8 = new TextEncoder();
const data = (s: string): BlockRecord => ({ type: "data", data: utf8.encode(s) });
const idOf = (r: BlockRecord) => hashToHex(recordId(r));

/** A logger whose lines the test can read. */
function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger: Logger = pino({ level: "info" }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

function pool(file: string, opts: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool({ params: regtest, isConfirmed: () => false, file, ...opts });
}

async function savedPool(dir: string, now: () => number): Promise<{ file: string; ids: string[] }> {
  const file = mempoolFile(dir);
  const mp = pool(file, { now });
  const records = [data("one"), signRecord(utf8.encode("two"), new Uint8Array(32).fill(3)), data("three")];
  for (const r of records) assert.ok((await mp.admit(r, { kind: "api" })).ok);
  await mp.save();
  return { file, ids: records.map(idOf) };
}

describe("mempool file", () => {
  it("round-trips pending records, their order and arrival times, through a real file", async () => {
    const dir = datadir();
    let now = 5_000;
    const { file, ids } = await savedPool(dir, () => now++);
    assert.deepEqual(readdirSync(dir), ["mempool.dat"], "no temporary file left behind");
    const back = pool(file, { now: () => 6_000 });
    assert.deepEqual(await back.load(), { status: "ok", loaded: 3, expired: 0, refused: 0 });
    const entries = back.take(Number.MAX_SAFE_INTEGER);
    assert.deepEqual(
      entries.map((e) => e.id),
      ids,
    );
    assert.deepEqual(
      entries.map((e) => e.time),
      [5_000, 5_001, 5_002],
    );
    for (const e of entries) {
      assert.deepEqual(e.source, { kind: "disk" });
      assert.ok(
        e.bytes.buffer.byteLength < readFileSync(file).length,
        "a record does not pin the whole file",
      );
    }
  });

  it("drops expired and now-confirmed records on load, checking each again", async () => {
    const dir = datadir();
    let now = 0;
    const { file, ids } = await savedPool(dir, () => now);
    now = 10_000;
    const back = pool(file, { now: () => now, expiryMs: 20_000, isConfirmed: (id) => id === ids[1] });
    assert.deepEqual(await back.load(), { status: "ok", loaded: 2, expired: 0, refused: 1 });
    const later = pool(file, { now: () => 20_000, expiryMs: 20_000 });
    assert.deepEqual(await later.load(), { status: "ok", loaded: 0, expired: 3, refused: 0 });
  });

  it("reports a torn file and starts empty, never crashing", async () => {
    const dir = datadir();
    const { file } = await savedPool(dir, () => 0);
    const size = readFileSync(file).length;
    for (const cut of [0, 5, 20, size - 33, size - 1]) {
      truncateSync(file, cut);
      const { logger, lines } = capture();
      const mp = pool(file, { logger });
      const r = await mp.load();
      assert.equal(r.status, "damaged", `cut at ${cut}`);
      assert.equal(mp.size, 0);
      assert.ok(lines.some((l) => l.msg === "ignoring damaged mempool file" && l.level === 40));
      // The next save replaces it with a good file.
      assert.ok((await mp.admit(data("after"), { kind: "api" })).ok);
      await mp.save();
      const again = pool(file);
      assert.deepEqual(await again.load(), { status: "ok", loaded: 1, expired: 0, refused: 0 });
      await savedPool(dir, () => 0);
    }
  });

  it("reports a damaged checksum for any flipped byte", async () => {
    const dir = datadir();
    const { file } = await savedPool(dir, () => 0);
    const good = readFileSync(file);
    for (let i = 0; i < good.length; i++) {
      const bad = Uint8Array.from(good);
      bad[i]! ^= 0x40;
      const r = decodeMempoolFile(regtest.networkId, bad);
      assert.equal(r.status, "damaged", `byte ${i}`);
    }
    const bad = Uint8Array.from(good);
    bad[40]! ^= 1;
    writeFileSync(file, bad);
    const r = await pool(file).load();
    assert.deepEqual(r, { status: "damaged", reason: "checksum mismatch (torn or corrupted file)" });
  });

  it("refuses another network's file, unknown versions and garbage with a valid checksum", async () => {
    const records = [{ time: 1, bytes: Uint8Array.of(1, 0) }];
    const other = encodeMempoolFile(devnet.networkId, records);
    assert.match(
      (decodeMempoolFile(regtest.networkId, other) as { reason: string }).reason,
      /network id 0x6a626364/,
    );
    // Version 2 with a checksum that matches, so only the version is wrong.
    const v2 = encodeMempoolFile(regtest.networkId, records);
    v2[8] = 2;
    const body = v2.subarray(0, v2.length - 32);
    const resealed = Uint8Array.from([...body, ...createHash("sha256").update(body).digest()]);
    assert.deepEqual(decodeMempoolFile(regtest.networkId, resealed), {
      status: "damaged",
      reason: "unknown version 2",
    });
    const dir = datadir();
    const file = mempoolFile(dir);
    writeFileSync(file, "not a mempool file: just some text, long enough to have a header and a checksum");
    assert.deepEqual(await pool(file).load(), { status: "damaged", reason: "not a mempool file" });
    assert.deepEqual(await pool(mempoolFile(datadir())).load(), { status: "missing" });
  });

  it("skips a save when nothing changed", async () => {
    const dir = datadir();
    const { file } = await savedPool(dir, () => 0);
    const mp = pool(file, { now: () => 0 });
    assert.equal((await mp.load()).status, "ok");
    writeFileSync(file, "sentinel");
    await mp.save({ onlyIfChanged: true });
    assert.equal(readFileSync(file, "utf8"), "sentinel");
    await mp.save();
    assert.notEqual(readFileSync(file, "utf8"), "sentinel");
  });
});
