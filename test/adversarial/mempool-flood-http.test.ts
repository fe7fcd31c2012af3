/**
 * Attack: one HTTP client fills the mempool (docs/security.md, "One source owning the mempool"). Before
 * shares, 1,023 requests of 64 KiB from one client filled a node's 64 MiB pool in 6.6 s, and from then on
 * every client got 503 MEMPOOL_FULL until blocks drained it. Here a `jbc node` process with a 2 MiB pool
 * is flooded from 127.0.0.1 while an honest client at 127.0.0.2 submits small records: every honest
 * record gets in (202, pending) and the flooder gets 503; when the honest client then wants more too,
 * each holds half the pool (to one record), and the pool stays within its bound.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { tempDir } from "../helpers/chain.ts";
import { SourceClient } from "../helpers/sources.ts";
import { killAll, spawnNode } from "../helpers/spawn.ts";

const tmp = tempDir("jbc-flood-http-");
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

const MIB = 1024 * 1024;
const POOL = 2 * MIB;
/** Near the 64 KiB record limit: the flood. */
const BIG = 60_000;

/** Data of `size` bytes, distinct per `tag` and `i`. */
function payload(tag: string, i: number, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(0x61);
  out.set(new TextEncoder().encode(`${tag}:${i}:`));
  return out;
}

interface MempoolView {
  count: number;
  bytes: number;
  maxBytes: number;
}

describe("attack: one HTTP client floods the mempool", () => {
  it("an honest client's records still get in; the flooder keeps at most what is left", async () => {
    const datadir = join(tmp, "victim");
    const victim = await spawnNode({
      name: "victim",
      datadir,
      args: ["--no-p2p", "--mempool-mb", String(POOL / MIB)],
    });
    const token = readFileSync(join(datadir, "api-token"), "utf8").trim();
    const flooder = new SourceClient(victim.url, "127.0.0.1", token);
    const honest = new SourceClient(victim.url, "127.0.0.2", token);
    try {
      // The flood fills the pool: the flooder's first refusal says it is full.
      let sent = 0;
      for (;;) {
        const r = await flooder.postData(payload("flood", sent++, BIG));
        if (r.status === 503) break;
        assert.equal(r.status, 202, JSON.stringify(r.body));
        assert.ok(sent < 100, "a 2 MiB pool takes about 35 such records");
      }
      const full = (await honest.get("/api/mempool")).body as MempoolView;
      assert.ok(full.bytes > POOL - BIG, `the flood filled the pool: ${full.bytes} bytes`);

      // The flood goes on while the honest client submits 40 records of 2 KB.
      let flooding = true;
      const floodCodes: number[] = [];
      const flood = (async () => {
        while (flooding) floodCodes.push((await flooder.postData(payload("flood", sent++, BIG))).status);
      })();
      const acks: Array<{ status: number; id?: string }> = [];
      for (let i = 0; i < 40; i++) {
        const r = await honest.postData(payload("honest", i, 2_000));
        acks.push({ status: r.status, id: (r.body as { id?: string }).id });
        await new Promise((res) => setTimeout(res, 10));
      }
      flooding = false;
      await flood;

      assert.deepEqual(
        acks.map((a) => a.status),
        acks.map(() => 202),
        "every honest record was admitted while the flood ran",
      );
      assert.ok(floodCodes.length > 0 && floodCodes.every((c) => c === 503), `flood answers: ${floodCodes}`);

      // Both now want more: the honest client sends large records until it too is refused.
      const bigAcks: string[] = [];
      for (let i = 0; ; i++) {
        const r = await honest.postData(payload("honest-big", i, BIG));
        if (r.status === 503) break;
        assert.equal(r.status, 202);
        bigAcks.push((r.body as { id: string }).id);
        assert.ok(i < 100);
      }
      let honestBytes = 0;
      for (const [id, size] of [
        ...acks.map((a) => [a.id!, 2_000 + 3] as const),
        ...bigAcks.map((id) => [id, BIG + 3] as const),
      ]) {
        const r = await honest.get(`/api/records/${id}`);
        assert.equal((r.body as { status: string }).status, "pending", `${id} is still pending`);
        honestBytes += size;
      }
      const end = (await honest.get("/api/mempool")).body as MempoolView;
      assert.ok(end.bytes <= POOL, `the pool within its bound: ${end.bytes}`);
      const flooderBytes = end.bytes - honestBytes;
      // Two sources that both want more: each holds half, to one record.
      assert.ok(flooderBytes <= POOL / 2 + BIG, `the flooder holds ${flooderBytes} of ${POOL} bytes`);
      assert.ok(honestBytes >= POOL / 2 - BIG, `the honest client holds ${honestBytes} bytes`);
    } finally {
      flooder.close();
      honest.close();
      await victim.stop();
    }
  });
});
