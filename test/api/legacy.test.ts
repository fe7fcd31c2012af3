import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  blockFromLegacy,
  LEGACY_BATCH_BYTES,
  LegacyJsonCache,
  legacyBlock,
  legacyBlockJson,
  legacyBlockPieces,
  legacyRecords,
  streamLegacyChain,
} from "../../src/api/legacy.ts";
import { printableText, recordFromJson, recordJson } from "../../src/api/views.ts";
import { Chain } from "../../src/chain/chain.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { merkleRoot } from "../../src/consensus/merkle.ts";
import { regtest } from "../../src/consensus/params.ts";
import { type BlockRecord, recordId, signRecord } from "../../src/consensus/records.ts";
import { LevelStore } from "../../src/store/level.ts";
import { blockHash, makeChild } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";

const enc = new TextEncoder();
const dir = tempDir("jbc-legacy-");
after(() => rmSync(dir, { recursive: true, force: true }));

const samples: BlockRecord[][] = [
  [],
  [{ type: "data", data: enc.encode("plain ascii\twith tab\nand newline") }],
  [{ type: "data", data: enc.encode("ünïcødé ✓ \u{1F600}") }],
  [{ type: "data", data: new Uint8Array([0xef, 0xbb, 0xbf, 0x41]) }], // BOM + "A"
  [{ type: "data", data: new Uint8Array([0xff, 0xfe, 0x00, 0x01]) }], // not UTF-8
  [{ type: "data", data: new Uint8Array([0x41, 0x00, 0x42]) }], // NUL: valid UTF-8, not printable
  [{ type: "data", data: new Uint8Array(0) }],
  [signRecord(enc.encode('signed "quoted" \\ text'), new Uint8Array(32).fill(7))],
  [signRecord(new Uint8Array([1, 2, 3]), new Uint8Array(32).fill(9))],
];

test("printableText: text stays text, anything that would not survive as text is refused", () => {
  assert.equal(printableText(enc.encode("hello\r\n")), "hello\r\n");
  assert.equal(printableText(enc.encode("é")), "é");
  assert.equal(printableText(new Uint8Array([0x41, 0x07])), undefined);
  assert.equal(printableText(new Uint8Array([0x7f])), undefined);
  assert.equal(printableText(new Uint8Array([0xc3])), undefined, "truncated UTF-8");
  assert.equal(printableText(new Uint8Array([0xc0, 0x80])), undefined, "overlong NUL");
});

test("record JSON round-trips every record type exactly", () => {
  for (const recs of samples) {
    for (const r of recs) assert.deepEqual(recordFromJson(recordJson(r)), r);
  }
  const miner: BlockRecord = { type: "miner", height: 7, extraNonce: 2n ** 64n - 1n, miner: "nöde" };
  assert.deepEqual(recordFromJson(recordJson(miner)), miner);
});

test("the streamed writer and the object form give the same JSON, which rebuilds the same block", async () => {
  const store = await LevelStore.open(join(dir, "db"), regtest);
  const chain = await Chain.open({ params: regtest, store });
  try {
    let parent = regtest.genesis;
    const genesis = chain.getEntryAt(0)!;
    assert.deepEqual(
      JSON.parse(legacyBlockJson(genesis, encodeBlock(parent))),
      legacyBlock(0, regtest.genesisHash, parent),
    );
    for (const [i, records] of samples.entries()) {
      const block = makeChild(parent, regtest, { miner: i % 2 ? 'nöde "x"' : "", records });
      assert.equal((await chain.processBlock(block)).status, "main");
      const entry = chain.getEntry(blockHash(block))!;
      const raw = encodeBlock(block);
      const obj = legacyBlock(entry.height, entry.hash, block);
      assert.deepEqual(JSON.parse(legacyBlockJson(entry, raw)), obj, `sample ${i}`);
      const rebuilt = blockFromLegacy(obj, 0);
      assert.deepEqual(encodeBlock(rebuilt), raw, `sample ${i} rebuilds byte for byte`);
      parent = block;
    }
  } finally {
    await chain.close();
    await store.close();
  }
});

test("the /blockchain.json stream is the same with a cold cache, a warm one and none; the cache stays in budget", async () => {
  const store = await LevelStore.open(join(dir, "db2"), regtest);
  const chain = await Chain.open({ params: regtest, store });
  try {
    let parent = regtest.genesis;
    for (let i = 0; i < 1500; i++) {
      parent = makeChild(parent, regtest, { miner: `m${i % 3}` });
      await chain.processBlock(parent);
    }
    const collect = async (cache?: LegacyJsonCache): Promise<string> => {
      let out = "";
      for await (const chunk of streamLegacyChain(chain, cache)) out += chunk;
      return out;
    };
    const plain = await collect();
    const parsed = JSON.parse(plain) as Array<{ index: string; hash: string }>;
    assert.equal(parsed.length, 1501);
    assert.equal(parsed[1500]!.hash, blockHash(parent));
    const cache = new LegacyJsonCache();
    assert.equal(await collect(cache), plain, "cold");
    assert.equal(cache.size, 1501);
    assert.equal(await collect(cache), plain, "warm");
    const small = new LegacyJsonCache(50_000);
    assert.equal(await collect(small), plain);
    assert.ok(small.size > 0 && small.size < 1501, `bounded: ${small.size} entries`);
    assert.equal(await collect(small), plain);
  } finally {
    await chain.close();
    await store.close();
  }
});

