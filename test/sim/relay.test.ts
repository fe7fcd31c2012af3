import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { decodeBlock, encodeBlock } from "../../src/consensus/block.ts";
import { encodeRecord } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { encodeCompact } from "../../src/net/compact/codec.ts";
import { fixedLatency } from "../../src/sim/latency.ts";
import { paddingRecords, simParams } from "../../src/sim/params.ts";
import { Relay, SHORT_ID_BYTES, varintBytes, wireShape } from "../../src/sim/relay.ts";
import { makeRng } from "../../src/sim/rng.ts";
import { runStale, type StaleRunOptions } from "../../src/sim/stale.ts";

/** The relay models of src/sim/relay.ts: sizes, round trips, fallback, and their effect on stale rates. */

const params = simParams({ spacing: 600 });
const hashOf = (i: number): string => i.toString(16).padStart(64, "0");

/** A real block with `records` data records besides the miner record. */
function realBlock(records: number, bytes = 200): Uint8Array {
  const data = paddingRecords(records * bytes, { ...params, maxRecordSize: bytes + 16 }, 1);
  assert.equal(data.length, records);
  const block = buildBlock({
    prevHash: new Uint8Array(32),
    height: 1,
    bits: params.genesis.header.bits,
    time: params.genesis.header.time + 1,
    miner: "n0",
    extraNonce: 0n,
    records: data,
  });
  return encodeBlock(block);
}

