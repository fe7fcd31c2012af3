import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { recordOffsetsSliced } from "../../src/api/block-pages.ts";
import { ByteLru } from "../../src/api/cache.ts";
import { ApiClient, ApiClientError } from "../../src/api/client.ts";
import { decodeBlockSliced } from "../../src/api/decode.ts";
import type { BlockDetail } from "../../src/api/schemas.ts";
import { decodeBlock, encodeBlock, recordIds, recordOffsets } from "../../src/consensus/block.ts";
import { DecodeError } from "../../src/consensus/bytes.ts";
import { hashToHex } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, signRecord } from "../../src/consensus/records.ts";
import { JbcNode } from "../../src/node/node.ts";
import { nextSlice, SLICE_MS, yieldIfSpent } from "../../src/util/slices.ts";
import { blockHash, makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { randomText, tinyRecords } from "../helpers/dos.ts";

/**
 * Block views a page at a time (src/api/block-pages.ts) against a real node on real LevelDB, the signature
 * verdicts they show without re-verifying, and the pieces under them: the byte-bounded cache, the sliced
 * decoders (the same results as consensus's), the API's time slices.
 */

const enc = new TextEncoder();
const dir = tempDir("jbc-block-pages-");
let node: JbcNode;
let api: ApiClient;

before(async () => {
  node = await JbcNode.create({ params: regtest, datadir: dir, http: { port: 0 }, p2p: false }, {});
  api = new ApiClient(node.url);
});

after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const seed = new Uint8Array(32).fill(3);
/** 250 records: text, bytes and signed ones, each distinct. */
const mixed: BlockRecord[] = Array.from({ length: 250 }, (_, i) =>
  i % 5 === 0
    ? signRecord(enc.encode(`signed ${i}`), seed)
    : { type: "data", data: i % 2 ? enc.encode(`text ${i}`) : new Uint8Array([0, 1, i & 255, i >> 8]) },
);
const b1 = makeChild(regtest.genesis, regtest, { records: mixed });

describe("GET /api/blocks/:id pages its records", () => {
  test("default pages of 100, `next` to the end, ids as consensus computes them", async () => {
    assert.equal((await api.submitBlock(encodeBlock(b1))).status, "main");
    const ids = recordIds(b1).map(hashToHex);
    const seen: string[] = [];
    const pages: BlockDetail[] = [];
    for (let from: number | null = 0; from !== null; ) {
      const p = await api.block(blockHash(b1), { from });
      pages.push(p);
      seen.push(...p.records.map((r) => r.id));
      from = p.recordsNext;
    }
    assert.deepEqual(
      pages.map((p) => [p.recordsFrom, p.records.length, p.recordsNext]),
      [
        [0, 100, 100],
        [100, 100, 200],
        [200, 51, null],
      ],
    );
    assert.ok(pages.every((p) => p.recordCount === 251));
    assert.deepEqual(seen, ids);
    assert.deepEqual(
      pages[2]!.records.map((r) => r.index),
      Array.from({ length: 51 }, (_, i) => 200 + i),
    );
    // `limit` up to 1,000; a `from` past the end is an empty last page.
    assert.equal((await api.block(1, { limit: 1000 })).records.length, 251);
    const past = await api.block(1, { from: 999 });
    assert.deepEqual([past.records.length, past.recordsNext, past.recordCount], [0, null, 251]);
    for (const q of ["limit=0", "limit=1001", "from=-1", "from=1e3", "page=2"]) {
      await assert.rejects(
        fetch(`${node.url}/api/blocks/1?${q}`).then(async (r) => {
          if (r.status !== 200) throw new ApiClientError(r.status, "x", await r.text());
        }),
        (err: unknown) => err instanceof ApiClientError && err.status === 400,
        q,
      );
    }
  });

  test("a page stops at 256 KiB of record bytes (one record at least)", async () => {
    const big: BlockRecord[] = Array.from({ length: 10 }, () => ({ type: "data", data: randomText(60_000) }));
    const b2 = makeChild(b1, regtest, { records: big });
    assert.equal((await api.submitBlock(encodeBlock(b2))).status, "main");
    const p = await api.block(2);
    // The miner record and four 60,004-byte records: a fifth would pass 262,144 bytes.
    assert.deepEqual([p.records.length, p.recordsNext], [5, 5]);
    const q = await api.block(2, { from: 5, limit: 1 });
    assert.deepEqual([q.records.length, q.records[0]!.size, q.recordsNext], [1, 60_004, 6]);
  });

  test("signature verdicts come from the chain, never re-verified on a read", async () => {
    // On top of b2: c3 is the main chain's; a sibling side block x3 carries a broken signature (stored
    // without its records checked: it has no more work); x4 then makes x3's branch heavier, the switch
    // checks x3's records and refuses it as BAD_SIGNATURE.
    const main2 = await api.block(2);
    const b2 = decodeBlock(await api.rawBlock(main2.hash));
    const good = signRecord(enc.encode("good"), seed);
    const bad = signRecord(enc.encode("bad"), seed);
    bad.signature[0]! ^= 1;
    const c3 = makeChild(b2, regtest, { miner: "c", records: [good] });
    const x3 = makeChild(b2, regtest, { miner: "x", records: [bad], time: c3.header.time + 1 });
    assert.equal((await api.submitBlock(encodeBlock(c3))).status, "main");
    assert.equal((await api.submitBlock(encodeBlock(x3))).status, "side");
    const signatureOf = async (hash: string): Promise<boolean | undefined> => {
      const r = (await api.block(hash)).records[1]!;
      assert.equal(r.type, "signed");
      return r.signatureValid;
    };
    assert.equal(await signatureOf(blockHash(c3)), true, "checked when the block connected");
    assert.equal(await signatureOf(blockHash(x3)), undefined, "not checked: the node does not say");
    const x4 = makeChild(x3, regtest, { miner: "x" });
    await assert.rejects(
      api.submitBlock(encodeBlock(x4)),
      (err: unknown) => err instanceof ApiClientError && err.status === 422,
    );
    const x3view = await api.block(blockHash(x3));
    assert.deepEqual([x3view.status, x3view.invalid?.["code"]], ["invalid", "BAD_SIGNATURE"]);
    assert.equal(await signatureOf(blockHash(x3)), false, "the record BAD_SIGNATURE names");
  });
});

describe("the pieces", () => {
  test("ByteLru keeps the most recently used within its byte bound", () => {
    const c = new ByteLru<string, number>(100);
    c.set("a", 1, 40);
    c.set("b", 2, 40);
    assert.equal(c.get("a"), 1); // a is now the most recent
    c.set("c", 3, 40);
    assert.deepEqual([c.has("a"), c.has("b"), c.has("c"), c.bytes], [true, false, true, 80]);
    c.set("huge", 4, 101);
    assert.deepEqual([c.has("huge"), c.bytes], [false, 80]);
    c.set("a", 5, 10);
    assert.deepEqual([c.get("a"), c.bytes, c.size], [5, 50, 2]);
  });

  test("the sliced decoders give consensus's results and errors", async () => {
    const blocks = [
      b1,
      makeChild(regtest.genesis, regtest, { records: tinyRecords(7, 300_000), mine: false }),
      makeChild(regtest.genesis, regtest, { mine: false }),
    ];
    for (const b of blocks) {
      const raw = encodeBlock(b);
      assert.deepEqual(await decodeBlockSliced(raw), decodeBlock(raw));
      assert.deepEqual(await recordOffsetsSliced(raw), recordOffsets(raw));
      for (const bad of [raw.subarray(0, raw.length - 1), new Uint8Array([...raw, 0]), raw.subarray(0, 90)]) {
        const want = (() => {
          try {
            decodeBlock(bad);
            return "ok";
          } catch (err) {
            return err instanceof DecodeError ? err.message : String(err);
          }
        })();
        await assert.rejects(
          decodeBlockSliced(bad),
          (e: unknown) => e instanceof DecodeError && e.message === want,
        );
        await assert.rejects(recordOffsetsSliced(bad), DecodeError);
      }
    }
  });

  test("heavy work in slices lets the event loop run between them, in arrival order", async () => {
    const order: string[] = [];
    const work = async (name: string): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        while (performance.now() - t0 < SLICE_MS + 1) {
          // Busy: one slice's worth of CPU.
        }
        order.push(`${name}${i}`);
        await yieldIfSpent();
      }
    };
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        order.push("timer");
        resolve();
      }, 0),
    );
    await nextSlice();
    await Promise.all([work("a"), work("b"), timer]);
    // The timer, due at once, ran before the work was done; the two tasks took turns.
    assert.ok(order.indexOf("timer") < order.length - 1, order.join(" "));
    const tasks = order.filter((x) => x !== "timer");
    assert.deepEqual(tasks, ["a0", "b0", "a1", "b1", "a2", "b2"]);
  });
});
