/**
 * The LevelDB store against real LevelDB databases in temp dirs: every StoreError code a user can meet,
 * damaged files, blocks removed or altered behind the chain's back, and the entry encoding.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ClassicLevel } from "classic-level";
import { Chain } from "../../src/chain/chain.ts";
import { type StoredEntry, StoreError, type StoreErrorCode } from "../../src/chain/store.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import {
  encodeHeader,
  HEADER_SIZE,
  hashToHex,
  headerHashBytes,
  hexToHash,
} from "../../src/consensus/header.ts";
import { devnet, regtest } from "../../src/consensus/params.ts";
import { decodeEntry, encodeEntry } from "../../src/store/entry.ts";
import { blockKey, entryKey, META_KEY } from "../../src/store/layout.ts";
import { LevelStore } from "../../src/store/level.ts";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import { blockHash, makeChain } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { writeBlockFile } from "./crash-fixtures.ts";

const now = (): number => regtest.genesis.header.time + 86_400;
const VIEW = { keyEncoding: "view", valueEncoding: "view" } as const;

const dirs: string[] = [];
function freshDir(): string {
  const d = tempDir("jbc-store-");
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Asserts that `p` rejects with a StoreError of `code` whose message matches `re`. */
async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode, re?: RegExp): Promise<StoreError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected StoreError ${code}, but it resolved`);
}

async function openChain(dir: string): Promise<{ store: LevelStore; chain: Chain }> {
  const store = await LevelStore.open(dir, regtest, { create: false });
  try {
    return { store, chain: await Chain.open({ params: regtest, store, now }) };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** A store holding genesis + `main` blocks and a 3-block side branch off height 20; closed on return. */
async function buildStore(dir: string, main: Block[], side: Block[]): Promise<void> {
  const store = await LevelStore.open(dir, regtest);
  const chain = await Chain.open({ params: regtest, store, now });
  // Asked for, as a sync delivers them: a side branch far below the tip keeps its bodies only then.
  for (const b of [...main.slice(1), ...side]) await chain.processBlock(b, { requested: true });
  await chain.close();
  await store.close();
}

/** Runs `fn` on the raw LevelDB database, outside jbc. */
async function raw(
  dir: string,
  fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>,
): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, VIEW);
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

const MAIN = makeChain(regtest, 60);
const SIDE = makeChain(regtest, 3, { from: MAIN[20]!, miner: "side" }).slice(1);
const TIP = MAIN.length - 1;
/** Long enough for a log of several 32 KiB LevelDB log blocks. */
const LONG = makeChain(regtest, 300);

describe("LevelStore.open: what it refuses, and why", () => {
  it("MISSING: no directory, or an empty one, with create: false", async () => {
    const d = freshDir();
    await rejectsWith(LevelStore.open(join(d, "nope"), regtest, { create: false }), "MISSING");
    await rejectsWith(LevelStore.open(d, regtest, { create: false }), "MISSING");
  });

  it("creates a store by default; reopening with create: false finds it", async () => {
    const d = join(freshDir(), "chain");
    const s = await LevelStore.open(d, regtest);
    await s.close();
    const again = await LevelStore.open(d, regtest, { create: false });
    await again.close();
  });

  it("WRONG_NETWORK: a regtest database opened as devnet", async () => {
    const d = freshDir();
    await (await LevelStore.open(d, regtest)).close();
    await rejectsWith(LevelStore.open(d, devnet), "WRONG_NETWORK", /another network.*not devnet/);
    await (await LevelStore.open(d, regtest)).close();
  });

  it("NOT_JBC: a LevelDB database without jbc metadata", async () => {
    const d = freshDir();
    await raw(d, (db) => db.put(Uint8Array.of(1, 2, 3), Uint8Array.of(4)));
    await rejectsWith(LevelStore.open(d, regtest), "NOT_JBC", /without jbc metadata/);
  });

  it("NOT_JBC: jbc metadata of another schema version, or of the wrong size", async () => {
    const d = freshDir();
    await (await LevelStore.open(d, regtest)).close();
    await raw(d, async (db) => {
      const meta = (await db.get(META_KEY))!;
      meta[0] = SCHEMA_VERSION + 1;
      await db.put(META_KEY, meta);
    });
    await rejectsWith(
      LevelStore.open(d, regtest),
      "NOT_JBC",
      new RegExp(`schema version ${SCHEMA_VERSION + 1}`),
    );
    await raw(d, (db) => db.put(META_KEY, Uint8Array.of(1)));
    await rejectsWith(LevelStore.open(d, regtest), "NOT_JBC", /unrecognised metadata/);
  });

  it("NOT_JBC: a directory holding other files and no database", async () => {
    const d = freshDir();
    writeFileSync(join(d, "notes.txt"), "not a database");
    await rejectsWith(LevelStore.open(d, regtest), "NOT_JBC", /not empty/);
    await rejectsWith(LevelStore.open(d, regtest, { create: false }), "NOT_JBC");
  });

  it("LOCKED: a second open in the same process", async () => {
    const d = freshDir();
    const first = await LevelStore.open(d, regtest);
    try {
      await rejectsWith(LevelStore.open(d, regtest), "LOCKED", /in use/);
    } finally {
      await first.close();
    }
  });

  it("LOCKED: while another process has the store open; its kill -9 frees the lock", async () => {
    const d = freshDir();
    const file = join(d, "blocks.bin");
    writeFileSync(file, writeBlockFile(MAIN.slice(1, 3).map(encodeBlock)));
    const datadir = join(d, "chain");
    // The crash-test child processes delivery 0, reports it, then waits (store open) for leave to go on.
    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("./crash-child.ts", import.meta.url)), datadir, file],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    child.stdin!.on("error", () => {});
    try {
      child.stdin!.write("go 0\n");
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", () => reject(new Error("child exited early")));
      });
      assert.match(first, /^ok 0 /);
      await rejectsWith(LevelStore.open(datadir, regtest), "LOCKED");
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    const { store, chain } = await openChain(datadir);
    assert.equal(chain.tip.hash, blockHash(MAIN[1]!));
    await chain.close();
    await store.close();
  });

  it("opens as new a directory left by a kill during LevelDB's own creation", async () => {
    // What a kill leaves when it lands before LevelDB renames 000001.dbtmp to CURRENT (seen in practice by
    // killing `LevelStore.open` on a fresh directory: LOCK, LOG, MANIFEST-000001 and 000001.dbtmp).
    const d = freshDir();
    writeFileSync(join(d, "LOCK"), "");
    writeFileSync(join(d, "LOG"), "2026/11/24-00:00:00.000000 7f Creating DB\n");
    writeFileSync(join(d, "MANIFEST-000001"), Buffer.alloc(0));
    writeFileSync(join(d, "000001.dbtmp"), "MANIFEST-000001\n");
    await rejectsWith(LevelStore.open(d, regtest, { create: false }), "MISSING");
    const { store, chain } = await (async () => {
      await (await LevelStore.open(d, regtest)).close();
      return openChain(d);
    })();
    assert.equal(chain.height, 0);
    await chain.close();
    await store.close();
  });
});

describe("damaged LevelDB files: a StoreError or a reported problem, never wrong data", () => {
  let pristine: string;
  let compacted: string;
  before(async () => {
    pristine = join(freshDir(), "chain");
    await buildStore(pristine, LONG, SIDE);
    compacted = join(freshDir(), "chain");
    cpSync(pristine, compacted, { recursive: true });
    // Move everything from the log into a table file (.ldb), as LevelDB does once the log grows.
    await raw(compacted, (db) => db.compactRange(Uint8Array.of(0), Uint8Array.of(0xff)));
  });
  const copy = (from: string): string => {
    const d = join(freshDir(), "chain");
    cpSync(from, d, { recursive: true });
    return d;
  };
  const fileOf = (d: string, re: RegExp): string => {
    const f = readdirSync(d).find((n) => re.test(n));
    assert.ok(f, `no file matching ${re} in ${readdirSync(d).join(", ")}`);
    return join(d, f);
  };

  it("CURRENT deleted: CORRUPT (with create: false too)", async () => {
    const d = copy(compacted);
    rmSync(join(d, "CURRENT"));
    await rejectsWith(LevelStore.open(d, regtest), "CORRUPT", /without a CURRENT/);
    await rejectsWith(LevelStore.open(d, regtest, { create: false }), "CORRUPT");
  });

  it("MANIFEST deleted, or CURRENT naming a missing or no file: CORRUPT", async () => {
    const d = copy(compacted);
    rmSync(fileOf(d, /^MANIFEST-/));
    await rejectsWith(LevelStore.open(d, regtest), "CORRUPT", /MANIFEST-\d+: No such file/);
    writeFileSync(join(d, "CURRENT"), "MANIFEST-999999\n");
    await rejectsWith(LevelStore.open(d, regtest), "CORRUPT", /missing/);
    writeFileSync(join(d, "CURRENT"), "");
    await rejectsWith(LevelStore.open(d, regtest), "CORRUPT", /CURRENT file does not end with newline/);
  });

  it("a table file deleted: CORRUPT", async () => {
    const d = copy(compacted);
    rmSync(fileOf(d, /\.ldb$/));
    await rejectsWith(LevelStore.open(d, regtest), "CORRUPT", /missing files/);
  });

  it("a damaged record early in the log: later batches survive without it, and Chain.open says CORRUPT", async () => {
    const d = copy(pristine);
    const log = fileOf(d, /\.log$/);
    const bytes = readFileSync(log);
    assert.ok(bytes.length > 3 * 32_768, "the log spans several 32 KiB blocks");
    // LevelDB skips the rest of the damaged 32 KiB log block and replays the blocks after it.
    bytes[40_000] = bytes[40_000]! ^ 0xff;
    writeFileSync(log, bytes);
    const store = await LevelStore.open(d, regtest, { create: false });
    try {
      await rejectsWith(
        Chain.open({ params: regtest, store, now }),
        "CORRUPT",
        /has no parent in the block index/,
      );
      const v = await verifyChain(store, regtest);
      assert.equal(v.ok, false);
      assert.ok(v.problems.some((p) => /missing from the index|body .* missing|no block at height/.test(p)));
    } finally {
      await store.close();
    }
  });

  it("a damaged log tail: the store rolls back to an earlier consistent state, as after a power cut", async () => {
    const d = copy(pristine);
    const log = fileOf(d, /\.log$/);
    const bytes = readFileSync(log);
    // About the last five batches: the three side blocks (stored last) and two main-chain blocks.
    bytes[bytes.length - 2000] = bytes[bytes.length - 2000]! ^ 0xff;
    writeFileSync(log, bytes);
    const { store, chain } = await openChain(d);
    try {
      assert.ok(chain.height < LONG.length - 1, `the last batches are gone (height ${chain.height})`);
      assert.equal(chain.tip.hash, blockHash(LONG[chain.height]!), "the tip is an earlier main-chain block");
      const v = await verifyChain(store, regtest);
      assert.deepEqual(v.problems, []);
      assert.equal(v.checked, chain.height + 1);
    } finally {
      await chain.close();
      await store.close();
    }
    // LevelDB says what it dropped in its own LOG file; that is the only trace.
    assert.match(readFileSync(join(d, "LOG"), "utf8"), /dropping \d+ bytes|Corruption/i);
  });

  it("random damage in the table file: StoreError, reported problem or harmless, never silently wrong", async (t) => {
    const table = fileOf(compacted, /\.ldb$/);
    const size = statSync(table).size;
    let seed = 20261124;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const cases: Array<{ dir: string; at: number; len: number }> = [];
    for (let i = 0; i < 40; i++) {
      const dir = copy(compacted);
      const f = fileOf(dir, /\.ldb$/);
      const bytes = readFileSync(f);
      const at = Math.floor(rand() * size);
      const len = 1 + Math.floor(rand() * 8);
      for (let j = at; j < Math.min(size, at + len); j++)
        bytes[j] = bytes[j]! ^ (1 + Math.floor(rand() * 255));
      writeFileSync(f, bytes);
      cases.push({ dir, at, len });
    }
    const child = fileURLToPath(new URL("./damage-child.ts", import.meta.url));
    const seen = new Map<string, number>();
    const tally = (k: string): void => {
      seen.set(k, (seen.get(k) ?? 0) + 1);
    };
    for (let next = 0; next < cases.length; ) {
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", child, compacted, ...cases.slice(next).map((c) => c.dir)],
        {
          encoding: "utf8",
        },
      );
      const lines = r.stdout.split("\n").filter(Boolean);
      for (const line of lines) {
        const c = cases[next]!;
        const what = `damage at bytes ${c.at}..${c.at + c.len} of ${size}`;
        const o = JSON.parse(line) as {
          stage: string;
          code?: string;
          identical?: boolean;
          problems?: string[];
        };
        if (o.stage === "none") {
          assert.equal(o.identical, true, `${what}: nothing complained, but the data changed`);
          tally("harmless");
        } else if (o.stage === "verify") {
          assert.ok(o.problems?.length, `${what}: verify failed without naming a problem`);
          tally("verify problem");
        } else {
          assert.equal(o.code, "CORRUPT", `${what}: ${o.stage} failed with ${o.code}`);
          tally(`${o.stage} CORRUPT`);
        }
        next++;
      }
      if (r.status !== 0) {
        // LevelDB 1.20 asserts on some damaged keys and aborts the process: loud, never silent.
        assert.equal(r.signal, "SIGABRT", `exit ${r.status} ${r.signal}: ${r.stderr}`);
        tally("LevelDB abort");
        next++;
      }
    }
    t.diagnostic([...seen].map(([k, n]) => `${n} ${k}`).join(", "));
    const harmless = seen.get("harmless") ?? 0;
    assert.ok(harmless < cases.length / 4, `most hits are detected (${[...seen].join("; ")})`);
  });
});

describe("the chain against blocks removed or altered behind its back", () => {
  let base: string;
  before(async () => {
    base = join(freshDir(), "chain");
    await buildStore(base, MAIN, SIDE);
  });
  const copy = (): string => {
    const d = join(freshDir(), "chain");
    cpSync(base, d, { recursive: true });
    return d;
  };
  const hashAt = (h: number): Uint8Array => headerHashBytes(MAIN[h]!.header);

  it("a clean store verifies: every main-chain block checked, every entry counted", async () => {
    const { store, chain } = await openChain(copy());
    try {
      assert.equal(chain.height, TIP);
      const v = await verifyChain(store, regtest);
      assert.deepEqual(v.problems, []);
      assert.equal(v.ok, true);
      assert.equal(v.checked, chain.height + 1);
      assert.equal(v.height, TIP);
      assert.equal(v.tip, blockHash(MAIN[TIP]!));
      assert.equal(v.entries, MAIN.length + SIDE.length);
    } finally {
      await chain.close();
      await store.close();
    }
  });

  it("a recent main-chain body deleted: Chain.open says CORRUPT naming it, verify reports it", async () => {
    const d = copy();
    const h = TIP - 3;
    await raw(d, (db) => db.del(blockKey(hashAt(h))));
    const hex = blockHash(MAIN[h]!);
    const store = await LevelStore.open(d, regtest, { create: false });
    try {
      await rejectsWith(
        Chain.open({ params: regtest, store, now }),
        "CORRUPT",
        new RegExp(`main-chain block ${hex} \\(height ${h}\\) is missing`),
      );
      const v = await verifyChain(store, regtest);
      assert.equal(v.ok, false);
      assert.ok(
        v.problems.includes(`main-chain block ${hex} (height ${h}) body missing`),
        v.problems.join("\n"),
      );
    } finally {
      await store.close();
    }
  });

  it("an old main-chain body deleted: startup re-checks only the last 6, verify finds it", async () => {
    const d = copy();
    const h = 7;
    await raw(d, (db) => db.del(blockKey(hashAt(h))));
    const { store, chain } = await openChain(d);
    try {
      assert.equal(chain.height, TIP);
      const v = await verifyChain(store, regtest);
      assert.equal(v.ok, false);
      assert.ok(v.problems.includes(`main-chain block ${blockHash(MAIN[h]!)} (height ${h}) body missing`));
    } finally {
      await chain.close();
      await store.close();
    }
  });

  it("a side block's body deleted: verify reports it", async () => {
    const d = copy();
    await raw(d, (db) => db.del(blockKey(headerHashBytes(SIDE[1]!.header))));
    const { store, chain } = await openChain(d);
    try {
      const v = await verifyChain(store, regtest);
      assert.deepEqual(v.problems, [`block body ${blockHash(SIDE[1]!)} missing`]);
    } finally {
      await chain.close();
      await store.close();
    }
  });

  it("different bytes under a block's key: verify reports the hash mismatch; startup too when recent", async () => {
    for (const h of [12, TIP - 1]) {
      const d = copy();
      // A valid block, but another one: its bytes hash to another key.
      await raw(d, (db) => db.put(blockKey(hashAt(h)), encodeBlock(SIDE[0]!)));
      const store = await LevelStore.open(d, regtest, { create: false });
      try {
        const opened = Chain.open({ params: regtest, store, now });
        if (h > TIP - 6) {
          await rejectsWith(opened, "CORRUPT", new RegExp(`${blockHash(MAIN[h]!)} .*another header`));
        } else {
          await (await opened).close();
        }
        const v = await verifyChain(store, regtest);
        const want = `block stored under ${blockHash(MAIN[h]!)} (height ${h}) hashes to ${blockHash(SIDE[0]!)}`;
        assert.ok(v.problems.includes(want), v.problems.join("\n"));
      } finally {
        await store.close();
      }
    }
  });

  it("a miner name starting with U+FEFF reads back as mined, so verify agrees with the body", async () => {
    const d = join(freshDir(), "chain");
    const bom = makeChain(regtest, 2, { from: MAIN[2]!, miner: "\ufeffbom" }).slice(1);
    await buildStore(d, MAIN.slice(0, 3), bom);
    const { store, chain } = await openChain(d);
    try {
      assert.equal(chain.getEntry(blockHash(bom[1]!))?.miner, "\ufeffbom");
      assert.deepEqual((await verifyChain(store, regtest)).problems, []);
    } finally {
      await chain.close();
      await store.close();
    }
  });

  it("a side entry whose record count or miner was altered: verify reports it", async () => {
    // Entry layout: header(80) height(4) work(32) status(1) seq(8) size(4) count(4) miner...
    const COUNT_AT = 80 + 4 + 32 + 1 + 8 + 4;
    for (const [what, offset] of [
      ["count", COUNT_AT],
      ["miner", COUNT_AT + 4 + 1],
    ] as const) {
      const d = copy();
      const hash = headerHashBytes(SIDE[1]!.header);
      await raw(d, async (db) => {
        const v = (await db.get(entryKey(hash)))!;
        v[offset] = v[offset]! ^ 1;
        await db.put(entryKey(hash), v);
      });
      const { store, chain } = await openChain(d);
      try {
        const v = await verifyChain(store, regtest);
        assert.deepEqual(
          v.problems,
          [`entry ${blockHash(SIDE[1]!)}: its record count or miner does not match its body`],
          what,
        );
      } finally {
        await chain.close();
        await store.close();
      }
    }
  });

  it("a side block's body with an unreadable record (same header and size): verify reports it", async () => {
    const d = copy();
    const hash = headerHashBytes(SIDE[1]!.header);
    await raw(d, async (db) => {
      const v = (await db.get(blockKey(hash)))!;
      v[HEADER_SIZE + 1] = 0x07; // the first record's type byte, after the one-byte record count
      await db.put(blockKey(hash), v);
    });
    const { store, chain } = await openChain(d);
    try {
      const v = await verifyChain(store, regtest);
      assert.deepEqual(v.problems, [`block body ${blockHash(SIDE[1]!)} does not decode`]);
    } finally {
      await chain.close();
      await store.close();
    }
  });

  it("a block-tree entry whose header was altered: startup refuses it as CORRUPT, verify reports it", async () => {
    const d = copy();
    const key = entryKey(hashAt(30));
    await raw(d, async (db) => {
      const v = (await db.get(key))!;
      v[79] = v[79]! ^ 1; // last byte of the nonce
      await db.put(key, v);
    });
    const hex = blockHash(MAIN[30]!);
    await assert.rejects(openChain(d), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, "CORRUPT");
      assert.match(err.message, new RegExp(`entry ${hex}: stored header hashes to something else`));
      return true;
    });
    const store = await LevelStore.open(d, regtest, { create: false });
    try {
      const v = await verifyChain(store, regtest);
      assert.ok(
        v.problems.some((p) => p.startsWith(`entry ${hex}: its stored header hashes to `)),
        v.problems.join("\n"),
      );
      assert.ok(v.problems.includes(`block body ${hex} does not match its index entry (header or size)`));
    } finally {
      await store.close();
    }
  });
});

describe("block-tree entry encoding", () => {
  const h5 = MAIN[5]!.header;
  // Decoding yields plain Uint8Arrays; the mined header holds Buffers (deepEqual tells them apart).
  const header = {
    ...h5,
    prevHash: Uint8Array.from(h5.prevHash),
    merkleRoot: Uint8Array.from(h5.merkleRoot),
  };
  const base: StoredEntry = {
    hash: Uint8Array.from(headerHashBytes(header)),
    header,
    height: 5,
    chainWork: 12n,
    status: "valid",
    seq: 7,
    size: 123,
    miner: "test",
    recordCount: 1,
    invalid: undefined,
  };

  it("round-trips every status, rejection data, large work and seq, any UTF-8 miner name", () => {
    const cases: StoredEntry[] = [
      base,
      { ...base, status: "accepted" },
      { ...base, status: "invalid-child" },
      { ...base, status: "invalid", invalid: { code: "BAD_SIGNATURE", index: 3 } },
      { ...base, status: "invalid", invalid: { code: "BAD_MERKLE_ROOT", expected: "ab", actual: "cd" } },
      { ...base, chainWork: 2n ** 256n - 1n, seq: Number.MAX_SAFE_INTEGER, height: 0xffffffff },
      { ...base, miner: "", size: 0, recordCount: 0 },
      { ...base, miner: "\ufeffmineur é 矿工 🚀" },
    ];
    for (const e of cases) {
      const bytes = encodeEntry(e);
      assert.deepEqual(decodeEntry(e.hash, bytes), e);
      assert.deepEqual(bytes.subarray(0, 80), encodeHeader(header), "the header comes first, as on the wire");
    }
  });

  it("lays the fields out as documented in docs/storage.md", () => {
    const bytes = encodeEntry({ ...base, chainWork: 0x0102n, seq: 0x0a0b, miner: "m" });
    const hex = toHex(bytes.subarray(80));
    assert.equal(
      hex,
      "05000000" + // height u32 LE
        "0102".padStart(64, "0") + // chain work, 32 bytes big-endian
        "01" + // status: 0 accepted, 1 valid, 2 invalid, 3 invalid-child
        "0b0a000000000000" + // seq u64 LE
        "7b000000" + // size u32 LE
        "01000000" + // record count u32 LE
        "016d" + // miner: CompactSize length + UTF-8
        "00", // rejection: CompactSize length + JSON (empty when valid)
    );
  });

  it("refuses an unknown status, a truncated entry and trailing bytes", () => {
    const bytes = encodeEntry(base);
    const badStatus = Uint8Array.from(bytes);
    badStatus[80 + 4 + 32] = 9;
    assert.throws(
      () => decodeEntry(base.hash, badStatus),
      (e: unknown) => e instanceof StoreError && e.code === "CORRUPT",
    );
    assert.throws(() => decodeEntry(base.hash, bytes.subarray(0, bytes.length - 1)));
    assert.throws(() => decodeEntry(base.hash, Uint8Array.of(...bytes, 0)));
  });

  it("keys: one prefix byte, then the internal-order hash", () => {
    const h = hexToHash(blockHash(MAIN[1]!));
    assert.equal(toHex(blockKey(h)), `62${toHex(h)}`);
    assert.equal(toHex(entryKey(h)), `65${toHex(h)}`);
    assert.equal(hashToHex(h), blockHash(MAIN[1]!));
  });
});
