import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, Option } from "commander";
import { ApiClient } from "../../api/client.ts";
import { type DataRecord, type SignedRecord, signRecord } from "../../consensus/records.ts";
import { recordToJson } from "../../mempool/json.ts";
import { errorMessage } from "../../util/errors.ts";
import { networkOption } from "../network-option.ts";
import { collect, intArg } from "../options.ts";
import { witnessesArg } from "../team-options.ts";
import { readKeyFile } from "./keygen.ts";
import { LIGHT_EXIT } from "./light.ts";
import { saveProofFile, type VerifyOptions, verify, workArg } from "./record-proof.ts";

const DEFAULT_URL = "http://127.0.0.1:5000";

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

/**
 * Prints a record as the node shows it; with --proof writes a self-contained proof file: the record, its
 * position proof and the headers from just below its block to the node's tip (at most `headers` above it).
 */
async function get(id: string, o: { url: string; proof?: string; headers: number }): Promise<void> {
  const r = await new ApiClient(o.url, { timeoutMs: 10_000 }).record(id);
  console.log(JSON.stringify(r, null, 2));
  if (o.proof === undefined) return;
  if (!r.proof || !r.block) throw new Error(`record ${r.id} is ${r.status}: no proof until it is in a block`);
  const made = await saveProofFile(o.proof, o.url, r, o.headers);
  console.error(
    `proof written to ${o.proof}: ${made.headers} headers up to height ${made.tip} (${made.confirmations} confirmation(s)), ${made.bytes} bytes (check it with: jbc record verify ${o.proof})`,
  );
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
/** `jbc record verify --witnesses FILE` (docs/light.md, "Witnessed proof files"). */
function verifyWitnessesOption(): Option {
  return new Option(
    "--witnesses <file>",
    "a team's witnesses (verifier keys, one a line): the record must be below a checkpoint they cosigned, checked offline",
  ).argParser(witnessesArg);
}

/** `jbc record verify --quorum N`. */
function verifyQuorumOption(): Option {
  return new Option("--quorum <n>", "witnesses that must have cosigned (default: a majority)").argParser(
    intArg(1, 1000),
  );
}

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
    .option(
      "--proof <file>",
      "write a self-contained proof file (record, position proof, headers) for jbc record verify",
    )
    .option(
      "--headers <n>",
      "with --proof, carry at most this many headers above the record's block",
      intArg(0, 99_000),
      10_000,
    )
    .action(async (id: string, o: { url: string; proof?: string; headers: number }) => {
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
    .description(
      "check a proof file offline (the work on the record) and, with --url or --state, on the best chain of headers",
    )
    .argument(
      "<file>",
      "proof file (jbc record get --proof), or { record, proof } as GET /api/records/:id answers",
    )
    .option("--url <url>", "check the headers of this node too (repeat for several nodes)", collect)
    .option("--state <file>", "use and update this light client state (jbc headers sync)")
    .addOption(verifyWitnessesOption())
    .addOption(verifyQuorumOption())
    .addOption(networkOption())
    .option(
      "--confirmations <n>",
      "confirmations required (the block itself is one)",
      intArg(1, 1_000_000),
      1,
    )
    .addOption(
      new Option("--min-work <hashes>", "work on top of the record required (a whole number, or 2^N)")
        .argParser(workArg)
        .default(0n, "0"),
    )
    .action(async (file: string, o: VerifyOptions, cmd: Command) => {
      try {
        process.exitCode = await verify(file, o, cmd);
      } catch (err) {
        console.error(`jbc record verify: ${errorMessage(err)}`);
        process.exitCode = LIGHT_EXIT.FAILED;
      }
    });
  return record;
}
