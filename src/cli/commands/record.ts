import { readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import { z } from "zod";
import { ApiClient, ApiClientError } from "../../api/client.ts";
import type { NetworkParams } from "../../consensus/params.ts";
import { type RecordProof, verifyRecordProof } from "../../consensus/proof.ts";
import { type DataRecord, encodeRecord, type SignedRecord, signRecord } from "../../consensus/records.ts";
import { RecordJson, recordFromJson, recordToJson } from "../../mempool/json.ts";
import { errorMessage } from "../../util/errors.ts";
import { networkOption } from "../network-option.ts";
import { intArg } from "../options.ts";
import { readKeyFile } from "./keygen.ts";

const DEFAULT_URL = "http://127.0.0.1:5000";

/**
 * A saved proof: the record (in its JSON form) and its inclusion proof. `GET /api/records/:id` answers a
 * superset of this, so its response saved as is can be verified.
 */
export const ProofFile = z.object({
  record: RecordJson,
  // The proof's own fields are checked by verifyRecordProof, which names what is wrong with a code
  // (an old proof without a version included).
  proof: z.record(z.string(), z.unknown()),
});

interface VerifyOptions {
  url?: string;
  network: NetworkParams;
  confirmations: number;
}

/** Checks a proof file offline and, with a node, that its block is on the main chain deep enough. */
async function verify(file: string, o: VerifyOptions): Promise<boolean> {
  let saved: z.infer<typeof ProofFile>;
  try {
    const parsed = ProofFile.safeParse(JSON.parse(await readFile(file, "utf8")));
    if (!parsed.success) {
      console.error(
        `jbc record verify: ${file} is not a proof file: ${parsed.error.issues[0]?.message ?? ""}`,
      );
      return false;
    }
    saved = parsed.data;
  } catch (err) {
    console.error(`jbc record verify: cannot read ${file}: ${errorMessage(err)}`);
    return false;
  }
  const rec = recordFromJson(saved.record);
  if (!rec.ok) {
    console.error(`jbc record verify: bad record in ${file}: ${rec.issues.join("; ")}`);
    return false;
  }
  const result = verifyRecordProof(saved.proof as unknown as RecordProof, encodeRecord(rec.record), {
    powLimit: o.network.powLimit,
  });
  if (!result.valid) {
    console.log(`INVALID (${result.code}): ${result.reason}`);
    return false;
  }
  console.log(
    `valid: record ${result.id} is in block ${result.blockHash} at height ${result.height}, position ${saved.proof.index} (${new Date(result.time * 1000).toISOString()})`,
  );
  if (!o.url) return true;
  try {
    const block = await new ApiClient(o.url, { timeoutMs: 5000 }).call("getBlock", {
      params: { id: result.blockHash },
    });
    if (block.branch !== "main") {
      console.log(`NOT CONFIRMED: block ${block.hash} is on a side branch at ${o.url}`);
      return false;
    }
    const deep = block.confirmations >= o.confirmations;
    console.log(
      `${deep ? "confirmed" : "NOT CONFIRMED"}: main chain at height ${block.height}, ${block.confirmations} confirmation(s)${deep ? "" : `, fewer than ${o.confirmations}`}`,
    );
    return deep;
  } catch (err) {
    if (err instanceof ApiClientError && err.status === 404) {
      console.log(`NOT CONFIRMED: ${o.url} does not know block ${result.blockHash}`);
      return false;
    }
    console.error(`jbc record verify: ${errorMessage(err)}`);
    return false;
  }
}

/** Prints a failure the way every `jbc record` command does and sets the exit code. */
function fail(cmd: string, err: unknown): void {
  console.error(`jbc record ${cmd}: ${errorMessage(err)}`);
  process.exitCode = 1;
}

interface AddOptions {
  file?: string;
  key?: string;
  url: string;
  wait?: number;
  timeout: number;
}

/** Submits one record, prints its id and, with --wait N, waits until it has N confirmations. */
async function add(text: string | undefined, o: AddOptions): Promise<void> {
  if ((text === undefined) === (o.file === undefined))
    throw new Error("give the record's TEXT or --file F (one of them)");
  const data = o.file !== undefined ? new Uint8Array(await readFile(o.file)) : new TextEncoder().encode(text);
  let record: DataRecord | SignedRecord = { type: "data", data };
  if (o.key !== undefined) record = signRecord(data, (await readKeyFile(o.key)).secretKey);
  const api = new ApiClient(o.url, { timeoutMs: 30_000 });
  const { type: _type, ...json } = recordToJson(record);
  const ack = await api.submitRecords(json);
  console.log(ack.id);
  if (o.wait === undefined) return;
  const deadline = Date.now() + o.timeout * 1000;
  for (;;) {
    const r = await api.record(ack.id);
    const c = r.confirmations ?? 0;
    if (r.status === "confirmed" && c >= o.wait) {
      console.log(`confirmed in block ${r.block?.hash} at height ${r.block?.height} (${c} confirmation(s))`);
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`${ack.id} has ${c} confirmation(s) after ${o.timeout} s, fewer than ${o.wait}`);
    await sleep(250);
  }
}

/** Prints a record as the node shows it; with --proof saves the answer (a proof file) to a file. */
async function get(id: string, o: { url: string; proof?: string }): Promise<void> {
  const r = await new ApiClient(o.url, { timeoutMs: 10_000 }).record(id);
  console.log(JSON.stringify(r, null, 2));
  if (o.proof === undefined) return;
  if (!r.proof) throw new Error(`record ${r.id} is ${r.status}: no proof until it is in a block`);
  await writeFile(o.proof, `${JSON.stringify(r, null, 2)}\n`);
  console.error(`proof written to ${o.proof} (check it with: jbc record verify ${o.proof})`);
}

/** An author given as 64 hex digits or as a key file (its public key). */
async function authorKey(key: string): Promise<string> {
  if (/^[0-9a-fA-F]{64}$/.test(key)) return key.toLowerCase();
  return Buffer.from((await readKeyFile(key)).publicKey).toString("hex");
}

/** Prints an author's records, newest first: height:index, id, the data (text, or its encoding). */
async function list(o: {
  author: string;
  url: string;
  limit: number;
  before?: string;
  json: boolean;
}): Promise<void> {
  const page = await new ApiClient(o.url, { timeoutMs: 10_000 }).records(await authorKey(o.author), {
    limit: o.limit,
    ...(o.before !== undefined ? { before: o.before } : {}),
  });
  if (o.json) {
    console.log(JSON.stringify(page, null, 2));
    return;
  }
  for (const r of page.records) {
    const data =
      "data" in r.record
        ? r.record.encoding === "utf8"
          ? JSON.stringify(r.record.data)
          : `(${r.record.encoding}) ${r.record.data}`
        : "";
    console.log(
      `${r.block.height}:${r.index}  ${r.id}  ${data.length > 80 ? `${data.slice(0, 77)}...` : data}`,
    );
  }
  if (page.records.length === 0) console.log("no records");
  if (page.next) console.log(`more: --before ${page.next}`);
}

/** `jbc record ...`: submit, find, list and prove records. */
export function recordCommand(): Command {
  const record = new Command("record").description("submit, find and prove records");
  record
    .command("add")
    .description("submit a record to a node and print its id")
    .argument("[text]", "the record's data, as UTF-8 text")
    .option("--file <file>", "the record's data: this file's bytes")
    .option("--key <key.json>", "sign the record with this key (jbc keygen)")
    .option("--url <url>", "the node's HTTP API", DEFAULT_URL)
    .option("--wait <n>", "wait until the record has n confirmations", intArg(1, 1_000_000))
    .option("--timeout <s>", "with --wait, give up after this many seconds", intArg(1), 600)
    .action(async (text: string | undefined, o: AddOptions) => {
      await add(text, o).catch((err: unknown) => fail("add", err));
    });
  record
    .command("get")
    .description("show a record: pending, or confirmed with its block, confirmations and proof")
    .argument("<id>", "the record id (64 hex digits)")
    .option("--url <url>", "the node's HTTP API", DEFAULT_URL)
    .option("--proof <file>", "save the answer as a proof file for jbc record verify")
    .action(async (id: string, o: { url: string; proof?: string }) => {
      await get(id, o).catch((err: unknown) => fail("get", err));
    });
  record
    .command("list")
    .description("list an author's confirmed records, newest first")
    .requiredOption("--author <key>", "the author's public key (64 hex digits) or key file")
    .option("--url <url>", "the node's HTTP API", DEFAULT_URL)
    .option("--limit <n>", "records per page", intArg(1, 100), 20)
    .option("--before <cursor>", "the page after this height:index (the last line's 'more')")
    .option("--json", "print the raw JSON page", false)
    .action(async (o: { author: string; url: string; limit: number; before?: string; json: boolean }) => {
      await list(o).catch((err: unknown) => fail("list", err));
    });
  record
    .command("verify")
    .description("check a saved proof offline and, with --url, that its block is on the node's main chain")
    .argument("<file>", "proof file: { record, proof }, as GET /api/records/:id answers")
    .option("--url <url>", "also ask this node whether the block is on its main chain")
    .addOption(networkOption())
    .option("--confirmations <n>", "with --url, the confirmations required", intArg(1, 1_000_000), 1)
    .action(async (file: string, o: VerifyOptions) => {
      if (!(await verify(file, o))) process.exitCode = 1;
    });
  return record;
}
