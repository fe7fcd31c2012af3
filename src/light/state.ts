/**
 * The light client's state as a JSON value (docs/light.md, "The state file"): the window of best-chain
 * headers from the tree's base, the base's context (its chain work, its ancestors' times, block 1's
 * time), the remembered checkpoints and the trusted header. Writing it to disk (atomically) is the
 * caller's part; this module only converts, so the browser can keep the same state elsewhere.
 *
 * Bounded by construction: at most `window` + a slack of headers (52 bytes each in the compact chain,
 * 69 in base64) and `maxCheckpoints` checkpoints, whatever the chain's length. Loading re-checks every
 * header of the window from the base (a few milliseconds for 2,048): a damaged or edited file is refused,
 * never trusted.
 */
import type { NetworkParams } from "../consensus/params.ts";
import { LightClient } from "./client.ts";
import { decodeCompactChain, encodeCompactChain, fromBase64, toBase64 } from "./codec.ts";
import { type Checkpoint, LightClientError } from "./types.ts";

export const LIGHT_STATE_FORMAT = "jbc-light-state";
export const LIGHT_STATE_VERSION = 1;

interface CheckpointJson {
  height: number;
  hash: string;
  chainWork: string;
}

export interface LightStateJson {
  format: typeof LIGHT_STATE_FORMAT;
  version: typeof LIGHT_STATE_VERSION;
  network: string;
  genesis: string;
  /** When it was saved (ISO time), for people. */
  saved: string;
  window: number;
  checkpointEvery: number;
  maxCheckpoints: number;
  /** Confirmations of the header trusted after each sync. */
  trustDepth: number;
  base: { height: number; chainWork: string; prevTimes: number[]; anchorTime?: number };
  /** The best chain from the base (its first header) to the tip: count, and the base64 compact chain. */
  headers: { count: number; chain: string };
  tip: CheckpointJson;
  trusted?: CheckpointJson;
  checkpoints: CheckpointJson[];
}

/** Why a state file cannot be used. */
export class LightStateError extends Error {
  override readonly name = "LightStateError";
  constructor(
    readonly code: "MALFORMED" | "UNSUPPORTED_VERSION" | "WRONG_NETWORK" | "DAMAGED",
    message: string,
  ) {
    super(message);
  }
}

const cpJson = (c: Checkpoint): CheckpointJson => ({
  height: c.height,
  hash: c.hash,
  chainWork: c.chainWork.toString(),
});

