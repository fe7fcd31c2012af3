/**
 * The attacker's side of the `rewrite` scenario: the team's node keys made in advance (so the witnesses
 * file exists before the nodes start), the common start copied to the attacker block by block, and the
 * attacker's private branch mined at ten times the team's rate.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeBlock } from "../../consensus/block.ts";
import { bitsToTarget } from "../../consensus/compact.ts";
import { hashToBigInt, headerHashBytes, hexToHash } from "../../consensus/header.ts";
import { formatVerifierKey } from "../../consensus/note.ts";
import { buildBlock } from "../../consensus/template.ts";
import { medianTimePast } from "../../consensus/time.ts";
import { loadOrCreatePeerKey } from "../../net/identity.ts";
import { exponential } from "../../util/random.ts";
import type { Lab } from "../lab.ts";
import { type LabNode, sleep } from "../nodes.ts";

/**
 * Creates each team node's libp2p key in its datadir (the key `jbc node` then loads and signs checkpoints
 * with) and writes their verifier keys, named as `--witness-name` names them, to `path`.
 */
export async function writeTeamWitnesses(team: LabNode[], path: string): Promise<string[]> {
  const vkeys: string[] = [];
  for (const n of team) {
    const key = await loadOrCreatePeerKey(join(n.spec.datadir, "p2p", "peer.key"));
    vkeys.push(formatVerifierKey(n.name, key.publicKey.raw));
  }
  await writeFile(path, `${vkeys.join("\n")}\n`);
  return vkeys;
}

/**
 * Gives `to` the blocks of `from`'s main chain from height 1 to `height` (raw bytes, in order); resolves
 * with the timestamps of blocks 0 to `height`.
 */
export async function copyChain(from: LabNode, to: LabNode, height: number): Promise<number[]> {
  const times = [(await from.api.block(0, { limit: 1 })).header.time];
  for (let h = 1; h <= height; h++) {
    const b = await from.api.block(h, { limit: 1 });
    times.push(b.header.time);
    const r = await to.api.submitBlock(await from.api.rawBlock(b.hash));
    if (r.status !== "main") throw new Error(`the attacker took block ${h} as ${r.status}`);
  }
  return times;
}

/**
 * Mines empty blocks on `node`'s tip at Poisson times (mean `interval` s) until `stop()`. Timestamps
 * start one second after the fork's and step one second every six blocks (and always above the median
 * of the last 11) and, at ten blocks a second, within the future drift the team will check them against
 * when the branch is released (a tick that would go more than 8 s ahead of now waits instead).
 */
export function minePrivately(
  lab: Lab,
  node: LabNode,
  interval: number,
  times: number[],
): { stop(): Promise<number> } {
  let running = true;
  let mined = 0;
  // The branch's timestamps, from genesis (copyChain's answer): the median time past is the node's rule.
  const last = [...times];
  const forkTime = last.at(-1)!;
  const loop = (async () => {
    while (running) {
      await sleep(exponential(lab.random, interval * 1000));
      const time = Math.max(forkTime + 1 + Math.floor(mined / 6), medianTimePast(last) + 1);
      if (!running || time > Date.now() / 1000 + 8) continue;
      const s = await node.api.status();
      const bits = Number.parseInt(s.bits, 16);
      const target = bitsToTarget(bits);
      if (target === null) throw new Error(`bad bits ${s.bits}`);
      const block = buildBlock({
        prevHash: hexToHash(s.tip.hash),
        height: s.tip.height + 1,
        bits,
        time,
        miner: node.name,
        extraNonce: BigInt(Math.floor(lab.random() * 2 ** 32)),
        records: [],
      });
      for (let nonce = 0; ; nonce++) {
        block.header.nonce = nonce;
        if (hashToBigInt(headerHashBytes(block.header)) <= target) break;
      }
      const r = await node.api.submitBlock(encodeBlock(block));
      if (r.status !== "main") throw new Error(`the attacker's block was ${r.status}`);
      last.push(time);
      mined++;
    }
  })();
  // An error stops the branch; stop() reports it.
  const ended = loop.catch((err: unknown) => {
    running = false;
    return err;
  });
  return {
    async stop() {
      running = false;
      const err = await ended;
      if (err) throw err;
      return mined;
    },
  };
}
