/**
 * Wire formats of the jbc protocols (docs/protocol.md): exact sizes and offsets, round trips, and the
 * malformed inputs a peer may send.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import {
  blocksTopic,
  decodeBlocksRequest,
  decodeStatus,
  encodeBlocksRequest,
  encodeFrames,
  encodeStatus,
  MAX_BLOCKS_REQUEST_SIZE,
  ProtocolError,
  STATUS_SIZE,
} from "../../src/net/protocols.ts";

const hash = (b: number): Uint8Array => new Uint8Array(32).fill(b);

describe("status message", () => {
  it("encodes to 105 bytes at the documented offsets and round-trips", () => {
    const s = {
      networkId: 0x6a626372,
      genesis: hash(1),
      height: 1234,
      tip: hash(2),
      work: (1n << 200n) + 5n,
    };
    const b = encodeStatus(s);
    assert.equal(b.length, STATUS_SIZE);
    assert.equal(b[0], 1, "version");
    assert.deepEqual([...b.subarray(1, 5)], [0x72, 0x63, 0x62, 0x6a], "network id, little-endian");
    assert.deepEqual(b.subarray(5, 37), hash(1));
    assert.deepEqual([...b.subarray(37, 41)], [0xd2, 0x04, 0, 0], "height, little-endian");
    assert.deepEqual(b.subarray(41, 73), hash(2));
    assert.equal(b[104], 5, "work is big-endian: least significant byte last");
    assert.equal(b[79], 1, "bit 200 is in byte 104 - 25");
    assert.deepEqual(decodeStatus(b), s);
  });

  it("refuses other sizes and versions", () => {
    const b = encodeStatus({ networkId: 1, genesis: hash(0), height: 0, tip: hash(0), work: 1n });
    assert.throws(() => decodeStatus(b.subarray(0, 104)), ProtocolError);
    assert.throws(() => decodeStatus(new Uint8Array(106)), ProtocolError);
    const v2 = b.slice();
    v2[0] = 2;
    assert.throws(() => decodeStatus(v2), /version 2/);
  });
});

describe("blocks request", () => {
  it("encodes count, hashes and max, and round-trips", () => {
    const r = { locator: [hash(9), hash(8)], max: 500 };
    const b = encodeBlocksRequest(r);
    assert.equal(b.length, 3 + 64);
    assert.equal(b[0], 2);
    assert.deepEqual([...b.subarray(65, 67)], [0xf4, 0x01]);
    assert.deepEqual(decodeBlocksRequest(b), r);
    const locator64 = Array.from({ length: 64 }, (_, i) => hash(i));
    assert.equal(encodeBlocksRequest({ locator: locator64, max: 1 }).length, MAX_BLOCKS_REQUEST_SIZE - 4);
    assert.equal(encodeBlocksRequest({ locator: locator64, max: 1 }, 2).length, MAX_BLOCKS_REQUEST_SIZE);
  });

  it("version 2 adds skip (u32 LE) after max; version 1 has no room for one", () => {
    const r = { locator: [hash(9)], max: 50, skip: 70_000 };
    const b = encodeBlocksRequest(r, 2);
    assert.equal(b.length, 3 + 32 + 4);
    assert.deepEqual([...b.subarray(35, 39)], [0x70, 0x11, 0x01, 0x00]);
    assert.deepEqual(decodeBlocksRequest(b, 2), r);
    assert.throws(() => encodeBlocksRequest(r, 1), RangeError);
    // Each version's length is the other's MALFORMED.
    assert.throws(() => decodeBlocksRequest(b, 1), ProtocolError);
    assert.throws(
      () => decodeBlocksRequest(encodeBlocksRequest({ locator: [hash(9)], max: 50 }), 2),
      ProtocolError,
    );
  });

  it("refuses empty or oversized locators, bad max and length mismatches", () => {
    const good = encodeBlocksRequest({ locator: [hash(1)], max: 10 });
    const zero = good.slice();
    zero[0] = 0;
    assert.throws(() => decodeBlocksRequest(zero), ProtocolError);
    const many = new Uint8Array(3 + 32 * 65);
    many[0] = 65;
    assert.throws(() => decodeBlocksRequest(many), /65 hashes/);
    assert.throws(() => decodeBlocksRequest(good.subarray(0, good.length - 1)), ProtocolError);
    const over = good.slice();
    new DataView(over.buffer).setUint16(33, 501, true);
    assert.throws(() => decodeBlocksRequest(over), /501 blocks/);
    const none = good.slice();
    new DataView(none.buffer).setUint16(33, 0, true);
    assert.throws(() => decodeBlocksRequest(none), ProtocolError);
    assert.throws(() => decodeBlocksRequest(new Uint8Array(0)), ProtocolError);
  });
});

describe("frames and topic", () => {
  it("prefixes each payload with its u32 little-endian length", () => {
    const f = encodeFrames([new Uint8Array([7, 8, 9]), new Uint8Array(0)]);
    assert.deepEqual([...f], [3, 0, 0, 0, 7, 8, 9, 0, 0, 0, 0]);
  });

  it("names the block topic after the network and its genesis", () => {
    assert.equal(blocksTopic(regtest), `/jbc/regtest/${regtest.genesisHash.slice(0, 16)}/blocks/1`);
  });
});
