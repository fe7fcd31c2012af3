/**
 * The API's handlers in groups (src/api/handlers): every route of the table has exactly one handler, in
 * the group the table names, and a group is a plain function of the part of the backend it uses, callable
 * without a server. Built over a real Chain on a LevelStore and a real Mempool. The `@ts-expect-error`
 * lines are checked by `npm run typecheck`: if a map missing a route ever compiled, they would fail it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { EventHub } from "../../src/api/events.ts";
import type { ApiHandlers, GroupHandlers, Input } from "../../src/api/handler.ts";
import { getBlocksApi } from "../../src/api/handlers/blocks.ts";
import { getApiHandlers, getGroupHandlers } from "../../src/api/handlers/index.ts";
import { getPeersApi } from "../../src/api/handlers/peers.ts";
import { type ApiGroup, type RouteName, routes } from "../../src/api/routes.ts";
import { ApiError } from "../../src/api/schemas.ts";
import { regtest } from "../../src/consensus/params.ts";
import { Mempool } from "../../src/mempool/index.ts";
import { recordsBackend } from "../helpers/api.ts";
import { makeChild } from "../helpers/blocks.ts";
import { type Harness, openHarness } from "../helpers/chain.ts";

let h: Harness;
let backend: ReturnType<typeof recordsBackend>;
let hub: EventHub;

before(async () => {
  h = await openHarness(regtest);
  const mempool = new Mempool({ params: regtest, isConfirmed: (id) => h.chain.isRecordConfirmed(id) });
  backend = recordsBackend(h.chain, mempool);
  hub = new EventHub(backend);
});

after(async () => {
  hub?.close();
  await h?.dispose();
});

const opts = { version: "1.2.3", started: Date.now() };

/** The input a handler gets from the server, for handlers that read only their parsed parts. */
function input<N extends RouteName>(parts: Partial<Input<N>>): Input<N> {
  return { params: undefined, query: undefined, body: undefined, ...parts } as Input<N>;
}

test("every route of the table has one handler, in the group the table names", () => {
  const groups = getGroupHandlers(opts, { backend, hub });
  const names = Object.keys(routes) as RouteName[];
  const seen: string[] = [];
  for (const [group, handlers] of Object.entries(groups) as Array<[ApiGroup, Record<string, unknown>]>) {
    const expected = names.filter((n) => routes[n].group === group).sort();
    assert.ok(expected.length > 0, `group ${group} serves no route`);
    assert.deepEqual(Object.keys(handlers).sort(), expected, group);
    seen.push(...expected);
  }
  assert.deepEqual(seen.sort(), [...names].sort(), "each route in exactly one group");

  const all = getApiHandlers(opts, { backend, hub });
  assert.deepEqual(Object.keys(all).sort(), [...names].sort());
  for (const n of names) assert.equal(typeof all[n], "function", n);
});

test("a missing handler does not compile: the whole map, and one group's share of it", () => {
  const groups = getGroupHandlers(opts, { backend, hub });
  // @ts-expect-error the legacy group's routes have no handler in this map
  const incomplete: ApiHandlers = {
    ...groups.node,
    ...groups.blocks,
    ...groups.records,
    ...groups.peers,
    ...groups.mining,
  };
  // @ts-expect-error stopMining is a route of the mining group
  const partial: GroupHandlers<"mining"> = { startMining: groups.mining.startMining };
  // @ts-expect-error getHealth is a route of the node group, not of the mining group
  const foreign: GroupHandlers<"mining"> = { ...groups.mining, getHealth: groups.node.getHealth };
  // What compiled anyway really lacks (or has extra) what the errors above name.
  assert.equal("legacyChain" in incomplete || "legacyMined" in incomplete, false);
  assert.equal("stopMining" in partial, false);
  assert.equal("getHealth" in foreign, true);
});

test("the blocks group is a function of the chain alone: it pages what the chain holds", async () => {
  const blocks = getBlocksApi({}, { chain: h.chain });
  const first = await blocks.getBlocks(input<"getBlocks">({ query: {} }));
  assert.ok(!("statusCode" in first));
  assert.deepEqual(
    first.blocks.map((b) => b.height),
    [0],
  );
  const b1 = makeChild(regtest.genesis, regtest);
  await h.chain.processBlock(b1);
  const page = await blocks.getBlocks(input<"getBlocks">({ query: { limit: 5 } }));
  assert.ok(!("statusCode" in page));
  assert.equal(page.tipHeight, 1);
  assert.deepEqual(
    page.blocks.map((b) => b.height),
    [1, 0],
  );
  await assert.rejects(
    blocks.getBlock(input<"getBlock">({ params: { id: "7" }, query: {} })),
    (err: unknown) => err instanceof ApiError && err.status === 404 && err.code === "BLOCK_NOT_FOUND",
  );
});

test("the peers group checks an address before the backend sees it, then passes the backend's answer", async () => {
  const peers = getPeersApi(backend);
  await assert.rejects(
    peers.addPeer(input<"addPeer">({ body: { addr: "not an address" } })),
    (err: unknown) => err instanceof ApiError && err.status === 400 && err.code === "BAD_ADDRESS",
  );
  // This backend has no P2P: a well-formed address reaches it and gets its refusal.
  await assert.rejects(
    peers.addPeer(input<"addPeer">({ body: { addr: "/ip4/127.0.0.1/tcp/9" } })),
    (err: unknown) => err instanceof ApiError && err.status === 503 && err.code === "P2P_DISABLED",
  );
});
