/**
 * The lab's misbehaving peer (run by helper-main in its own namespace): a real P2PNetwork on a regtest
 * chain of its own, whose identity is kept in `dir` (or made anew), that dials the honest nodes and then,
 * on each `send` command, gossips one invalid message: alternately a well-formed block that fails
 * proof of work and bytes that are no block at all.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Chain } from "../chain/chain.ts";
import { encodeBlock } from "../consensus/block.ts";
import { bitsToTarget } from "../consensus/compact.ts";
import { hashToBigInt, headerHashBytes } from "../consensus/header.ts";
import { regtest } from "../consensus/params.ts";
import { buildBlock } from "../consensus/template.ts";
import { loadOrCreatePeerKey } from "../net/identity.ts";
import { P2PNetwork } from "../net/index.ts";
import { LevelStore } from "../store/level.ts";
import { silentLogger } from "../util/logger.ts";

export interface BadPeer {
  peerId: string;
  /** Which targets it could connect to and pass the status exchange with (error messages otherwise). */
  dialed: Record<string, string>;
  /** Gossips one invalid message; resolves with how many honest peers are still connected. */
  send(): Promise<number>;
  stop(): Promise<void>;
}

export async function startBadPeer(dir: string, targets: string[], newIdentity: boolean): Promise<BadPeer> {
  const store = await LevelStore.open(join(dir, "chain"), regtest);
  const chain = await Chain.open({ params: regtest, store });
  const privateKey = await loadOrCreatePeerKey(join(dir, newIdentity ? `key-${Date.now()}` : "key"));
  const net = await P2PNetwork.create(
    { params: regtest, listen: { host: "0.0.0.0", port: 0 }, peers: [], logger: silentLogger, privateKey },
    { chain, bans: store },
  );
  await net.start();
  const dialed: Record<string, string> = {};
  await Promise.all(
    targets.map(async (t) => {
      try {
        await Promise.race([
          net.addPeer(t),
          new Promise((_, reject) => setTimeout(() => reject(new Error("no answer in 10 s")), 10_000)),
        ]);
        dialed[t] = "joined";
      } catch (err) {
        dialed[t] = (err as Error).message;
      }
    }),
  );
  const pubsub = net.libp2p.services.pubsub;
  const joined = Object.values(dialed).filter((v) => v === "joined").length;
  for (let i = 0; i < 100 && pubsub.getSubscribers(net.topic).length < joined; i++)
    await new Promise((r) => setTimeout(r, 100));
  let sent = 0;
  return {
    peerId: net.peerId,
    dialed,
    async send() {
      let bytes: Uint8Array;
      if (sent++ % 2 === 0) {
        // A block on genesis whose hash misses the target (HIGH_HASH).
        const block = buildBlock({
          prevHash: headerHashBytes(regtest.genesis.header),
          height: 1,
          bits: regtest.genesis.header.bits,
          time: regtest.genesis.header.time + 1,
          miner: "bad",
          extraNonce: BigInt(sent),
        });
        const target = bitsToTarget(block.header.bits) ?? 0n;
        for (let nonce = 0; ; nonce++) {
          block.header.nonce = nonce;
          if (hashToBigInt(headerHashBytes(block.header)) > target) break;
        }
        bytes = encodeBlock(block);
      } else {
        bytes = randomBytes(200);
      }
      await pubsub.publish(net.topic, bytes).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      return net.getPeers().length;
    },
    async stop() {
      await net.stop();
      await chain.close();
      await store.close();
    },
  };
}
