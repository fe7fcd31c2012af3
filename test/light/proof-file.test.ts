/**
 * Self-contained proof files through the library: built from a chain, verified offline (work on the
 * record, headers that do not link, a missing anchor, another network, versions), and placed against a
 * client's best chain (in its tree, through its window's base, through a checkpoint, on a side branch).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockWork } from "../../src/consensus/compact.ts";
import { buildRecordProof } from "../../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../../src/consensus/records.ts";
import {
  buildProofFile,
  CONTEXT_HEADERS,
  checkSegment,
  fromBase64,
  LightClient,
  type ProofFile,
  placeSegment,
  readProofFile,
  toBase64,
  verifyProofFile,
} from "../../src/light/index.ts";
import { recordToJson } from "../../src/mempool/json.ts";
import { asertnet, blockRecords, extend, genesisLink, type Link, raws } from "../helpers/headers.ts";

const hello = { type: "data" as const, data: new TextEncoder().encode("hello, light client") };
const chain = extend(asertnet, [genesisLink(asertnet)], 60, {
  records: (h) => (h === 25 ? [hello] : []),
});

/** A proof file for `hello` in block 25 of `links`, carrying headers up to `to`. */
function fileFor(links: readonly Link[], to = links.length - 1, height = 25): ProofFile {
  const recs = blockRecords(height, "test", [hello]);
  const ids = recs.map(recordId);
  const proof = buildRecordProof(links[height]!.raw, ids, 1, encodeRecord(recs[0]!));
  const from = height - CONTEXT_HEADERS;
  return buildProofFile({
    params: asertnet,
    id: "x",
    record: recordToJson(hello),
    proof,
    from,
    headers: raws(links.slice(from, to + 1)),
    blockOne: links[1]!.raw,
  });
}
const bytes = encodeRecord(hello);

describe("proof files offline", () => {
  it("say how much work is on the record, and how many headers", () => {
    const f = fileFor(chain);
    assert.equal(f.headers.count, 60 - 14 + 1);
    const r = verifyProofFile(asertnet, JSON.parse(JSON.stringify(f)), bytes);
    assert.ok(r.valid, r.valid ? "" : r.reason);
    assert.equal(r.proof.height, 25);
    assert.equal(r.confirmations, 36);
    assert.equal(r.workOnTop, chain[60]!.chainWork - chain[24]!.chainWork);
    const rate = Number(blockWork(chain[25]!.header.bits)) / asertnet.targetSpacing;
    assert.equal(r.hashRate, rate);
    assert.ok(Math.abs(r.hours - Number(r.workOnTop) / rate / 3600) < 1e-9);
    assert.equal(r.tip.hash, chain[60]!.hash);
  });

  it("refuse headers that do not link, a missing anchor, another network and the wrong record", () => {
    const f = fileFor(chain);
    const c = fromBase64(f.headers.chain);
    c[80 + 20 * 52 + 48] ^= 1; // the time of the 21st header (height 35)
    const broken = verifyProofFile(asertnet, { ...f, headers: { ...f.headers, chain: toBase64(c) } }, bytes);
    assert.equal(broken.valid ? "valid" : broken.code, "BAD_LINK");
    assert.match(broken.valid ? "" : broken.reason, /the one at height 36 does not follow/);
    const { blockOne: _, ...noAnchor } = f.headers;
    const anchorless = verifyProofFile(asertnet, { ...f, headers: noAnchor }, bytes);
    assert.equal(anchorless.valid ? "valid" : anchorless.code, "BAD_ANCHOR");
    const wrongAnchor = verifyProofFile(
      asertnet,
      { ...f, headers: { ...f.headers, blockOne: f.headers.blockOne!.replace(/^../, "02") } },
      bytes,
    );
    assert.equal(wrongAnchor.valid ? "valid" : wrongAnchor.code, "BAD_ANCHOR");
    const other = verifyProofFile({ ...asertnet, name: "regtest" }, f, bytes);
    assert.equal(other.valid ? "valid" : other.code, "WRONG_NETWORK");
    const tampered = verifyProofFile(
      asertnet,
      f,
      encodeRecord({ type: "data", data: new TextEncoder().encode("hello, light clienT") }),
    );
    assert.equal(tampered.valid ? "valid" : tampered.code, "ROOT_MISMATCH");
    // Headers of another chain: the proof's block is not among them.
    const elsewhere = extend(asertnet, [genesisLink(asertnet)], 40, { miner: "x" });
    const g = fileFor(chain);
    const h = fileFor(
      elsewhere.map((l, i) => (i === 25 ? chain[25]! : l)),
      24,
    );
    const notIn = verifyProofFile(asertnet, { ...g, headers: h.headers }, bytes);
    assert.equal(notIn.valid ? "valid" : notIn.code, "NOT_IN_HEADERS");
  });

  it("read: a file, the bare { record, proof } shape, another version, and junk", () => {
    const f = fileFor(chain);
    assert.equal(readProofFile(JSON.parse(JSON.stringify(f))).kind, "file");
    assert.equal(readProofFile({ record: f.record, proof: f.proof }).kind, "bare");
    const v2 = readProofFile({ ...f, version: 2 });
    assert.equal(v2.kind, "unsupported");
    assert.match(v2.kind === "unsupported" ? v2.reason : "", /upgrade jbc/);
    assert.equal(readProofFile({ ...f, headers: { ...f.headers, count: 0 } }).kind, "malformed");
    assert.equal(readProofFile([1, 2]).kind, "malformed");
    assert.equal(readProofFile({ format: "other" }).kind, "malformed");
  });
});

