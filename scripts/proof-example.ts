/**
 * Prints the worked example of docs/consensus.md, "Record inclusion proofs": a regtest block 1 with
 * three records, and the proof for record 2, whose first sibling is itself (the duplicated last node).
 * `node --import tsx scripts/proof-example.ts`; test/consensus/docs.test.ts checks the doc against it.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { recordIds } from "../src/consensus/block.ts";
import { toHex } from "../src/consensus/bytes.ts";
import {
  encodeHeader,
  hashToBigInt,
  hashToHex,
  headerHashBytes,
  hexToHash,
} from "../src/consensus/header.ts";
import { regtest } from "../src/consensus/params.ts";
import { buildRecordProof, type RecordProof } from "../src/consensus/proof.ts";
import { encodeRecord } from "../src/consensus/records.ts";
import { buildBlock } from "../src/consensus/template.ts";

export interface ProofExample {
  /** Hex of each record's bytes, in block order. */
  records: string[];
  /** Each record's id, internal byte order. */
  ids: string[];
  /** sha256d(id0 ‖ id1) and sha256d(id2 ‖ id2): the two nodes of level 1. */
  level1: [string, string];
  root: string;
  blockHash: string;
  proof: RecordProof;
}

export function proofExample(): ProofExample {
  const utf8 = new TextEncoder();
  let block = buildBlock({
    prevHash: hexToHash(regtest.genesisHash),
    height: 1,
    bits: regtest.genesis.header.bits,
    time: regtest.genesis.header.time + 1,
    miner: "example",
    records: [
      { type: "data", data: utf8.encode("hello") },
      { type: "data", data: utf8.encode("world") },
    ],
  });
  const target = 0x7fffffn << 232n; // regtest's bits, 0x207fffff
  while (hashToBigInt(headerHashBytes(block.header)) > target)
    block = { ...block, header: { ...block.header, nonce: block.header.nonce + 1 } };
  const ids = recordIds(block);
  const pair = (a: Uint8Array, b: Uint8Array) => toHex(sha256(sha256(Uint8Array.from([...a, ...b]))));
  return {
    records: block.records.map((r) => toHex(encodeRecord(r))),
    ids: ids.map(toHex),
    level1: [pair(ids[0]!, ids[1]!), pair(ids[2]!, ids[2]!)],
    root: toHex(block.header.merkleRoot),
    blockHash: hashToHex(headerHashBytes(block.header)),
    proof: buildRecordProof(encodeHeader(block.header), ids, 2, encodeRecord(block.records[0]!)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(proofExample(), null, 2));
}