/** The client's state as a JSON value (what `loadLightState` reads back). */
export function saveLightState(client: LightClient, saved = new Date()): LightStateJson {
  const base = client.base;
  const best = client.best;
  const headers = client.mainHeaders(base.height, best.height - base.height + 1);
  const anchorTime =
    client.mainAt(1)?.time ??
    (base.anchor ? base.anchor.parentTime + client.params.targetSpacing : undefined);
  const out: LightStateJson = {
    format: LIGHT_STATE_FORMAT,
    version: LIGHT_STATE_VERSION,
    network: client.params.name,
    genesis: client.params.genesisHash,
    saved: saved.toISOString(),
    window: client.window,
    checkpointEvery: client.checkpointEvery,
    maxCheckpoints: client.maxCheckpoints,
    trustDepth: client.trustDepth,
    base: {
      height: base.height,
      chainWork: base.chainWork.toString(),
      prevTimes: client.ancestorTimes(base),
      ...(anchorTime !== undefined ? { anchorTime } : {}),
    },
    headers: { count: headers.length, chain: toBase64(encodeCompactChain(headers)) },
    tip: cpJson(best),
    checkpoints: client.checkpoints.map(cpJson),
  };
  if (client.trusted) out.trusted = cpJson(client.trusted);
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function checkpoint(v: unknown, what: string): Checkpoint {
  if (
    !isObject(v) ||
    !Number.isSafeInteger(v["height"]) ||
    typeof v["hash"] !== "string" ||
    !/^[0-9a-f]{64}$/.test(v["hash"]) ||
    typeof v["chainWork"] !== "string" ||
    !/^\d{1,80}$/.test(v["chainWork"])
  )
    throw new LightStateError("MALFORMED", `${what} is not { height, hash, chainWork }`);
  return { height: v["height"] as number, hash: v["hash"], chainWork: BigInt(v["chainWork"]) };
}

/**
 * A client from a saved state, every header re-checked; throws LightStateError (MALFORMED, an
 * UNSUPPORTED_VERSION, the WRONG_NETWORK, or DAMAGED when its headers fail a check or do not end at
 * the saved tip).
 */
export function loadLightState(
  params: NetworkParams,
  value: unknown,
  opts: { now?: () => number } = {},
): LightClient {
  if (!isObject(value) || value["format"] !== LIGHT_STATE_FORMAT)
    throw new LightStateError("MALFORMED", `not a light client state (no "format": "${LIGHT_STATE_FORMAT}")`);
  if (value["version"] !== LIGHT_STATE_VERSION)
    throw new LightStateError(
      "UNSUPPORTED_VERSION",
      `state version ${JSON.stringify(value["version"])}: this jbc reads version ${LIGHT_STATE_VERSION}`,
    );
  if (typeof value["network"] !== "string" || typeof value["genesis"] !== "string")
    throw new LightStateError("MALFORMED", "the state names no network and genesis");
  if (value["genesis"] !== params.genesisHash)
    throw new LightStateError(
      "WRONG_NETWORK",
      `a state for ${String(value["network"])}, not ${params.name}: pass --network ${String(value["network"])}`,
    );
  const s = value as unknown as LightStateJson;
  const b = s.base as unknown;
  const h = s.headers as unknown;
  if (
    !isObject(b) ||
    !Number.isSafeInteger(b["height"]) ||
    typeof b["chainWork"] !== "string" ||
    !/^\d{1,80}$/.test(b["chainWork"]) ||
    !Array.isArray(b["prevTimes"]) ||
    !b["prevTimes"].every((t) => Number.isSafeInteger(t)) ||
    (b["anchorTime"] !== undefined && !Number.isSafeInteger(b["anchorTime"])) ||
    !isObject(h) ||
    typeof h["chain"] !== "string" ||
    !Number.isSafeInteger(s.window) ||
    !Number.isSafeInteger(s.checkpointEvery) ||
    !Number.isSafeInteger(s.maxCheckpoints) ||
    !Number.isSafeInteger(s.trustDepth) ||
    !Array.isArray(s.checkpoints)
  )
    throw new LightStateError("MALFORMED", "state fields missing or of the wrong type (see docs/light.md)");
  const tip = checkpoint(s.tip, "tip");
  const trusted = s.trusted === undefined ? undefined : checkpoint(s.trusted, "trusted");
  const cps = s.checkpoints.map((c, i) => checkpoint(c, `checkpoint ${i}`));
  let headers: Uint8Array[];
  try {
    headers = decodeCompactChain(fromBase64(h["chain"]));
  } catch (err) {
    throw new LightStateError("DAMAGED", `its headers: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const client = new LightClient(params, {
      base: {
        height: b["height"] as number,
        header: headers[0]!,
        chainWork: BigInt(b["chainWork"]),
        prevTimes: b["prevTimes"] as number[],
        ...(b["anchorTime"] !== undefined ? { anchorTime: b["anchorTime"] as number } : {}),
      },
      window: s.window,
      checkpointEvery: s.checkpointEvery,
      maxCheckpoints: s.maxCheckpoints,
      trustDepth: s.trustDepth,
      ...(opts.now ? { now: opts.now } : {}),
    });
    for (const c of cps) client.keepCheckpoint(c);
    const r = client.add("the state file", headers.slice(1), { from: client.base.height + 1 });
    if (r.fault) throw new LightStateError("DAMAGED", `its headers: ${r.fault.reason}`);
    if (client.best.hash !== tip.hash || client.best.height !== tip.height)
      throw new LightStateError(
        "DAMAGED",
        `its headers end at ${client.best.hash}, not at the saved tip ${tip.hash}`,
      );
    if (trusted) client.setTrusted(trusted);
    return client;
  } catch (err) {
    if (err instanceof LightStateError) throw err;
    if (err instanceof LightClientError) throw new LightStateError("DAMAGED", err.message);
    throw err;
  }
}
