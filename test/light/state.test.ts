/**
 * The light state as JSON: a round trip gives the same client, the size stays bounded however long the
 * chain, and a damaged, edited or foreign file is refused with a code, never trusted.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { regtest } from "../../src/consensus/params.ts";
import {
  fromBase64,
  LightClient,
  LightStateError,
  loadLightState,
  saveLightState,
  toBase64,
} from "../../src/light/index.ts";
import { asertnet, extend, genesisLink, raws } from "../helpers/headers.ts";

const chain = extend(asertnet, [genesisLink(asertnet)], 300);

function synced(window: number): LightClient {
  const c = new LightClient(asertnet, { window, checkpointEvery: 20, maxCheckpoints: 5, trustDepth: 4 });
  for (let h = 1; h <= 300; h += 25) c.add("n", raws(chain.slice(h, h + 25)), { from: h });
  c.advanceTrusted();
  return c;
}

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return "loaded";
  } catch (err) {
    return err instanceof LightStateError ? err.code : String(err);
  }
};

describe("light state", () => {
  it("round-trips: the same tip, base, trusted header and checkpoints", () => {
    const c = synced(40);
    const json = JSON.parse(JSON.stringify(saveLightState(c)));
    const d = loadLightState(asertnet, json);
    assert.equal(d.best.hash, c.best.hash);
    assert.equal(d.best.chainWork, chain[300]!.chainWork);
    assert.equal(d.base.height, c.base.height);
    assert.deepEqual(d.trusted, c.trusted);
    assert.equal(d.trusted?.height, 297);
    assert.deepEqual(d.checkpoints, c.checkpoints);
    assert.equal(d.trustDepth, 4);
    // The loaded client checks what follows exactly as the first would.
    const more = extend(asertnet, chain, 5);
    assert.equal(d.add("n", raws(more.slice(301)), { from: 301 }).added, 5);
    const bad = extend(asertnet, chain, 1, { bits: () => 0x207fffff }).slice(301);
    assert.equal(d.add("liar", raws(bad), { from: 301 }).fault?.code, "BAD_BITS");
  });

  it("stays bounded: the same size after 300 headers as after 150", () => {
    const size = (n: number): number => {
      const c = new LightClient(asertnet, { window: 40, checkpointEvery: 20, maxCheckpoints: 5 });
      c.add("n", raws(chain.slice(1, n + 1)), { from: 1 });
      return JSON.stringify(saveLightState(c)).length;
    };
    const a = size(150);
    const b = size(300);
    assert.ok(Math.abs(a - b) < 200 + 52 * 4 * 10, `${a} and ${b} bytes`);
  });

  it("refuses a damaged, edited, foreign or future file", () => {
    const good = saveLightState(synced(40));
    const chainBytes = fromBase64(good.headers.chain);
    chainBytes[80 + 5 * 52 + 48] ^= 1;
    assert.equal(
      codeOf(() =>
        loadLightState(asertnet, { ...good, headers: { ...good.headers, chain: toBase64(chainBytes) } }),
      ),
      "DAMAGED",
    );
    assert.equal(
      codeOf(() => loadLightState(asertnet, { ...good, tip: { ...good.tip, hash: "00".repeat(32) } })),
      "DAMAGED",
    );
    assert.equal(
      codeOf(() => loadLightState(asertnet, { ...good, trusted: { ...good.tip, hash: "11".repeat(32) } })),
      "DAMAGED",
    );
    assert.equal(
      codeOf(() => loadLightState(asertnet, { ...good, base: { ...good.base, anchorTime: 1 } })),
      "DAMAGED",
    );
    assert.equal(
      codeOf(() => loadLightState(regtest, good)),
      "WRONG_NETWORK",
    );
    assert.equal(
      codeOf(() => loadLightState(asertnet, { ...good, version: 2 })),
      "UNSUPPORTED_VERSION",
    );
    assert.equal(
      codeOf(() => loadLightState(asertnet, { ...good, window: "x" })),
      "MALFORMED",
    );
    assert.equal(
      codeOf(() => loadLightState(asertnet, null)),
      "MALFORMED",
    );
  });
});
