/**
 * src/consensus runs in a real browser: Vite bundles src/consensus/index.ts for the browser (as the
 * explorer's build does), Debian's Chromium loads the bundle into a page with no Node globals, and the
 * page's answers are checked against independent ones: Bitcoin's genesis header hash and work, and
 * node:crypto's SHA-256 and ed25519 computed here in Node.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import type * as Consensus from "../../src/consensus/index.ts";
import { browserBundle } from "../helpers/browser-bundle.ts";
import { scriptPage } from "./harness.ts";

const dsha = (b: Uint8Array): string =>
  createHash("sha256").update(createHash("sha256").update(b).digest()).digest("hex");

let page: Page;
let code: string;
let pageErrors: string[] = [];
let closeBrowser: (() => Promise<void>) | undefined;

before(async () => {
  // The bundle as the browser gets it: one IIFE that defines `jbcConsensus`.
  code = await browserBundle("src/consensus/index.ts", "jbcConsensus");
  ({ page, errors: pageErrors, close: closeBrowser } = await scriptPage(code, "consensus"));
});

after(async () => {
  await closeBrowser?.();
});

declare const jbcConsensus: typeof Consensus;

describe("consensus in Chromium", () => {
  test("the bundle imports nothing from Node and the page has no Node globals", async () => {
    assert.doesNotMatch(code, /["']node:|__vite-browser-external/);
    const globals = await page.evaluate(() => ({
      buffer: typeof (globalThis as { Buffer?: unknown }).Buffer,
      process: typeof (globalThis as { process?: unknown }).process,
      loaded: typeof jbcConsensus.headerHash,
    }));
    assert.deepEqual(globals, { buffer: "undefined", process: "undefined", loaded: "function" });
  });

  test("hashes Bitcoin's genesis header to its known hash, and its bits to its known work", async () => {
    const got = await page.evaluate(() => {
      const c = jbcConsensus;
      const header = {
        version: 1,
        prevHash: new Uint8Array(32),
        merkleRoot: c.hexToHash("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"),
        time: 1231006505,
        bits: 0x1d00ffff,
        nonce: 2083236893,
      };
      const bytes = c.encodeHeader(header);
      return {
        hash: c.headerHash(header),
        roundTrip: c.headerHash(c.decodeHeader(bytes)),
        bytes: c.toHex(bytes),
        target: c.bitsToTarget(0x1d00ffff)!.toString(16),
        work: c.blockWork(0x1d00ffff).toString(),
        bitsBack: c.targetToBits(c.bitsToTarget(0x1d00ffff)!),
      };
    });
    assert.equal(got.hash, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    assert.equal(got.roundTrip, got.hash);
    // Bitcoin's display hash is the reversed double SHA-256 of the 80 bytes: check those with node:crypto.
    assert.equal(
      Buffer.from(dsha(Buffer.from(got.bytes, "hex")), "hex")
        .reverse()
        .toString("hex"),
      got.hash,
    );
    assert.equal(got.target, "ffff0000000000000000000000000000000000000000000000000000");
    assert.equal(got.work, String(0x100010001));
    assert.equal(got.bitsBack, 0x1d00ffff);
  });

  test("SHA-256 and merkle roots equal node:crypto's on the same bytes", async () => {
    const inputs = [0, 1, 55, 56, 64, 80, 119, 1000].map((n) =>
      Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff)).toString("hex"),
    );
    const got = await page.evaluate((hexes) => {
      const c = jbcConsensus;
      const leaves = hexes.map((h) => c.sha256d(c.fromHex(h)));
      return {
        digests: hexes.map((h) => c.toHex(c.sha256d(c.fromHex(h)))),
        roots: [1, 2, 3, 5, 8].map((n) => c.toHex(c.merkleRoot(leaves.slice(0, n)))),
      };
    }, inputs);
    assert.deepEqual(
      got.digests,
      inputs.map((h) => dsha(Buffer.from(h, "hex"))),
    );
    // Bitcoin's pairing, done here with node:crypto: an odd last hash is paired with itself.
    const leaves = got.digests.map((h) => Buffer.from(h, "hex"));
    const root = (level: Buffer[]): string => {
      while (level.length > 1) {
        if (level.length % 2) level.push(level[level.length - 1]!);
        const next: Buffer[] = [];
        for (let i = 0; i < level.length; i += 2)
          next.push(Buffer.from(dsha(Buffer.concat([level[i]!, level[i + 1]!])), "hex"));
        level = next;
      }
      return level[0]!.toString("hex");
    };
    assert.deepEqual(
      got.roots,
      [1, 2, 3, 5, 8].map((n) => root(leaves.slice(0, n))),
    );
  });

  test("verifies a signed record node:crypto signed, and refuses it altered", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(12);
    const data = Buffer.from("signed in Node, checked in Chromium");
    const message = Buffer.concat([Buffer.from("jbc record v1\n"), data]);
    const signature = sign(null, message, privateKey);
    const got = await page.evaluate(
      ({ data, key, sig }) => {
        const c = jbcConsensus;
        const rec = {
          type: "signed" as const,
          data: c.fromHex(data),
          publicKey: c.fromHex(key),
          signature: c.fromHex(sig),
        };
        const bad = { ...rec, data: c.fromHex(`${data}00`) };
        const back = c.decodeRecord(c.encodeRecord(rec));
        return [
          c.verifyRecordSignature(rec),
          c.verifyRecordSignature(bad),
          back.type === "signed" && c.verifyRecordSignature(back),
        ];
      },
      { data: data.toString("hex"), key: raw.toString("hex"), sig: signature.toString("hex") },
    );
    assert.deepEqual(got, [true, false, true]);
  });

  test("checks a whole block: regtest's genesis passes checkBlockSanity in the page", async () => {
    const got = await page.evaluate(() => {
      const c = jbcConsensus;
      const g = c.regtest.genesis;
      const hash = c.headerHashBytes(g.header);
      const facts = c.checkBlockSanity(g, hash, c.regtest, g.header.time);
      const raw = c.encodeBlock(g);
      return { hash: facts.hashHex, size: facts.size, bytes: c.toHex(raw) };
    });
    assert.equal(got.size, got.bytes.length / 2);
    const raw = Buffer.from(got.bytes, "hex");
    assert.equal(
      Buffer.from(dsha(raw.subarray(0, 80)), "hex")
        .reverse()
        .toString("hex"),
      got.hash,
    );
  });

  test("no script error in the page", () => {
    assert.deepEqual(pageErrors, []);
  });
});
