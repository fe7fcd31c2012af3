import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allocBytes, copyBytes, Reader, Writer } from "../../src/consensus/bytes.ts";

describe("pooled byte arrays", () => {
  it("allocBytes hands out zeroed, non-overlapping views; large ones get their own buffer", () => {
    const parts = Array.from({ length: 300 }, (_, i) => allocBytes(1 + (i % 97)));
    for (const p of parts)
      assert.ok(
        p.every((b) => b === 0),
        "zeroed",
      );
    for (const [i, p] of parts.entries()) p.fill((i % 255) + 1);
    for (const [i, p] of parts.entries()) {
      assert.ok(
        p.every((b) => b === (i % 255) + 1),
        `part ${i} was overwritten`,
      );
    }
    const big = allocBytes(10_000);
    assert.equal(big.byteOffset, 0);
    assert.equal(big.buffer.byteLength, 10_000);
    assert.equal(Object.getPrototypeOf(parts[0]), Uint8Array.prototype, "plain Uint8Arrays, not Buffers");
  });

  it("copyBytes does not alias its source, and .slice() of a pooled view is a copy", () => {
    const src = Uint8Array.from([1, 2, 3, 4]);
    const c = copyBytes(src);
    src[0] = 9;
    assert.deepEqual(c, Uint8Array.from([1, 2, 3, 4]));
    const s = c.slice();
    c[1] = 7;
    assert.equal(s[1], 2);
  });

  it("Writer output is a view at an offset that Reader reads back exactly", () => {
    const write = (): Uint8Array =>
      new Writer(4)
        .u8(7)
        .u32(0xdeadbeef)
        .u64(2n ** 63n + 5n)
        .varint(70_000)
        .varBytes(Uint8Array.from([5, 6]))
        .finish();
    // Only the first output of a fresh slab starts at offset 0; the next one cannot.
    let out = write();
    if (out.byteOffset === 0) out = write();
    assert.ok(out.byteOffset > 0);
    const r = new Reader(out);
    assert.equal(r.u8(), 7);
    assert.equal(r.u32(), 0xdeadbeef);
    assert.equal(r.u64(), 2n ** 63n + 5n);
    assert.equal(r.varint(100_000), 70_000);
    assert.deepEqual(r.varBytes(10), Uint8Array.from([5, 6]));
    r.end("test");
  });
});
