/**
 * The request rule (src/api/guard.ts, docs/api.md "Who may ask what") as a function: which `Host`
 * spellings name the node, which origins are its own, and what a POST must carry. The attacks themselves
 * run against real nodes in test/adversarial/cross-site-request.test.ts and dns-rebinding.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkRequest, type GuardRequest, hostMatcher, isHostPattern } from "../../src/api/guard.ts";

describe("Host", () => {
  const plain = hostMatcher();
  test("IP addresses, in any spelling a browser normalises, and localhost names pass", () => {
    for (const h of [
      "127.0.0.1",
      "127.0.0.1:5000",
      "10.1.2.3:80",
      "[::1]:5000",
      "[fe80::1]",
      "0x7f.1:5000", // a browser's 127.0.0.1: no name anyone can rebind
      "2130706433",
      "localhost",
      "LOCALHOST:5000",
      "localhost.:5000",
      "node.localhost:5000",
    ])
      assert.equal(plain(h), true, h);
  });

  test("names are refused unless listed, and malformed hosts always", () => {
    for (const h of [
      "rebind.example",
      "rebind.example:5000",
      "localhost.rebind.example",
      "127.0.0.1.nip.io",
      "127.0.0.1@rebind.example",
      "rebind.example/x",
      "rebind.example?x",
      "",
      " ",
      "[::1",
    ])
      assert.equal(plain(h), false, JSON.stringify(h));
  });

  test("--api-hosts: exact names, *.suffix patterns, * for any", () => {
    const m = hostMatcher(["Node.Example", "*.lan"]);
    assert.equal(m("node.example:5000"), true);
    assert.equal(m("node.example.:5000"), true);
    assert.equal(m("a.lan"), true);
    assert.equal(m("a.b.lan:1"), true);
    assert.equal(m("lan"), false);
    assert.equal(m("evillan"), false);
    assert.equal(m("node.example.evil"), false);
    assert.equal(hostMatcher(["*"])("anything.example"), true);
    assert.equal(hostMatcher(["*"])("a@b"), false, "still a host, not a URL");
    assert.equal(hostMatcher(["*."])("rebind.example"), false, "not a pattern: matches nothing");
  });

  test("what --api-hosts accepts", () => {
    for (const ok of ["node.example", "*.lan", "*", "my_node", "10.0.0.2", "[::1]", "NODE.example."])
      assert.equal(isHostPattern(ok), true, ok);
    for (const bad of ["not a host", "a/b", "*.", "a:5000", "", "**.lan", "http://a"])
      assert.equal(isHostPattern(bad), false, bad);
  });
});

describe("Origin and what a POST carries", () => {
  const token = "t".repeat(64);
  const opts = { token, hostAllowed: hostMatcher() };
  interface Over {
    method?: string;
    auth?: boolean;
    remoteAddress?: string;
    headers?: Record<string, string>;
  }
  const req = (over: Over): GuardRequest => ({
    method: over.method ?? "GET",
    remoteAddress: over.remoteAddress ?? "127.0.0.1",
    auth: over.auth ?? false,
    headers: { host: "127.0.0.1:5000", ...over.headers },
  });
  const code = (r: GuardRequest): string | undefined => checkRequest(r, opts)?.code;

  test("the node's own origin passes; any other, null included, is CROSS_ORIGIN", () => {
    assert.equal(code(req({ headers: { origin: "http://127.0.0.1:5000" } })), undefined);
    assert.equal(code(req({ headers: { host: "localhost", origin: "http://localhost" } })), undefined);
    assert.equal(code(req({ headers: { host: "localhost:80", origin: "http://localhost" } })), undefined);
    for (const origin of [
      "http://evil.example",
      "http://127.0.0.1:5001",
      "http://localhost:5000",
      "null",
      "file://",
      "http://127.0.0.1:5000/path",
    ])
      assert.equal(code(req({ headers: { origin } })), "CROSS_ORIGIN", origin);
  });

  test("fetch metadata: cross-site and same-site are refused but for a GET navigation", () => {
    const meta = (site: string, mode: string) => ({ "sec-fetch-site": site, "sec-fetch-mode": mode });
    assert.equal(code(req({ headers: meta("cross-site", "navigate") })), undefined);
    assert.equal(code(req({ headers: meta("same-origin", "cors") })), undefined);
    assert.equal(code(req({ headers: meta("none", "navigate") })), undefined);
    assert.equal(code(req({ headers: meta("cross-site", "no-cors") })), "CROSS_ORIGIN");
    assert.equal(code(req({ headers: meta("same-site", "cors") })), "CROSS_ORIGIN");
    assert.equal(code(req({ method: "POST", headers: meta("cross-site", "navigate") })), "CROSS_ORIGIN");
  });

  test("a POST carries the token, the client header or a preflighted body type, from loopback too", () => {
    const post = (headers: Record<string, string>) => code(req({ method: "POST", headers }));
    assert.equal(post({}), "CLIENT_HEADER_REQUIRED");
    assert.equal(post({ "content-type": "text/plain" }), "CLIENT_HEADER_REQUIRED");
    assert.equal(post({ "content-type": "text/plain; x=application/json" }), "CLIENT_HEADER_REQUIRED");
    assert.equal(post({ "content-type": "application/json, text/plain" }), "CLIENT_HEADER_REQUIRED");
    assert.equal(post({ "x-jbc-client": " " }), "CLIENT_HEADER_REQUIRED");
    assert.equal(post({ authorization: "Bearer wrong" }), "CLIENT_HEADER_REQUIRED");
    assert.equal(post({ "x-jbc-client": "curl" }), undefined);
    assert.equal(post({ authorization: `Bearer ${token}` }), undefined);
    assert.equal(post({ "content-type": "Application/JSON; charset=utf-8" }), undefined);
    assert.equal(post({ "content-type": "application/octet-stream" }), undefined);
  });

  test("auth routes need the token from other addresses, whatever else the request carries", () => {
    const remote = { method: "POST", auth: true, remoteAddress: "192.0.2.7" } as const;
    assert.equal(code(req({ ...remote, headers: { "x-jbc-client": "x" } })), "UNAUTHORIZED");
    assert.equal(code(req({ ...remote, headers: { authorization: `Bearer ${token}` } })), undefined);
    assert.equal(
      code(req({ ...remote, remoteAddress: "::ffff:127.0.0.1", headers: { "x-jbc-client": "x" } })),
      undefined,
    );
    // Without a token configured, nothing remote gets in.
    assert.equal(
      checkRequest(req({ ...remote, headers: { authorization: "Bearer " } }), { hostAllowed: hostMatcher() })
        ?.code,
      "UNAUTHORIZED",
    );
  });
});
