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
/** The bytes with their checksum made right again, so only what the test changed is wrong. */
const reseal = (file: Uint8Array): Uint8Array => {
  const body = file.subarray(0, file.length - 32);
  return Uint8Array.from([...body, ...createHash("sha256").update(body).digest()]);
};
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
    assert.deepEqual(await back.load(), { status: "ok", loaded: 3, expired: 0, refused: 0, returned: 0 });
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
      assert.equal(e.share, "api:local", "a loaded record keeps the share it had");
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
    assert.deepEqual(await back.load(), { status: "ok", loaded: 2, expired: 0, refused: 1, returned: 0 });
    const later = pool(file, { now: () => 20_000, expiryMs: 20_000 });
    assert.deepEqual(await later.load(), { status: "ok", loaded: 0, expired: 3, refused: 0, returned: 0 });
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
      assert.deepEqual(await again.load(), { status: "ok", loaded: 1, expired: 0, refused: 0, returned: 0 });
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
    // Version 3 with a checksum that matches, so only the version is wrong.
    const v3 = encodeMempoolFile(regtest.networkId, records);
    v3[8] = 3;
    assert.deepEqual(decodeMempoolFile(regtest.networkId, reseal(v3)), {
      status: "damaged",
      reason: "unknown version 3",
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

describe("mempool file versions", () => {
  it('reads a version-1 file (no tip, no shares) into the share "disk"', () => {
    // Version 1 as it was written: magic, version, network id, count, then (time, record) pairs.
    const rec = Uint8Array.of(1, 2, 0x68, 0x69);
    const v1 = Uint8Array.from([
      ...utf8.encode("jbcmpool"),
      ...[1, 0, 0, 0],
      ...new Uint8Array(new Uint32Array([regtest.networkId]).buffer),
      ...[1, 0, 0, 0],
      ...new Uint8Array(new BigUint64Array([7n]).buffer),
      rec.length,
      ...rec,
      ...new Uint8Array(32),
    ]);
    assert.deepEqual(decodeMempoolFile(regtest.networkId, reseal(v1)), {
      status: "ok",
      records: [{ time: 7, bytes: rec }],
    });
  });

  it("keeps each record's share and where the pool had followed the chain to, and refuses a share index past the table", () => {
    const followed = { tip: hashToHex(new Uint8Array(32).fill(9)), seen: 77 };
    const records = [
      { time: 1, bytes: Uint8Array.of(1, 0), share: "api:10.0.0.1" },
      { time: 2, bytes: Uint8Array.of(1, 1), share: "peer:12D3KooWabc" },
      { time: 3, bytes: Uint8Array.of(1, 2), share: "api:10.0.0.1" },
    ];
    const file = encodeMempoolFile(regtest.networkId, records, followed);
    assert.deepEqual(decodeMempoolFile(regtest.networkId, file), { status: "ok", records, followed });
    // Two shares in the table; make the first record point at a third.
    const body = Uint8Array.from(file);
    const at = Buffer.from(body).indexOf(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0]));
    assert.ok(at > 0);
    body[at + 8] = 2;
    assert.deepEqual(decodeMempoolFile(regtest.networkId, reseal(body)), {
      status: "damaged",
      reason: "share index 2 exceeds limit 1",
    });
  });
});
