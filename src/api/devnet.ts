import { z } from "zod";
import { errorWithCause } from "../util/errors.ts";
import { BlockDetail, type MiningView, Status } from "./schemas.ts";

/**
 * Routes the explorer needs beyond the core API: the network's parameters (target block time, ASERT
 * half-life) and, under `jbc devnet`, the tip of every sibling node, fetched here on the server so the
 * page needs no cross-origin requests. This module is free of Node-only imports at run time: the web
 * explorer imports its schemas and parses the responses with them.
 */

const hash = z.string().regex(/^[0-9a-f]{64}$/);

export const ExplorerInfo = z.object({
  network: z.string(),
  genesis: hash,
  /** Seconds the difficulty algorithm aims for between blocks. */
  targetSpacing: z.number(),
  /** ASERT half-life in seconds; meaningless when `retargeting` is false. */
  asertHalfLife: z.number(),
  retargeting: z.boolean(),
  /** Easiest target, 64 hex digits. */
  powLimit: z.string(),
  /** Whether this node was started with devnet siblings (GET /api/devnet then lists them). */
  devnet: z.boolean(),
});
export type ExplorerInfo = z.infer<typeof ExplorerInfo>;

/**
 * How a node's tip relates to this node's chain:
 * - same: identical tip;
 * - behind: its tip is on this node's main chain, lower down;
 * - ahead: this node's tip is on its main chain, lower down;
 * - fork: the two main chains diverge (each has blocks the other's main chain does not);
 * - unreachable / other-network: it did not answer, or answered with another genesis.
 */
export const Relation = z.enum(["self", "same", "behind", "ahead", "fork", "unreachable", "other-network"]);
export type Relation = z.infer<typeof Relation>;

export const DevnetNode = z.object({
  url: z.string(),
  relation: Relation,
  height: z.number().int().optional(),
  hash: hash.optional(),
  /** Miner name and whether it is mining, when the node has a miner. */
  miner: z.string().optional(),
  mining: z.boolean().optional(),
  hashRate: z.number().optional(),
  peers: z.number().int().optional(),
  /** Why it is unreachable. */
  error: z.string().optional(),
});
export type DevnetNode = z.infer<typeof DevnetNode>;

export const DevnetView = z.object({
  /** This node first, then its siblings in the order the devnet started them. */
  nodes: z.array(DevnetNode),
  /** Milliseconds since the epoch when the siblings were asked. */
  checkedAt: z.number(),
});
export type DevnetView = z.infer<typeof DevnetView>;

export const explorerRoutes = {
  getExplorerInfo: { method: "GET", path: "/api/explorer", response: ExplorerInfo },
  getDevnet: { method: "GET", path: "/api/devnet", response: DevnetView },
} as const;

interface EntryLike {
  readonly height: number;
  readonly hash: string;
}

/**
 * What these routes read from the node: a structural slice of ApiBackend (which satisfies it), so this
 * module imports nothing from the chain and stays loadable in the browser.
 */
export interface DevnetBackend {
  readonly chain: {
    readonly tip: EntryLike;
    readonly params: {
      readonly name: string;
      readonly genesisHash: string;
      readonly targetSpacing: number;
      readonly asertHalfLife: number;
      readonly noRetargeting: boolean;
      readonly powLimit: bigint;
    };
    getEntry(hash: string): EntryLike | undefined;
    isMain(entry: EntryLike): boolean;
  };
  mining(): MiningView;
  peers(): readonly unknown[];
}

export interface DevnetOptions {
  backend: DevnetBackend;
  /** HTTP base URLs of the other nodes of the devnet (this node's own URL is ignored if listed). */
  siblings?: readonly string[];
  /** This node's own URL, shown in the first row. */
  self?: () => string;
  /** Per-sibling request timeout (default 1 s): a hung node must not stall the page. */
  timeoutMs?: number;
}

/** Several browser tabs polling at once share one round of sibling requests made within this window. */
const CACHE_MS = 400;