describe("relay model", () => {
  it("sizes a compact block as the node frames it: header, nonce, count, short ids, the miner record", () => {
    const raw = realBlock(300);
    const minerBytes = encodeRecord(
      buildBlock({
        prevHash: new Uint8Array(32),
        height: 1,
        bits: params.genesis.header.bits,
        time: params.genesis.header.time + 1,
        miner: "n0",
        extraNonce: 0n,
        records: [],
      }).records[0]!,
    ).length;
    const w = wireShape(raw);
    assert.equal(w.records, 300);
    assert.equal(w.fullBytes, raw.length);
    // The type byte, 80-byte header, 8-byte nonce, u16 count, 6 bytes per record, the miner record whole:
    // byte for byte the frame the node sends (src/net/compact/codec.ts, docs/protocol.md "Compact blocks").
    assert.equal(w.compactBytes, 1 + 80 + 8 + 2 + SHORT_ID_BYTES * 300 + minerBytes);
    const block = decodeBlock(raw);
    const frame = encodeCompact({
      header: raw.subarray(0, 80),
      nonce: 7n,
      shortIds: block.records.slice(1).map((_, i) => i),
      miner: encodeRecord(block.records[0]!),
    });
    assert.equal(w.compactBytes, 1 + frame.length);
    // 2,000 modelled 500-byte records (1 MB): the block grows by their bytes, the announcement by 6 each.
    const big = wireShape(raw, 2000, 500);
    assert.equal(big.records, 2300);
    assert.equal(big.fullBytes, raw.length + 2000 * 500);
    assert.equal(big.compactBytes, w.compactBytes + SHORT_ID_BYTES * 2000);
    assert.ok(wireShape(realBlock(0), 1000, 500).compactBytes <= 10_000, "1,000 records in under 10 KB");
    assert.deepEqual([0xfc, 0xfd, 0xffff, 0x10000].map(varintBytes), [1, 3, 3, 5]);
  });

  it("charges full relay latency + size / bandwidth, and compact relay its announcement", () => {
    const w = wireShape(realBlock(10), 1990, 500);
    const bw = 8e6; // 1 MB/s
    const full = new Relay({ policy: "full" }, fixedLatency(0.1), bw, 1);
    assert.ok(Math.abs(full.transfer(0, 1, hashOf(1), w, 0, makeRng(1)) - (0.1 + w.fullBytes / 1e6)) < 1e-12);
    const compact = new Relay({ policy: "compact", overlap: 1 }, fixedLatency(0.1), bw, 1);
    const t = compact.transfer(0, 1, hashOf(1), w, 0, makeRng(1));
    assert.ok(Math.abs(t - (0.1 + w.compactBytes / 1e6)) < 1e-12);
    assert.deepEqual(compact.stats, {
      deliveries: 1,
      bytes: w.compactBytes,
      roundTrips: 0,
      missingRecords: 0,
      fallbacks: 0,
    });
  });

  it("adds one round trip for the records a receiver lacks, and falls back to the full block", () => {
    const w = wireShape(realBlock(0), 2000, 500);
    const lat = 0.1;
    const bw = 8e6;
    // Every record missing: getblocktxn with 2,000 one-byte index gaps, blocktxn with 2,000 records.
    const none = new Relay({ policy: "compact", overlap: 0 }, fixedLatency(lat), bw, 1);
    const request = 32 + 3 + 2000;
    const response = 32 + 3 + 2000 * 500;
    const t = none.transfer(0, 1, hashOf(2), w, 0, makeRng(1));
    assert.ok(Math.abs(t - (3 * lat + (w.compactBytes + request + response) / 1e6)) < 1e-9, `${t}`);
    assert.equal(none.stats.roundTrips, 1);
    assert.equal(none.stats.missingRecords, 2000);
    assert.equal(none.stats.bytes, w.compactBytes + request + response);
    // A rebuild that fails: getdata and the full block, two more latencies.
    const failing = new Relay({ policy: "compact", overlap: 1, failure: 1 }, fixedLatency(lat), bw, 1);
    const f = failing.transfer(0, 1, hashOf(2), w, 0, makeRng(1));
    assert.ok(Math.abs(f - (3 * lat + (w.compactBytes + 37 + w.fullBytes) / 1e6)) < 1e-9, `${f}`);
    assert.equal(failing.stats.fallbacks, 1);
  });

  it("draws missing records once per block and receiver, Binomial(n, 1 − overlap) over many", () => {
    const relay = new Relay({ policy: "compact", overlap: 0.999 }, fixedLatency(0), 1e9, 5);
    const n = 2000;
    let needed = 0;
    let missing = 0;
    const trials = 4000;
    for (let i = 0; i < trials; i++) {
      const r = relay.receiver(hashOf(1_000_003 * i + 7), i % 20, n);
      assert.deepEqual(
        relay.receiver(hashOf(1_000_003 * i + 7), i % 20, n),
        r,
        "the same on a second announcement",
      );
      if (r.missing > 0) needed++;
      missing += r.missing;
    }
    // P(round trip) = 1 − 0.999^2000 ≈ 0.865; mean missing = 2. Tolerances of 4σ.
    const p = 1 - 0.999 ** n;
    assert.ok(
      Math.abs(needed / trials - p) < 4 * Math.sqrt((p * (1 - p)) / trials),
      `share ${needed / trials}`,
    );
    assert.ok(Math.abs(missing / trials - 2) < 4 * Math.sqrt(2 / trials), `mean missing ${missing / trials}`);
  });

  it("bigger blocks go stale more under full relay; compact relay keeps them near the latency-only rate", async () => {
    // 1 Mbit/s links, 0.1 s latency, mesh, T = 600 s: a 2 MB block takes 16 s per link, a 16 MB one 128 s.
    const base: StaleRunOptions = {
      nodes: 10,
      interval: 600,
      delay: 0.1,
      blocks: 1500,
      seed: 11,
      bandwidth: 1e6,
    };
    const run = (policy: "full" | "compact", mb: number) =>
      runStale({ ...base, relay: { policy, records: (mb * 1e6) / 500, recordBytes: 500 } });
    const small = await run("full", 0);
    const mid = await run("full", 2);
    const large = await run("full", 16);
    const compact = await run("compact", 16);
    const rates = [small, mid, large, compact].map((p) => p.stale_rate);
    // Binomial σ at 1,500 blocks: about 0.4 points at 2.5 %, 1 point at 15 %: the gaps are 4σ and more.
    assert.ok(small.stale_rate < 0.005, `${rates}`);
    assert.ok(mid.stale_rate > 0.012 && mid.stale_rate < 0.045, `${rates}`);
    assert.ok(large.stale_rate > 0.1, `${rates}`);
    assert.ok(compact.stale_rate < mid.stale_rate && compact.stale_rate < 0.01, `${rates}`);
    // The measured delay follows the wire: 16 MB over 1 Mbit/s is 128 s; its compact form 1.5 s or so.
    assert.ok(Math.abs(large.propagation_s.mean - (0.1 + 128)) < 0.2, `${large.propagation_s.mean}`);
    assert.ok(compact.propagation_s.p50 < 2, `${compact.propagation_s.p50}`);
    assert.ok(compact.relay.bytes_per_delivery < large.relay.bytes_per_delivery / 50);
  });

  it("gives the same compact-relay run for the same seed and another for another", async () => {
    const o: StaleRunOptions = {
      nodes: 8,
      interval: 60,
      delay: 0.5,
      blocks: 300,
      seed: 4,
      bandwidth: 2e6,
      topology: { kind: "random", degree: 3 },
      relay: { policy: "compact", records: 4000, recordBytes: 400, overlap: 0.9995 },
    };
    const strip = ({ stats: _s, ...p }: Awaited<ReturnType<typeof runStale>>) => ({
      ...p,
      events: _s.events,
      found: _s.found,
    });
    const a = strip(await runStale(o));
    assert.ok(a.relay.round_trip_share > 0.5, "most deliveries needed the round trip");
    assert.deepEqual(strip(await runStale(o)), a);
    assert.notDeepEqual(strip(await runStale({ ...o, seed: 5 })), a);
  });
});

