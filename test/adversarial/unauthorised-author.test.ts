/**
 * Attack: writing to a team's log without being one of its authors (docs/security.md, "Unauthorised
 * author writes"). Real `jbc node` processes on one closed network (the same network key): `team` runs
 * under a signed author policy that lets alice write; `rogue` holds the network key but no policy (a
 * malicious or misconfigured miner). mallory's record is refused by the team's node at admission (HTTP
 * 403 UNAUTHORISED_AUTHOR); a block carrying it, submitted directly (422) or mined by the rogue node
 * and gossiped, is refused, the rogue node is banned, and the record never confirms on the team's chain,
 * while alice's record does.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { ApiClient, ApiClientError } from "../../src/api/client.ts";
import { encodeBlock } from "../../src/consensus/block.ts";
import { toHex } from "../../src/consensus/bytes.ts";
import { hashToHex, hexToHash } from "../../src/consensus/header.ts";
import { recordId } from "../../src/consensus/records.ts";
import { buildBlock } from "../../src/consensus/template.ts";
import { recordToJson } from "../../src/mempool/json.ts";
import { KEYS, recordBy } from "../helpers/authors.ts";
import { mineBlock } from "../helpers/blocks.ts";
import { tempDir } from "../helpers/chain.ts";
import { killAll, spawnNode } from "../helpers/spawn.ts";
import { waitFor } from "../helpers/wait.ts";

const run = promisify(execFile);
const BIN = new URL("../../bin/jbc.mjs", import.meta.url).pathname;
const tmp = tempDir("jbc-authors-");
after(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<ApiClientError> {
  const err = await p.then(
    () => assert.fail("accepted"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiClientError, String(err));
  return err;
}

/** The admin's key file, and a policy signed with it (through the CLI) letting alice write from height 0. */
async function teamPolicy(): Promise<string> {
  const seedHex = toHex(KEYS.admin.seed);
  const key = join(tmp, "admin.json");
  const admin = { type: "ed25519", publicKey: toHex(KEYS.admin.publicKey), secretKey: seedHex };
  writeFileSync(key, JSON.stringify(admin), { mode: 0o600 });
  const draft = join(tmp, "draft.json");
  const grant = { publicKey: toHex(KEYS.alice.publicKey), from: 0, name: "alice" };
  writeFileSync(draft, JSON.stringify({ network: "regtest", sequence: 1, authors: [grant] }));
  const out = join(tmp, "policy.json");
  await run(process.execPath, [BIN, "authors", "sign", "--key", key, "--in", draft, "--out", out]);
  return out;
}

describe("attack: an unauthorised author writes to a team's log", () => {
  it("is refused at admission and in blocks, even from a keyed miner; the team's chain never has it", async () => {
    const policy = await teamPolicy();
    const netKey = join(tmp, "team.key");
    await run(process.execPath, [BIN, "keygen", "--network-key", netKey]);
    const team = await spawnNode({
      name: "team",
      datadir: join(tmp, "team"),
      args: ["--authors", policy, "--network-key", netKey],
    });
    const token = readFileSync(join(tmp, "team", "api-token"), "utf8").trim();
    const api = new ApiClient(team.url, { token });

    // Admission: mallory (unlisted) and an unsigned record are refused with 403; alice is taken.
    const evil = recordBy("mallory", "let me in");
    const e1 = await refusal(api.submitRecords(recordToJson(evil)));
    assert.equal(e1.status, 403);
    assert.equal(e1.code, "UNAUTHORISED_AUTHOR");
    assert.equal(e1.details?.reason, "unlisted");
    const e2 = await refusal(api.submitRecords({ type: "data", data: "aGVsbG8=" } as never));
    assert.equal(e2.status, 403);
    const good = recordBy("alice", "minutes of the meeting");
    assert.equal((await api.submitRecords(recordToJson(good))).status, "pending");

    // A block carrying mallory's record, submitted directly.
    const s = await api.status();
    const block = mineBlock(
      buildBlock({
        prevHash: hexToHash(s.tip.hash),
        height: s.tip.height + 1,
        bits: Number.parseInt(s.bits, 16),
        time: Math.max(s.tip.time + 1, Math.floor(Date.now() / 1000)),
        miner: "rogue",
        records: [evil],
      }),
    );
    const e3 = await refusal(api.submitBlock(encodeBlock(block)));
    assert.equal(e3.status, 422);
    assert.equal(e3.code, "UNAUTHORISED_AUTHOR");

    // A rogue miner on the closed network (it has the key, not the policy) mines mallory's record.
    const rogue = await spawnNode({
      name: "rogue",
      datadir: join(tmp, "rogue"),
      args: ["--network-key", netKey],
      peers: [team.url],
    });
    await waitFor(async () => (await api.peers()).peers.length === 1, { what: "rogue to join team" });
    const rogueApi = new ApiClient(rogue.url, {
      token: readFileSync(join(tmp, "rogue", "api-token"), "utf8").trim(),
    });
    await rogueApi.submitRecords(recordToJson(evil));
    await rogueApi.startMining();
    const evilId = hashToHex(recordId(evil));
    await waitFor(async () => (await rogueApi.record(evilId)).status === "confirmed", {
      what: "rogue to mine it",
    });
    // The team's node refuses the rogue block and bans its miner.
    await waitFor(async () => (await api.peers()).peers.length === 0, {
      what: "team to drop the rogue peer",
    });
    await rogueApi.stopMining();
    // The team mines its own chain: alice's record confirms; mallory's never does.
    await api.startMining();
    const goodId = hashToHex(recordId(good));
    await waitFor(async () => (await api.record(goodId)).status === "confirmed", {
      what: "alice's record to confirm",
    });
    await api.stopMining();
    const seen = await api.record(evilId).then(
      (r) => r.status,
      (e: unknown) => (e instanceof ApiClientError ? e.status : String(e)),
    );
    assert.equal(seen, 404, "mallory's record is neither pending nor confirmed on the team's chain");
  });
});
