/**
 * The node identity file: created once, the same peer id on every later start (also through a real
 * P2PNetwork), and a clear error for a file that is not a key.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { regtest } from "../../src/consensus/params.ts";
import { IdentityError, loadOrCreatePeerKey, P2PNetwork } from "../../src/net/index.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { openChain } from "../helpers/net.ts";

describe("loadOrCreatePeerKey", () => {
  it("creates the key once and gives the same peer id after a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jbc-id-"));
    const path = join(dir, "p2p", "peer.key");
    const first = await loadOrCreatePeerKey(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const again = await loadOrCreatePeerKey(path);
    assert.equal(peerIdFromPrivateKey(again).toString(), peerIdFromPrivateKey(first).toString());

    const tc = await openChain(regtest);
    const net = await P2PNetwork.create(
      {
        params: regtest,
        listen: { host: "127.0.0.1", port: 0 },
        peers: [],
        logger: silentLogger,
        privateKey: again,
      },
      { chain: tc.chain, bans: tc.store },
    );
    assert.equal(net.peerId, peerIdFromPrivateKey(first).toString());
    await net.stop();
    await tc.remove();

    await writeFile(path, "not a key");
    await assert.rejects(loadOrCreatePeerKey(path), IdentityError);
    await rm(dir, { recursive: true, force: true });
  });
});
