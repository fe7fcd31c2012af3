/**
 * What the explorer tests need: real nodes (JbcNode on loopback, ephemeral ports, temp data
 * directories), a block factory that builds real mined blocks on any known block (so forks are
 * deterministic), and Debian's Chromium driven by playwright-core.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { SubmitResult } from "../../src/api/schemas.ts";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { headerHash } from "../../src/consensus/header.ts";
import type { NetworkParams } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { JbcNode, type NodeOptions } from "../../src/node/node.ts";
import { makeChild, nextContext } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";

export const CHROMIUM = process.env["JBC_CHROMIUM"] ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(import.meta.dirname, "..", "..", "test-output", "screenshots");
const ROOT = join(import.meta.dirname, "..", "..");
export const WEB_ROOT = join(ROOT, "dist", "web");

/**
 * Builds the explorer when dist/web is missing (a fresh clone running `npm test` before `npm run
 * build`). An existing build is used as it is: run `npm run build:web` after changing web/.
 */
export function ensureExplorerBuilt(): void {
  if (existsSync(join(WEB_ROOT, "index.html"))) return;
  execFileSync(
    process.execPath,
    [
      join(ROOT, "node_modules", "vite", "bin", "vite.js"),
      "build",
      "--config",
      "web/vite.config.ts",
      "--logLevel",
      "warn",
    ],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
}

/** A TCP port that was free a moment ago, for a node that must come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Headless Chromium on a fresh profile directory, with nothing that phones home (this network refuses
 * background connections). Fails loudly if Chromium is missing: the tests must not skip silently.
 */
export async function launchBrowser(
  viewport = { width: 1400, height: 900 },
  /** More Chromium switches (a test mapping names to 127.0.0.1 with --host-resolver-rules, say). */
  extraArgs: readonly string[] = [],
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the explorer tests need it. Install it with ` +
        "`apt-get update && apt-get install -y chromium` (.ci/run does), or set JBC_CHROMIUM.",
    );
  }
  const profile = tempDir("jbc-chromium-");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      ...extraArgs,
    ],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Chromium with one blank page titled `title` that has run `script` (a browserBundle, say); `errors` holds
 * what the page threw, from before the script ran.
 */
export async function scriptPage(
  script: string,
  title: string,
): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.setContent(`<!doctype html><title>${title}</title>`);
    await page.addScriptTag({ content: script });
    return { page, errors, close: browser.close };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

/** Nodes started by a test; `stopAll` stops every one and deletes their data, even after a failure. */
export class NodeSet {
  readonly nodes: JbcNode[] = [];
  private readonly dirs: string[] = [];

  /** A fresh data directory, deleted by stopAll. */
  dir(): string {
    const d = tempDir("jbc-web-");
    this.dirs.push(d);
    return d;
  }

  async start(params: NetworkParams, opts: Partial<NodeOptions> = {}): Promise<JbcNode> {
    const datadir = opts.datadir ?? this.dir();
    const node = await JbcNode.create({
      params,
      http: { host: "127.0.0.1", port: 0 },
      p2p: false,
      webRoot: WEB_ROOT,
      ...opts,
      datadir,
    });
    this.nodes.push(node);
    return node;
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/**
 * One explorer test file's page and nodes: `open` builds the explorer if it is missing, starts Chromium
 * and opens a page whose uncaught errors land in `errors`; `close` ends the browser, then every node.
 */
export class ExplorerSession {
  readonly nodes = new NodeSet();
  readonly errors: string[] = [];
  private closeBrowser: (() => Promise<void>) | undefined;

  /** The page, in a browser of `viewport` size (launchBrowser's default without one). */
  async open(viewport?: { width: number; height: number }): Promise<Page> {
    ensureExplorerBuilt();
    const browser = await launchBrowser(viewport);
    this.closeBrowser = browser.close;
    const page = await browser.context.newPage();
    page.on("pageerror", (err) => this.errors.push(err.message));
    return page;
  }

  /** Closes the browser, then stops every node and deletes its data (for `after`, even after a failure). */
  async close(): Promise<void> {
    await this.closeBrowser?.();
    await this.nodes.stopAll();
  }
}

/** Posts a serialized block to a node, as any client would. */
export async function postBlock(url: string, block: Block): Promise<SubmitResult> {
  const res = await fetch(`${url}/api/blocks`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: Buffer.from(encodeBlock(block)),
  });
  const body = (await res.json()) as SubmitResult;
  if (!res.ok) throw new Error(`POST /api/blocks answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * Builds mined blocks on top of any block it made (or genesis), keeping each block's ancestry so the
 * bits are right on retargeting networks too. Times are chosen by the caller, so a chain's pace (and
 * with it ASERT's difficulty) is deterministic.
 */
export class BlockFactory {
  private readonly ancestry = new Map<string, Block[]>();

  constructor(readonly params: NetworkParams) {
    this.ancestry.set(params.genesisHash, [params.genesis]);
  }

  /** Mines a child of `parentHash`, `dt` seconds after it. */
  child(parentHash: string, opts: { miner: string; dt: number; records?: BlockRecord[] }): Block {
    const chain = this.ancestry.get(parentHash);
    if (!chain) throw new Error(`unknown parent ${parentHash}`);
    const parent = chain[chain.length - 1]!;
    const block = makeChild(parent, this.params, {
      miner: opts.miner,
      time: parent.header.time + opts.dt,
      bits: nextContext(chain, this.params).expectedBits,
      ...(opts.records ? { records: opts.records } : {}),
    });
    this.ancestry.set(headerHash(block.header), [...chain, block]);
    return block;
  }

  /** `count` blocks in a row on `parentHash`; miners and gaps may vary per block. */
  run(
    parentHash: string,
    count: number,
    each: (i: number) => { miner: string; dt: number; records?: BlockRecord[] },
  ): Block[] {
    const out: Block[] = [];
    let parent = parentHash;
    for (let i = 0; i < count; i++) {
      const b = this.child(parent, each(i));
      out.push(b);
      parent = headerHash(b.header);
    }
    return out;
  }
}

export const hashOf = (b: Block): string => headerHash(b.header);

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
}