describe("proof files against a client's best chain", () => {
  const seg = () => {
    const r = verifyProofFile(asertnet, fileFor(chain, 40), bytes);
    assert.ok(r.valid);
    return r.segment;
  };

  it("in the tree: the client's own confirmations and work", () => {
    const c = new LightClient(asertnet);
    c.add("n", raws(chain.slice(1)), { from: 1 });
    const at = placeSegment(c, seg(), 25);
    assert.equal(at.status, "main");
    if (at.status !== "main") return;
    assert.equal(at.via, "tree");
    assert.equal(at.confirmations, 36);
    assert.equal(at.workOnTop, chain[60]!.chainWork - chain[24]!.chainWork);
  });

  it("below the window: through the base, or a remembered checkpoint", () => {
    const long = extend(asertnet, chain, 140);
    const c = new LightClient(asertnet, { window: 32, checkpointEvery: 10 });
    c.add("n", raws(long.slice(1)), { from: 1 });
    assert.ok(c.base.height > 40, `base ${c.base.height}`);
    // The file's headers (to 40) end below the window: a checkpoint at 30 or 40 ties them.
    const at = placeSegment(c, seg(), 25);
    assert.equal(at.status, "main");
    if (at.status !== "main") return;
    assert.equal(at.via, "checkpoint");
    assert.equal(at.confirmations, 200 - 25 + 1);
    assert.equal(at.workOnTop, long[200]!.chainWork - long[24]!.chainWork);
    // A file whose later headers left the best chain (a branch off 35) still ties through the lowest
    // checkpoint above the record (30), not the highest (40, where they differ).
    const forked = extend(asertnet, chain.slice(0, 36), 15, { miner: "f" });
    const fr = verifyProofFile(asertnet, fileFor(forked, 50), bytes);
    assert.ok(fr.valid);
    const viaLow = placeSegment(c, fr.segment, 25);
    assert.equal(viaLow.status === "main" && viaLow.via, "checkpoint");
    // Its header at 45 is on the branch: the checkpoint at 50 differs.
    const lost = placeSegment(c, fr.segment, 45);
    assert.equal(lost.status, "side");
    assert.equal(lost.status === "side" && lost.differsAt?.height, 50);
    // Headers reaching the base tie through it.
    const full = checkSegment(asertnet, {
      from: 14,
      headers: raws(long.slice(14, c.base.height + 1)),
      blockOne: long[1]!.raw,
    });
    assert.ok(full.ok);
    const viaBase = placeSegment(c, full.client, 25);
    assert.equal(viaBase.status === "main" && viaBase.via, "base");
    assert.equal(viaBase.status === "main" && viaBase.workOnTop, long[200]!.chainWork - long[24]!.chainWork);
    // Without checkpoints or a reach to the base: unplaced.
    const bare = new LightClient(asertnet, { window: 32, checkpointEvery: 1000 });
    bare.add("n", raws(long.slice(1)), { from: 1 });
    assert.equal(placeSegment(bare, seg(), 25).status, "unplaced");
  });

  it("on a side branch: refused with the branch's work against the best chain's", () => {
    // The record's chain loses to a heavier branch off height 20.
    const heavier = extend(asertnet, chain.slice(0, 21), 50, { miner: "h" });
    const c = new LightClient(asertnet);
    c.add("n", raws(heavier.slice(1)), { from: 1 });
    const at = placeSegment(c, seg(), 25);
    assert.equal(at.status, "side");
    if (at.status !== "side") return;
    assert.deepEqual(at.fork, { height: 20, hash: chain[20]!.hash });
    assert.equal(at.branchWork, chain[40]!.chainWork - chain[20]!.chainWork);
    assert.equal(at.bestWork, heavier[70]!.chainWork - chain[20]!.chainWork);
    // The file's headers joined the tree as a side branch; the best chain did not move.
    assert.equal(c.best.hash, heavier[70]!.hash);
  });
});
