/**
 * `jbc record get --proof` and `jbc record verify` (docs/light.md): writing a self-contained proof file
 * from a node, and checking one offline (the work on the record), against nodes (`--url`, several) and
 * against a light client's state (`--state`).
 */
import { writeFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import type { RecordDetail } from "../../api/schemas.ts";
import { fromHex } from "../../consensus/bytes.ts";
import { blockWork } from "../../consensus/compact.ts";
import type { NoteVerifier } from "../../consensus/note.ts";
import { getNetwork, type NetworkParams } from "../../consensus/params.ts";
import { type RecordProof, verifyRecordProof } from "../../consensus/proof.ts";
import { encodeRecord } from "../../consensus/records.ts";
import {
  buildProofFile,
  CONTEXT_HEADERS,
  checkSegment,
  fetchSegment,
  HttpHeaderSource,
  LightClient,
  MAX_HEADERS_PER_REQUEST,
  type Placement,
  placeSegment,
  readProofFile,
  type SegmentResult,
  splitHeaders,
  verifyProofFile,
} from "../../light/index.ts";
import { verifyWitnessed, type WitnessedResult } from "../../light/witnessed.ts";
import { recordFromJson } from "../../mempool/json.ts";
import { useNativeCrypto } from "../../node/crypto.ts";
import { formatHashRate } from "../../util/format.ts";
import {
  CliFailure,
  formatHours,
  formatWork,
  LIGHT_EXIT,
  networkFor,
  openState,
  printBest,
  printTrust,
  printVerdicts,
  readJson,
  saveState,
  syncUrls,
} from "./light.ts";
import { fetchCheckpointNote, printWitnessed } from "./record-witness.ts";

/** One core of jbc's native miner (docs/benchmarks.md): what forging work costs, for people. */
const REFERENCE_HASH_RATE = 25e6;

function formatSeconds(s: number): string {
  if (s < 1) return `about ${(s * 1000).toPrecision(2)} ms`;
  if (s < 3600) return `about ${s.toPrecision(2)} s`;
  return `about ${(s / 3600).toPrecision(2)} hours`;
}

/** `--min-work`: a whole number of hashes, or 2^N. */
export function workArg(value: string): bigint {
  const pow = /^2\^(\d{1,3})$/.exec(value);
  if (pow && Number(pow[1]) <= 256) return 1n << BigInt(pow[1]!);
  if (/^\d{1,80}$/.test(value)) return BigInt(value);
  throw new InvalidArgumentError("expected a whole number of hashes, or 2^N");
}

/**
 * Writes a proof file for a confirmed record as `GET /api/records/:id` gave it: the headers from
 * CONTEXT_HEADERS below its block up to the node's tip (at most `maxAbove` above the block), block 1's
 * header, checked here before the file is written.
 */
export async function saveProofFile(
  file: string,
  url: string,
  r: RecordDetail,
  maxAbove: number,
): Promise<{ headers: number; tip: number; confirmations: number; bytes: number }> {
  useNativeCrypto();
  const rec = recordFromJson(r.record);
  if (!rec.ok || !r.proof || !r.block)
    throw new Error(`record ${r.id} has no proof file: only confirmed submitted records have one`);
  const src = new HttpHeaderSource(url);
  const tip = await src.tip();
  const params = getNetwork(tip.network);
  const height = r.block.height;
  const from = Math.max(0, height - CONTEXT_HEADERS);
  const to = Math.min(tip.claim.height, height + maxAbove);
  const headers: Uint8Array[] = [];
  while (from + headers.length <= to) {
    const got = splitHeaders(
      await src.headers(
        from + headers.length,
        Math.min(MAX_HEADERS_PER_REQUEST, to - from - headers.length + 1),
      ),
    );
    if (got.length === 0) break;
    headers.push(...got);
  }
  const blockOne = from >= 2 ? await src.headers(1, 1) : undefined;
  const checkpoint = await fetchCheckpointNote(url, height, from + headers.length - 1);
  const proofFile = buildProofFile({
    params,
    id: r.id,
    record: r.record,
    proof: r.proof as RecordProof,
    from,
    headers,
    blockOne,
    checkpoint,
    made: {
      at: new Date().toISOString(),
      by: src.name,
      tip: { height: tip.claim.height, hash: tip.claim.hash, chainWork: tip.claim.chainWork.toString() },
    },
  });
  const check = verifyProofFile(params, proofFile, encodeRecord(rec.record));
  if (!check.valid) {
    if (check.code === "NOT_IN_HEADERS")
      throw new Error(
        `the node's chain moved while the proof was fetched (${check.reason}): run the command again`,
      );
    throw new Error(`the node's answer does not verify (${check.code}): ${check.reason}`);
  }
  const text = `${JSON.stringify(proofFile, null, 2)}\n`;
  await writeFile(file, text);
  return {
    headers: headers.length,
    tip: check.tip.height,
    confirmations: check.confirmations,
    bytes: Buffer.byteLength(text),
  };
}

export interface VerifyOptions {
  url?: string[];
  state?: string;
  network: NetworkParams;
  confirmations: number;
  minWork: bigint;
  /** A team's witnesses and quorum: the record must be below a checkpoint they cosigned (offline). */
  witnesses?: NoteVerifier[];
  quorum?: number;
}

/** What the file shows on its own: the proof checked, and the work it carries. */
interface Offline {
  params: NetworkParams;
  blockHash: string;
  height: number;
  confirmations: number;
  workOnTop: bigint;
  /** The file's headers as a segment, when it has them. */
  segment?: Extract<SegmentResult, { ok: true }>["client"];
  /** The position proof's header, for a file without headers. */
  header: Uint8Array;
  /** The witnessed check of a file with headers (src/light/witnessed.ts). */
  witnessed?: (witnesses: readonly NoteVerifier[], quorum: number) => WitnessedResult;
}

/** Reads and checks the file offline, printing what it shows; undefined when it is invalid. */
async function checkOffline(
  file: string,
  cmd: Command,
  log: (line: string) => void,
): Promise<Offline | undefined> {
  const read = readProofFile(await readJson(file, "a proof file"));
  if (read.kind === "malformed") throw new CliFailure(`${file} is not a proof file: ${read.reason}`);
  if (read.kind === "unsupported") throw new CliFailure(`${file}: ${read.reason}`);
  const params = networkFor(cmd, read.kind === "file" ? read.file.network : undefined);
  const rec = recordFromJson(read.kind === "file" ? read.file.record : read.record);
  if (!rec.ok) throw new CliFailure(`bad record in ${file}: ${rec.issues.join("; ")}`);
  const bytes = encodeRecord(rec.record);
  useNativeCrypto();
  const proof = read.kind === "file" ? read.file.proof : read.proof;
  if (read.kind === "file") {
    const res = verifyProofFile(params, read.file, bytes);
    if (!res.valid) {
      log(`INVALID (${res.code}): ${res.reason}`);
      return undefined;
    }
    const p = res.proof;
    log(validLine(p, proof.index));
    log(
      `headers: ${res.headers.length} in the file, heights ${res.from} to ${res.tip.height}: linked, with proof of work, ASERT bits and median times checked`,
    );
    log(
      `work on top: ${formatWork(res.workOnTop)} in ${res.confirmations} header(s), the block's included: ${formatHours(res.hours)} of the network's hash rate at the time (${formatHashRate(res.hashRate)}, from the block's difficulty)`,
    );
    return {
      params,
      blockHash: p.blockHash,
      height: p.height,
      confirmations: res.confirmations,
      workOnTop: res.workOnTop,
      segment: res.segment,
      header: fromHex(proof.header),
      witnessed: (w, q) => verifyWitnessed(params, read.file, res, w, q),
    };
  }
  const p = verifyRecordProof(proof, bytes, { powLimit: params.powLimit });
  if (!p.valid) {
    log(`INVALID (${p.code}): ${p.reason}`);
    return undefined;
  }
  log(validLine(p, proof.index));
  const work = blockWork(p.bits);
  log(
    `this file carries no headers (the shape GET /api/records/:id answers, or one saved before proof files): the only work on the record is its own block's, ${formatWork(work)}; for a self-contained proof: jbc record get ID --proof FILE`,
  );
  return {
    params,
    blockHash: p.blockHash,
    height: p.height,
    confirmations: 1,
    workOnTop: work,
    header: fromHex(proof.header),
  };
}

function validLine(
  p: { id: string; blockHash: string; height: number; time: number },
  index: number,
): string {
  return `valid: record ${p.id} is in block ${p.blockHash} at height ${p.height}, position ${index} (${new Date(p.time * 1000).toISOString()})`;
}

/** The confirmations and work requirements, as one line after `what`; whether they are met. */
function requirement(
  o: VerifyOptions,
  confirmations: number,
  work: bigint,
  what: string,
): { ok: boolean; line: string } {
  if (confirmations < o.confirmations)
    return {
      ok: false,
      line: `NOT CONFIRMED: ${what}, ${confirmations} confirmation(s), fewer than ${o.confirmations}`,
    };
  if (work < o.minWork)
    return {
      ok: false,
      line: `NOT CONFIRMED: ${what}, ${formatWork(work)} on top, less than --min-work ${o.minWork}`,
    };
  return {
    ok: true,
    line: `confirmed: ${what}, ${confirmations} confirmation(s), ${formatWork(work)} on top`,
  };
}

/** Prints where the record's block is on the best chain; whether the requirements are met. */
function printPlacement(o: VerifyOptions, off: Offline, at: Placement, log: (line: string) => void): boolean {
  const block = off.blockHash;
  if (at.status === "main") {
    const r = requirement(
      o,
      at.confirmations,
      at.workOnTop,
      `block ${block.slice(0, 16)}… is on the best chain at height ${off.height}`,
    );
    log(r.line);
    return r.ok;
  }
  if (at.status === "side") {
    if (at.differsAt)
      log(
        `REFUSED: block ${block} is on another branch: its headers leave the best chain below height ${at.differsAt.height}; ${formatWork(at.branchWork)} on the record on that branch`,
      );
    else
      log(
        `REFUSED: block ${block} is on a side branch: ${formatWork(at.branchWork)} since it left the best chain at height ${at.fork?.height}, against ${formatWork(at.bestWork)} on the best chain`,
      );
    return false;
  }
  log(`NOT CONFIRMED: cannot tie block ${block} to the best chain: ${at.reason}`);
  return false;
}

/** A segment of the one header a file without headers carries, anchored with the client's block 1. */
function headerSegment(
  client: LightClient,
  off: Offline,
): Extract<SegmentResult, { ok: true }>["client"] | undefined {
  const anchor =
    client.mainAt(1)?.time ??
    (client.base.anchor ? client.base.anchor.parentTime + client.params.targetSpacing : undefined);
  const seg = checkSegment(client.params, {
    from: off.height,
    headers: [off.header],
    anchorTime: anchor,
    blockOne: undefined,
  });
  return seg.ok ? seg.client : undefined;
}

/** `jbc record verify FILE [--url …] [--state FILE]`; returns the exit code. */
export async function verify(file: string, o: VerifyOptions, cmd: Command): Promise<number> {
  const log = (line: string): void => console.log(line);
  const off = await checkOffline(file, cmd, log);
  if (!off) return LIGHT_EXIT.FAILED;
  const urls = o.url ?? [];
  if (o.witnesses && !printWitnessed(off.witnessed, { ...o, witnesses: o.witnesses }, log))
    return LIGHT_EXIT.FAILED;
  if (urls.length === 0 && o.state === undefined && o.witnesses) {
    const r = requirement(o, off.confirmations, off.workOnTop, "offline, in the file");
    log(r.line);
    return r.ok ? 0 : LIGHT_EXIT.FAILED;
  }
  if (urls.length === 0 && o.state === undefined) {
    const seconds = Number(off.workOnTop) / REFERENCE_HASH_RATE;
    log(
      `offline: nothing here shows these headers are the network's best chain (check with --url or --state); this much work takes ${formatSeconds(seconds)} at 25 MH/s, one CPU core of jbc's miner`,
    );
    const r = requirement(o, off.confirmations, off.workOnTop, "offline, in the file");
    log(r.line);
    return r.ok ? 0 : LIGHT_EXIT.FAILED;
  }
  let client: LightClient;
  if (o.state !== undefined) {
    const opened = await openState(o.state, cmd, {}, off.params);
    if (opened.params.genesisHash !== off.params.genesisHash)
      throw new CliFailure(
        `${o.state} is a ${opened.params.name} state, the proof is for ${off.params.name}`,
      );
    client = opened.client;
  } else client = new LightClient(off.params);
  // A fresh client syncs from genesis: keep the record's block and the headers below it in the tree.
  client.pin(Math.max(0, off.height - CONTEXT_HEADERS));
  const oldTip = client.best;
  const reports = await syncUrls(client, urls);
  const { refused } = printVerdicts(client, reports, log);
  printBest(client, log);
  const trust = o.state !== undefined ? printTrust(client, oldTip, reports, log) : "ok";
  const rewrite = trust === "rewrite";
  let segment = off.segment ?? headerSegment(client, off);
  let at: Placement = segment
    ? placeSegment(client, segment, off.height)
    : { status: "unplaced", reason: "its header cannot be checked against this chain" };
  if (at.status === "unplaced") {
    // Below the headers kept: fetch the headers from the block up to them from a node on the best chain.
    for (const r of reports) {
      const v = client.verdict(r.source);
      if (v.status !== "agrees") continue;
      const fetched = await fetchSegment(
        client,
        new HttpHeaderSource(r.source),
        Math.max(0, off.height - CONTEXT_HEADERS),
        client.base.height,
      );
      if (!fetched.ok || fetched.client.mainAt(off.height)?.hash !== off.blockHash) continue;
      segment = fetched.client;
      at = placeSegment(client, segment, off.height);
      break;
    }
  }
  const ok = printPlacement(o, off, at, log);
  if (refused > 0) log(`${refused} node(s) refused: their headers are not believed`);
  if (o.state !== undefined && !rewrite) {
    client.unpin(Math.max(0, off.height - CONTEXT_HEADERS));
    client.advanceTrusted();
    await saveState(o.state, client);
  }
  if (rewrite) return LIGHT_EXIT.REWRITE;
  return ok && trust === "ok" ? 0 : LIGHT_EXIT.FAILED;
}
