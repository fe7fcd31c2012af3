/**
 * The light client runs in a real browser: Vite bundles the package root (src/index.ts: consensus and
 * src/light) for the browser, Chromium loads it into a page without Node globals, and the page checks a
 * header chain (naming a source that serves a bad header), keeps its state as JSON, and verifies a
 * self-contained proof file, with the same answers as Node. The explorer builds on this (issue 18, item 6).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { toHex } from "../../src/consensus/bytes.ts";
import { encodeHeader, headerHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { buildRecordProof } from "../../src/consensus/proof.ts";
import { encodeRecord, recordId } from "../../src/consensus/records.ts";
import type * as Jbc from "../../src/index.ts";
import { buildProofFile, CONTEXT_HEADERS, verifyProofFile } from "../../src/light/index.ts";
import { recordToJson } from "../../src/mempool/json.ts";
import { makeChain, makeChild, mineHighHash } from "../helpers/blocks.ts";
import { browserBundle } from "../helpers/browser-bundle.ts";
import { scriptPage } from "./harness.ts";

const line = { type: "data" as const, data: new TextEncoder().encode("checked in a browser") };
const chain = makeChain(regtest, 40, { records: (h) => (h === 20 ? [line] : []) });
const headers = chain.map((b) => toHex(encodeHeader(b.header)));
const bad = toHex(encodeHeader(mineHighHash(makeChild(chain[40]!, regtest, { mine: false })).header));
const records = chain[20]!.records;
const file = buildProofFile({
  params: regtest,
  id: "x",
  record: recordToJson(line),
  proof: buildRecordProof(
    encodeHeader(chain[20]!.header),
    records.map(recordId),
    1,
    encodeRecord(records[0]!),
  ),
  from: 20 - CONTEXT_HEADERS,
  headers: chain.slice(20 - CONTEXT_HEADERS).map((b) => encodeHeader(b.header)),
});
const recordHex = toHex(encodeRecord(line));
const regtestHash = (h: number): string => headerHash(chain[h]!.header);

let page: Page;
let code: string;
let closeBrowser: (() => Promise<void>) | undefined;
before(async () => {
  code = await browserBundle("src/index.ts", "jbc");
  ({ page, close: closeBrowser } = await scriptPage(code, "light"));
});
after(async () => {
  await closeBrowser?.();
});

declare const jbc: typeof Jbc;

describe("the light client in Chromium", () => {
  test("the bundle imports nothing from Node, and the page has no Node globals", async () => {
    assert.doesNotMatch(code, /["']node:|__vite-browser-external/);
    const g = await page.evaluate(() => ({
      buffer: typeof (globalThis as { Buffer?: unknown }).Buffer,
      process: typeof (globalThis as { process?: unknown }).process,
      client: typeof jbc.LightClient,
    }));
    assert.deepEqual(g, { buffer: "undefined", process: "undefined", client: "function" });
  });

  test("checks a header chain, names a lying source, and keeps its state as JSON", async () => {
    const got = await page.evaluate(
      ({ headers, bad }) => {
        const c = new jbc.LightClient(jbc.regtest, { window: 16 });
        const r = c.add("honest", headers.slice(1).map(jbc.fromHex), { from: 1 });
        const lie = c.add("liar", [jbc.fromHex(bad)], { from: 41 });
        const state = JSON.stringify(jbc.saveLightState(c));
        const back = jbc.loadLightState(jbc.regtest, JSON.parse(state));
        const at = c.locate(c.best.hash);
        return {
          added: r.added,
          best: c.best.hash,
          work: c.best.chainWork.toString(),
          fault: lie.fault?.code,
          source: lie.fault?.source,
          verdict: c.verdict("liar").status,
          reloaded: back.best.hash,
          kept: back.best.height - back.base.height + 1,
          where: at.status,
        };
      },
      { headers, bad },
    );
    assert.equal(got.added, 40);
    assert.equal(got.best, regtestHash(40));
    assert.equal(got.work, String(2 * 41));
    assert.deepEqual([got.fault, got.source, got.verdict], ["HIGH_HASH", "liar", "faulty"]);
    assert.equal(got.reloaded, got.best);
    assert.ok(got.kept <= 16 + 1 + 16 + 1, `${got.kept} headers kept`);
    assert.equal(got.where, "main");
  });

  test("verifies a self-contained proof file as Node does", async () => {
    const inNode = verifyProofFile(regtest, file, encodeRecord(line));
    assert.ok(inNode.valid);
    const got = await page.evaluate(
      ({ file, recordHex }) => {
        const read = jbc.readProofFile(JSON.parse(file));
        if (read.kind !== "file") return { error: read.kind };
        const r = jbc.verifyProofFile(jbc.regtest, read.file, jbc.fromHex(recordHex));
        if (!r.valid) return { error: r.code };
        return { id: r.proof.id, confirmations: r.confirmations, work: r.workOnTop.toString() };
      },
      { file: JSON.stringify(file), recordHex },
    );
    assert.deepEqual(got, {
      id: inNode.proof.id,
      confirmations: inNode.confirmations,
      work: inNode.workOnTop.toString(),
    });
  });
});