test("a large block is written in pieces that join to its whole JSON", async () => {
  const store = await LevelStore.open(join(dir, "db3"), regtest);
  const chain = await Chain.open({ params: regtest, store });
  try {
    const blocks = [
      // Many small records (as many as the record cap allows, 150 KB): text, bytes, signed.
      makeChild(regtest.genesis, regtest, {
        records: Array.from(
          { length: 4_000 },
          (_, i): BlockRecord =>
            i % 3 === 0
              ? { type: "data", data: enc.encode(`line "${i}"\\ é ${"-".repeat(24)}`) }
              : {
                  type: "data",
                  data: Uint8Array.from({ length: 36 }, (_, k) => [0, i & 255, i >> 8, 7][k % 4]!),
                },
        ).concat([signRecord(enc.encode("signed"), new Uint8Array(32).fill(5))]),
      }),
    ];
    // Large records whose text needs escaping, and bytes that are not UTF-8.
    const big = new Uint8Array(60_000).fill(0x22);
    big[1] = 0x0a;
    const bin = new Uint8Array(60_000).fill(0xff);
    blocks.push(
      makeChild(blocks[0]!, regtest, {
        records: [
          { type: "data", data: big },
          { type: "data", data: bin },
        ],
      }),
    );
    for (const block of blocks) {
      assert.equal((await chain.processBlock(block)).status, "main");
      const entry = chain.getEntry(blockHash(block))!;
      const raw = encodeBlock(block);
      const pieces = [...legacyBlockPieces(entry, raw)];
      assert.ok(pieces.length > 1, `${pieces.length} pieces`);
      assert.ok(Math.max(...pieces.map((p) => p.length)) < 1024 * 1024, "no piece grows with the block");
      const whole = legacyBlockJson(entry, raw);
      assert.equal(pieces.join(""), whole);
      assert.deepEqual(JSON.parse(whole), legacyBlock(entry.height, entry.hash, block));
    }
    // The stream: chunks of bounded size whatever the blocks, the same JSON as the objects.
    const chunks: string[] = [];
    for await (const c of streamLegacyChain(chain, new LegacyJsonCache())) chunks.push(c);
    assert.ok(Math.max(...chunks.map((c) => c.length)) < 1024 * 1024);
    assert.deepEqual(
      JSON.parse(chunks.join("")),
      [regtest.genesis, ...blocks].map((b, h) => legacyBlock(h, blockHash(b), b)),
    );
  } finally {
    await chain.close();
    await store.close();
  }
});

test("a /blockchain.json download reads at most two batches of LEGACY_BATCH_BYTES ahead of what it wrote", async () => {
  // Issue 17's soak: with 4 MiB batches, eight downloads held 61 MB of block bytes between them (a heap
  // snapshot of the node). Here 12 blocks of 300 KB (3.6 MB, one batch before) and a reader that reads
  // through the chain's own getMainBlocks, counting what it returned.
  const store = await LevelStore.open(join(dir, "db4"), regtest);
  const chain = await Chain.open({ params: regtest, store });
  try {
    let parent = regtest.genesis;
    for (let i = 0; i < 12; i++) {
      const records: BlockRecord[] = Array.from({ length: 5 }, (_, k) => {
        const data = new Uint8Array(60_000).fill(0x61);
        data.set(enc.encode(`${i}.${k}`)); // distinct records: a repeat is a duplicate
        return { type: "data", data };
      });
      parent = makeChild(parent, regtest, { records });
      assert.equal((await chain.processBlock(parent)).status, "main");
    }
    const sizes = Array.from({ length: 13 }, (_, h) => chain.getEntryAt(h)!.size);
    let read = 0;
    let largestBatch = 0;
    const reader = new Proxy(chain, {
      get(target, key) {
        if (key === "getMainBlocks")
          return async (from: number, count: number): Promise<Uint8Array[]> => {
            const raws = await target.getMainBlocks(from, count);
            const bytes = raws.reduce((n, r) => n + r.length, 0);
            if (raws.length > 1) largestBatch = Math.max(largestBatch, bytes);
            read += bytes;
            return raws;
          };
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    let begun = 0;
    let ahead = 0;
    let out = "";
    for await (const chunk of streamLegacyChain(reader)) {
      out += chunk;
      begun += chunk.split('{"index":"').length - 1;
      // Blocks before the one being written are done with; everything read past them is held.
      const done = sizes.slice(0, Math.max(0, begun - 1)).reduce((n, s) => n + s, 0);
      ahead = Math.max(ahead, read - done);
    }
    assert.equal((JSON.parse(out) as unknown[]).length, 13);
    assert.equal(
      read,
      sizes.reduce((n, s) => n + s, 0),
      "every block read once",
    );
    assert.ok(largestBatch <= LEGACY_BATCH_BYTES, `a batch of ${largestBatch} bytes`);
    assert.ok(ahead <= 2 * LEGACY_BATCH_BYTES, `${ahead} bytes read ahead of the writer`);
  } finally {
    await chain.close();
    await store.close();
  }
});

test("POST /mined's default merkle root, computed in time slices, is consensus's", async () => {
  for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 64, 65, 513, 1000, 4097]) {
    const records: BlockRecord[] = [
      { type: "miner", height: n, extraNonce: 0n, miner: "m" },
      ...Array.from({ length: n }, (_, i): BlockRecord => ({ type: "data", data: enc.encode(`r${i}`) })),
    ];
    const json = legacyBlock(1, "", { header: regtest.genesis.header, records });
    delete json.merkle_root;
    const { records: got, root } = await legacyRecords(json);
    assert.deepEqual(got, records);
    assert.deepEqual(root, merkleRoot(records.map(recordId)), `${n + 1} records`);
  }
});
