/**
 * A gossiping attacker in a process of its own, for test/adversarial/ and bench/dos-chain.ts: a real libp2p
 * node (test/helpers/net.ts startNode) that dials a victim and publishes blocks it built, raw, on the block
 * topic, without its own chain's judgement. Running it in a child process keeps its blocks and its libp2p
 * out of the victim's heap and event loop, which the tests measure.
 *
 * The victim holds `honestChain(n)` (deterministic: the attacker rebuilds the same blocks). Plans:
 * - `siblings`: children of the honest block at `forkHeight` (below the victim's tip), each a full block;
 * - `future`: children of the honest tip whose time is `aheadSeconds` past the clock;
 * - `orphans`: children of a block the attacker never sends;
 * records per block and their size are the plan's (default: 15 records of 65,000 bytes, 975 KB), and `small`
 * more blocks of one 8-byte record follow them.
 *
 * In a test: `const a = await startAttacker(victimAddr, plan)`; `await a.publish()`; `a.stop()`.
 * As a script: `node --import tsx test/helpers/attacker.ts '<plan json>'` prints one JSON line with its
 * peer id and the blocks' hashes when connected, publishes when it reads a line on stdin, prints
 * `{"published": n}`, and stays connected until stdin closes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { type Block, encodeBlock } from "../../src/consensus/block.ts";
import { regtest } from "../../src/consensus/params.ts";
import type { BlockRecord } from "../../src/consensus/records.ts";
import { rawBlockHash } from "../../src/net/protocols.ts";
import { useNativeCrypto } from "../../src/node/crypto.ts";
import { makeChain, makeChild, mineBlock } from "./blocks.ts";
import { liveHeap, loopDelay, MB } from "./measure.ts";
import { startNode, type TestNode, waitFor } from "./net.ts";

export interface AttackPlan {
  kind: "siblings" | "future" | "orphans";
  /** Blocks to send. */
  count: number;
  /** Length of the honest chain the victim holds (honestChain). */
  honest: number;
  /** siblings: height of their parent on the honest chain (default 1). */
  forkHeight?: number;
  /** future: seconds past the clock (default 40: inside the victim's hold, past its 15 s drift). */
  aheadSeconds?: number;
  /** Data records per block and their size (default 15 of 65,000 bytes). */
  records?: number;
  recordBytes?: number;
  /** Publish honestChain(honest + 1)'s last block first: a block the victim must forward (a control). */
  control?: boolean;
  /** Small blocks of the same kind (one 8-byte record) sent after the `count` full ones (default 0). */
  small?: number;
  /**
   * Milliseconds between two publishes (default 0: as fast as gossipsub sends). A flood faster than the
   * victim judges meets its queue's bound per source (BUSY: ignored, uncharged); paced, every block is judged.
   */
  paceMs?: number;
}

/** The honest chain a victim holds: genesis and `n` regtest blocks (the same in every process). */
export function honestChain(n: number): Block[] {
  return makeChain(regtest, n, { miner: "honest" });
}

/**
 * `n` distinct data records of `size` bytes for block `tag`: random bytes, so that LevelDB's compression
 * cannot shrink what a victim stores (zeros would store in a few bytes and hide the attack).
 */
function fill(tag: number, n: number, size: number): BlockRecord[] {
  const out: BlockRecord[] = [];
  for (let i = 0; i < n; i++) {
    const data = randomBytes(size);
    if (size >= 8) {
      data.writeUInt32BE(tag, 0);
      data.writeUInt32BE(i, 4);
    } else {
      // Small records: their position, big-endian, so no two in a block are alike (MUTATED otherwise).
      for (let b = 0, v = i; b < size; b++, v = Math.floor(v / 256)) data[size - 1 - b] = v & 0xff;
    }
    out.push({ type: "data", data: new Uint8Array(data) });
  }
  return out;
}

/**
 * The plan's blocks, serialized, in sending order (the control first when asked for). A too-new block's time
 * is set last, from the clock when the bodies are built (building 199,001-record blocks takes a minute), so
 * that it is `aheadSeconds` ahead when it is sent: only its header is mined again (regtest: a few hashes).
 */
export function attackBlocks(
  plan: AttackPlan,
  clock = (): number => Math.floor(Date.now() / 1000),
): Uint8Array[] {
  const honest = honestChain(plan.honest + 1);
  const tip = honest[plan.honest]!;
  const n = plan.records ?? 15;
  const size = plan.recordBytes ?? 65_000;
  const ghost = makeChild(tip, regtest, { miner: "never sent" });
  const out: Block[] = plan.control ? [honest[plan.honest + 1]!] : [];
  for (let i = 0; i < plan.count + (plan.small ?? 0); i++) {
    const records = i < plan.count ? fill(i, n, size) : fill(i, 1, 8);
    const miner = `attack ${i}`;
    const parent =
      plan.kind === "siblings" ? honest[plan.forkHeight ?? 1]! : plan.kind === "future" ? tip : ghost;
    out.push(makeChild(parent, regtest, { miner, records, mine: plan.kind !== "future" }));
  }
  if (plan.kind === "future") {
    const time = clock() + (plan.aheadSeconds ?? 40);
    for (let i = plan.control ? 1 : 0; i < out.length; i++) {
      const b = out[i]!;
      out[i] = mineBlock({ header: { ...b.header, time }, records: b.records });
    }
  }
  return out.map(encodeBlock);
}