describe("jbc sim stale relay flags", () => {
  const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
  const run = promisify(execFile);

  it("--help lists them", async () => {
    const { stdout } = await run(process.execPath, [BIN, "sim", "stale", "--help"]);
    for (const flag of [
      "--relay",
      "--block-bytes",
      "--record-bytes",
      "--mempool-overlap",
      "--compact-failure",
      "--seeds",
    ])
      assert.ok(stdout.includes(flag), flag);
  });

  it("refuses bad values with a clear message and exit 2", async () => {
    for (const [args, message] of [
      [["--relay", "fast"], /--relay.*expected full or compact/],
      [["--mempool-overlap", "1.5"], /--mempool-overlap.*expected a number from 0 to 1/],
      [["--compact-failure", "x"], /--compact-failure.*expected a number from 0 to 1/],
      [["--record-bytes", "0"], /--record-bytes/],
      [["--seeds", "0"], /--seeds/],
    ] as const) {
      const err = await run(process.execPath, [BIN, "sim", "stale", "--no-svg", ...args]).then(
        () => assert.fail(`${args.join(" ")} succeeded`),
        (e: { code?: unknown; stderr?: string }) => e,
      );
      assert.equal(err.code, 2, args.join(" "));
      assert.match(err.stderr ?? "", /^error: /);
      assert.match(err.stderr ?? "", message);
    }
  });

  it("runs compact relay and reports what crossed the links", async () => {
    const { stdout } = await run(process.execPath, [
      BIN,
      ...["sim", "stale", "--nodes", "5", "--interval", "600", "--blocks", "60", "--no-svg"],
      ...["--relay", "compact", "--block-bytes", "1000000", "--bandwidth", "10", "--latency", "fixed:100"],
    ]);
    assert.match(
      stdout,
      /relay compact \(T = 600 s\): [\d,]+ B per block per link, missing-record round trip/,
    );
    const last = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(last.points[0].relay.policy, "compact");
    assert.ok(last.points[0].relay.bytes_per_delivery < 20_000);
  });
});
