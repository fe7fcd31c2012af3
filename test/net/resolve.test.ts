/**
 * Peer address resolution: multiaddrs and host:port without I/O, HTTP URLs against a real node:http
 * server serving `GET /api/p2p` as src/api does.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { PeerAddressError, resolvePeerAddress } from "../../src/net/resolve.ts";

const PEER = "12D3KooWGh6dAJWQiazXjHCAQ1YSUc4RNMkCoFq9C9mQ6B2GLKpx";

describe("resolvePeerAddress", () => {
  let server: Server;
  let base = "";
  const routes = new Map<string, (res: ServerResponse) => void>();

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const handler = routes.get(req.url ?? "");
      if (handler) handler(res);
      else res.writeHead(404).end("not found");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const json =
    (body: unknown) =>
    (res: ServerResponse): void => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    };

  it("parses multiaddrs, with or without a peer id", async () => {
    const full = `/ip4/127.0.0.1/tcp/6001/p2p/${PEER}`;
    assert.deepEqual((await resolvePeerAddress(full)).map(String), [full]);
    assert.deepEqual((await resolvePeerAddress("/ip4/10.0.0.1/tcp/6001")).map(String), [
      "/ip4/10.0.0.1/tcp/6001",
    ]);
    await assert.rejects(resolvePeerAddress("/ip4/nonsense"), PeerAddressError);
  });

  it("turns host:port into a TCP multiaddr", async () => {
    const one = async (a: string): Promise<string> => String((await resolvePeerAddress(a))[0]);
    assert.equal(await one("127.0.0.1:6001"), "/ip4/127.0.0.1/tcp/6001");
    assert.equal(await one("localhost:6001"), "/ip4/127.0.0.1/tcp/6001");
    assert.equal(await one("[::1]:6001"), "/ip6/::1/tcp/6001");
    assert.equal(await one("node.example:6001"), "/dns4/node.example/tcp/6001");
    for (const bad of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "just words", "host:port/path"])
      await assert.rejects(resolvePeerAddress(bad), PeerAddressError, bad);
  });

  it("resolves a node's HTTP URL through GET /api/p2p", async () => {
    routes.set(
      "/api/p2p",
      json({ peerId: PEER, multiaddrs: ["/ip4/127.0.0.1/tcp/6001", `/ip4/0.0.0.0/tcp/6002/p2p/${PEER}`] }),
    );
    const addrs = await resolvePeerAddress(`${base}/`);
    assert.deepEqual(addrs.map(String), [
      `/ip4/127.0.0.1/tcp/6001/p2p/${PEER}`,
      // An unspecified listen address is reached at the host the URL named.
      `/ip4/127.0.0.1/tcp/6002/p2p/${PEER}`,
    ]);
  });

  it("says clearly why an HTTP URL cannot be resolved", async () => {
    routes.set("/bad/api/p2p", json({ peerId: PEER, multiaddrs: [] }));
    await assert.rejects(resolvePeerAddress(`${base}/bad`), /unexpected body \(multiaddrs/);
    routes.set("/html/api/p2p", (res) => res.writeHead(200).end("<html>"));
    await assert.rejects(resolvePeerAddress(`${base}/html`), /did not return JSON/);
    await assert.rejects(resolvePeerAddress(`${base}/missing`), /answered HTTP 404/);
    routes.set(
      "/other/api/p2p",
      json({ peerId: PEER, multiaddrs: ["/ip4/1.2.3.4/tcp/1/p2p/12D3KooWOther"] }),
    );
    await assert.rejects(resolvePeerAddress(`${base}/other`), PeerAddressError);
    routes.set("/slow/api/p2p", () => {}); // never answers
    await assert.rejects(
      resolvePeerAddress(`${base}/slow`, { timeoutMs: 100 }),
      /no answer .* within 100 ms/,
    );
    await assert.rejects(resolvePeerAddress("http://127.0.0.1:1"), /unreachable/);
  });

  it("stops reading an answer that is far too large, and times out a body that never ends", async () => {
    routes.set("/huge/api/p2p", (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"peerId":"${"x".repeat(200_000)}"}`);
    });
    await assert.rejects(resolvePeerAddress(`${base}/huge`), /larger than 65536 bytes/);
    routes.set("/drip/api/p2p", (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"peerId":'); // and nothing more
    });
    await assert.rejects(
      // Long enough that the headers (sent at once) always arrive within it, even on a loaded machine.
      resolvePeerAddress(`${base}/drip`, { timeoutMs: 1_000 }),
      /no full answer .* within 1000 ms/,
    );
  });
});