/** A running attacker process. */
export interface Attacker {
  peerId: string;
  /** Display hashes of the blocks it will send (the control's first when the plan has one). */
  hashes: string[];
  /** Publishes every block, in order; resolves when the last one is sent. */
  publish(): Promise<void>;
  /** Ends the process. */
  stop(): void;
}

/** Starts an attacker process connected to `victim` (a multiaddr) with `plan`'s blocks built. */
export async function startAttacker(victim: string, plan: AttackPlan): Promise<Attacker> {
  const script = new URL("./attacker.ts", import.meta.url).pathname;
  const proc: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", script, JSON.stringify({ victim, plan })],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: proc.stdout! });
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`attacker exited (${code})`));
      proc.once("exit", onExit);
      lines.once("line", (l) => {
        proc.off("exit", onExit);
        resolve(JSON.parse(l) as Record<string, unknown>);
      });
    });
  const hello = await next();
  return {
    peerId: String(hello.peerId),
    hashes: hello.hashes as string[],
    async publish() {
      const done = next();
      proc.stdin!.write("go\n");
      await done;
    },
    stop() {
      proc.stdin!.end();
      proc.kill("SIGKILL");
    },
  };
}

/** What a victim paid for one attack: heap growth, its chain's time per block, the loop's delay. */
interface Cost {
  heapMB: number;
  /** Median and largest time a block's processBlock call ran (its queue wait excluded), in ms. */
  medianMs: number;
  maxMs: number;
  loopMaxMs: number;
  /**
   * Main-thread time per block judged: the event loop's active time from the first publish to the last
   * judgement (libp2p's receiving and gossipsub included), divided by the blocks judged.
   */
  threadMsPerBlock: number;
  /** Blocks the victim judged (the rest never reached it: the sender was banned first, or they were dropped). */
  judged: number;
  banned: boolean;
  /** From the first publish until the victim judged the last block. */
  seconds: number;
}

/**
 * Runs `plan` against `v` (a node in this process) from a new attacker process, and measures the victim:
 * resolves once it judged every block (or banned the attacker).
 */
export async function runAttack(v: TestNode, plan: AttackPlan): Promise<Cost> {
  const attacker = await startAttacker(v.net.multiaddrs()[0]!, plan);
  const busy: number[] = [];
  let last = performance.now();
  const onProcessed = (e: { seconds: number; busy?: number }): void => {
    busy.push((e.busy ?? e.seconds) * 1000);
    last = performance.now();
  };
  v.tc.chain.on("processed", onProcessed);
  let banned = false;
  v.net.on("peer:banned", (e) => {
    if (e.peerId === attacker.peerId) banned = true;
  });
  const heap0 = liveHeap();
  const loop = loopDelay();
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  try {
    await attacker.publish();
    // Every block judged, or the sender banned, or nothing new for 10 s (a victim slower than the flood: the
    // sender's libp2p drops what the victim does not read in time).
    await waitFor(
      () => banned || busy.length >= attacker.hashes.length || performance.now() - last > 10_000,
      600_000,
      "the victim to judge it all",
    );
  } catch (err) {
    attacker.stop();
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  const { active } = performance.eventLoopUtilization(elu0);
  const { maxMs: loopMaxMs } = loop.stop();
  // Gossipsub keeps a received message for 10 heartbeats (2 s): the heap is measured after that.
  await new Promise((r) => setTimeout(r, 2_500));
  const heapMB = (liveHeap() - heap0) / MB;
  v.tc.chain.off("processed", onProcessed);
  attacker.stop();
  const sorted = busy.slice().sort((a, b) => a - b);
  const medianMs = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const threadMsPerBlock = busy.length ? active / busy.length : 0;
  const maxMs = sorted.at(-1) ?? 0;
  return { heapMB, medianMs, maxMs, loopMaxMs, threadMsPerBlock, judged: busy.length, banned, seconds };
}

/** The script: build, connect, wait for "go", publish, stay until stdin closes. */
async function main(arg: string): Promise<void> {
  useNativeCrypto();
  const { victim, plan } = JSON.parse(arg) as { victim: string; plan: AttackPlan };
  const pace = (): Promise<void> => new Promise((r) => setTimeout(r, plan.paceMs ?? 0));
  const raws = attackBlocks(plan);
  const node = await startNode(regtest);
  await node.net.addPeer(victim);
  const pubsub = node.net.libp2p.services.pubsub;
  await waitFor(() => pubsub.getSubscribers(node.net.topic).length >= 1, 10_000, "the victim's subscription");
  const hashes = raws.map(rawBlockHash);
  process.stdout.write(`${JSON.stringify({ peerId: node.net.peerId, hashes })}\n`);
  const stdin = createInterface({ input: process.stdin });
  stdin.once("line", async () => {
    for (const raw of raws) {
      await pubsub.publish(node.net.topic, raw).catch(() => undefined);
      if (plan.paceMs) await pace();
    }
    process.stdout.write(`${JSON.stringify({ published: raws.length })}\n`);
  });
  stdin.once("close", () => {
    void node.stop().finally(() => process.exit(0));
  });
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  main(process.argv[2] ?? "{}").catch((err: unknown) => {
    process.stderr.write(`attacker: ${String(err)}\n`);
    process.exit(1);
  });
}