/** The one thing needed of the HTTP server; structural, so the web explorer can import this module. */
interface RouteHost {
  get(path: string, handler: () => Promise<unknown>): unknown;
}

/** Registers GET /api/explorer and GET /api/devnet on the API server. */
export function registerDevnetRoutes(app: RouteHost, opts: DevnetOptions): void {
  const { backend } = opts;
  const chain = backend.chain;
  const siblings = [...new Set((opts.siblings ?? []).map(normalize))];
  const timeoutMs = opts.timeoutMs ?? 1000;
  let cached: { at: number; view: Promise<DevnetView> } | undefined;

  app.get(explorerRoutes.getExplorerInfo.path, async (): Promise<ExplorerInfo> => {
    const p = chain.params;
    return {
      network: p.name,
      genesis: p.genesisHash,
      targetSpacing: p.targetSpacing,
      asertHalfLife: p.asertHalfLife,
      retargeting: !p.noRetargeting,
      powLimit: p.powLimit.toString(16).padStart(64, "0"),
      devnet: siblings.length > 0,
    };
  });

  app.get(explorerRoutes.getDevnet.path, async (): Promise<DevnetView> => {
    const now = Date.now();
    if (!cached || now - cached.at > CACHE_MS) cached = { at: now, view: survey() };
    return cached.view;
  });

  async function survey(): Promise<DevnetView> {
    const checkedAt = Date.now();
    const tip = chain.tip;
    const m = backend.mining();
    const me: DevnetNode = {
      url: opts.self?.() ?? "",
      relation: "self",
      height: tip.height,
      hash: tip.hash,
      peers: backend.peers().length,
      ...(m.available ? { miner: m.miner, mining: m.running, hashRate: m.hashRate } : {}),
    };
    // The devnet may list every node, this one included; its URL is only known once it listens.
    const others = await Promise.all(siblings.filter((u) => u !== normalize(me.url)).map(ask));
    return { nodes: [me, ...others], checkedAt };
  }

  async function ask(url: string): Promise<DevnetNode> {
    try {
      const s = await getJson(`${url}/api/status`, Status, timeoutMs);
      const facts = {
        url,
        height: s.tip.height,
        hash: s.tip.hash,
        peers: s.peers,
        ...(s.mining.available
          ? { miner: s.mining.miner, mining: s.mining.running, hashRate: s.mining.hashRate }
          : {}),
      };
      if (s.genesis !== chain.params.genesisHash) return { ...facts, relation: "other-network" };
      return { ...facts, relation: await relate(url, s.tip.height, s.tip.hash) };
    } catch (err) {
      return { url, relation: "unreachable", error: reason(err) };
    }
  }

  /** Compares a sibling's tip with this node's main chain, asking the sibling once more if needed. */
  async function relate(url: string, height: number, tipHash: string): Promise<Relation> {
    const mine = chain.tip;
    if (tipHash === mine.hash) return "same";
    const known = chain.getEntry(tipHash);
    if (known) return chain.isMain(known) ? "behind" : "fork";
    if (height <= mine.height) return "fork";
    // Their tip is unknown here and higher: they are ahead if our tip is on their main chain.
    const theirs = await getJson(`${url}/api/blocks/${mine.height}`, BlockDetail, timeoutMs);
    return theirs.hash === mine.hash ? "ahead" : "fork";
  }
}

function normalize(url: string): string {
  const u = /^https?:\/\//.test(url) ? url : `http://${url}`;
  return u.replace(/\/+$/, "");
}

/**
 * GET and parse with a schema. Plain fetch rather than the ApiClient: this module is also loaded by the
 * browser, where the client's Node-typed request bodies do not type-check.
 */
async function getJson<S extends z.ZodType>(url: string, schema: S, timeoutMs: number): Promise<z.output<S>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  const parsed = schema.safeParse(await res.json());
  if (!parsed.success) throw new Error(`${url} answered with an unexpected shape`);
  return parsed.data;
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === "TimeoutError") return "no answer within the timeout";
  // fetch wraps the socket error (ECONNREFUSED …) as its cause.
  return errorWithCause(err);
}
