/**
 * A closed network (src/net/private.ts): the swarm.key format, and real libp2p nodes over TCP on loopback
 * with and without the pre-shared network key and the allow-list of peer ids.
 */
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { regtest } from "../../src/consensus/params.ts";
import {
  formatNetworkKey,
  NetworkKey,
  NetworkKeyError,
  networkKeyFingerprint,
  parseNetworkKey,
  parsePeerIds,
  readNetworkKeyFile,
  writeNewNetworkKeyFile,
} from "../../src/net/index.ts";
import { tempDir } from "../helpers/chain.ts";
import { addrOf, buildChain, importBlocks, nodeStarter, type TestNode, waitFor } from "../helpers/net.ts";

const node = nodeStarter(regtest);
const key = (fill: number): NetworkKey => new NetworkKey(new Uint8Array(32).fill(fill), `key-${fill}`);
const HEX = "ab".repeat(32);

describe("network key files", () => {
  it("round-trips the swarm.key format, with \\n or \\r\\n and a trailing newline", () => {
    const k = new Uint8Array(32).map((_, i) => i * 7);
    const text = formatNetworkKey(k);
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/);
    assert.deepEqual(parseNetworkKey(text), k);
    assert.deepEqual(parseNetworkKey(text.replace(/\n/g, "\r\n")), k);
    assert.deepEqual(
      parseNetworkKey(`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.toUpperCase()}`),
      new Uint8Array(32).fill(0xab),
    );
  });

  it("refuses anything else with a MALFORMED NetworkKeyError that says what is wrong", () => {
    const cases: [string, RegExp][] = [
      ["", /first line/],
      [`/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`, /first line/],
      [`/key/swarm/psk/1.0.0/\n/base64/\n${HEX}`, /encoding line/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}`, /64 hex digits/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}zz`, /64 hex digits/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nmore`, /more after/],
    ];
    for (const [text, why] of cases) {
      assert.throws(
        () => parseNetworkKey(text, "f.key"),
        (err: unknown) => err instanceof NetworkKeyError && err.code === "MALFORMED" && why.test(err.message),
        JSON.stringify(text),
      );
    }
  });

  it("writes a new key file with mode 0600, never over an existing one, and reads it back", async () => {
    const dir = tempDir("jbc-pnet-");
    const path = join(dir, "swarm.key");
    const written = await writeNewNetworkKeyFile(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const read = readNetworkKeyFile(path);
    assert.deepEqual(read.key, written.key);
    assert.equal(read.fingerprint, networkKeyFingerprint(written.key));
    assert.equal(read.fingerprint.length, 16);
    // Neither its JSON nor its string form carries the key.
    const hex = (await readFile(path, "utf8")).split("\n")[2]!;
    assert.doesNotMatch(JSON.stringify(read), new RegExp(hex));
    assert.equal(String(read), path);
    await assert.rejects(
      writeNewNetworkKeyFile(path),
      (e: unknown) => e instanceof NetworkKeyError && e.code === "EXISTS",
    );
    await writeFile(join(dir, "bad.key"), "not a key\n");
    assert.throws(() => readNetworkKeyFile(join(dir, "bad.key")), /bad\.key is not a network key file/);
    assert.throws(
      () => readNetworkKeyFile(join(dir, "missing.key")),
      (e: unknown) => e instanceof NetworkKeyError && e.code === "IO",
    );
  });

  it("parses allow-lists of peer ids and names a bad one", async () => {
    const a = await node();
    const id = a.net.peerId;
    assert.deepEqual(parsePeerIds(`${id}, ${id}\n# comment\n\n`), [id, id]);
    assert.throws(
      () => parsePeerIds(`${id},nope`),
      (e: unknown) => e instanceof NetworkKeyError && e.code === "BAD_PEER_ID" && /"nope"/.test(e.message),
    );
  });
});

describe("a closed network over TCP", () => {
  it("keyed ↔ keyed with the same key connect and gossip blocks", async () => {
    const a = await node({ networkKey: key(1) });
    const b = await node({ networkKey: key(1), peers: [addrOf(a)] });
    await waitFor(() => b.net.getPeers().length === 1 && a.net.getPeers().length === 1, 10_000, "join");
    await waitFor(() => a.net.libp2p.services.pubsub.getSubscribers(a.net.topic).length >= 1, 5_000, "mesh");
    await importBlocks(a.tc.chain, buildChain(regtest, 2));
    await waitFor(() => b.tc.chain.tip.height === 2, 10_000, "the blocks at b");
    assert.equal(b.tc.chain.tip.hash, a.tc.chain.tip.hash);
  });

  /** `outsider` tries both ways for a while; `a` must see no peer and keep its chain. */
  async function neverConnect(a: TestNode, outsider: TestNode): Promise<void> {
    const tip = a.tc.chain.tip.hash;
    await assert.rejects(outsider.net.addPeer(addrOf(a)));
    await assert.rejects(a.net.addPeer(addrOf(outsider)));
    await sleep(1_000);
    assert.equal(a.net.getPeers().length, 0);
    assert.equal(outsider.net.getPeers().length, 0);
    assert.equal(a.net.libp2p.getConnections().length, 0, "no connection survives the handshake");
    assert.equal(a.tc.chain.tip.hash, tip, "the keyed node's chain is untouched");
    assert.equal(outsider.tc.chain.tip.height, 4, "the outsider learnt nothing either");
  }

  it("keyed ↔ unkeyed never connect, either way, and the keyed chain is untouched", async () => {
    const a = await node({ networkKey: key(2) });
    await importBlocks(a.tc.chain, buildChain(regtest, 1));
    const outsider = await node({ peers: [addrOf(a)] });
    await importBlocks(outsider.tc.chain, buildChain(regtest, 4, regtest.genesis, { miner: "outsider" }));
    await neverConnect(a, outsider);
  });

  it("nodes with different keys never connect, either way", async () => {
    const a = await node({ networkKey: key(3) });
    await importBlocks(a.tc.chain, buildChain(regtest, 1));
    const outsider = await node({ networkKey: key(4), peers: [addrOf(a)] });
    await importBlocks(outsider.tc.chain, buildChain(regtest, 4, regtest.genesis, { miner: "outsider" }));
    await neverConnect(a, outsider);
  });

  it("with an allow-list, a keyed peer outside it is refused and one on it connects", async () => {
    const b = await node({ networkKey: key(5) });
    const c = await node({ networkKey: key(5) });
    const a = await node({ networkKey: key(5), allowPeers: [c.net.peerId] });
    await assert.rejects(b.net.addPeer(addrOf(a)));
    await assert.rejects(a.net.addPeer(addrOf(b)));
    await c.net.addPeer(addrOf(a));
    await waitFor(() => a.net.getPeers().length === 1, 5_000, "c joins a");
    assert.deepEqual(
      a.net.getPeers().map((p) => p.peerId),
      [c.net.peerId],
    );
    assert.equal(
      a.net.libp2p.getConnections().filter((x) => x.remotePeer.toString() === b.net.peerId).length,
      0,
    );
  });
});
