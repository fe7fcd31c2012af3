import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { z } from "zod";
import { ApiClient, ApiClientError } from "../../api/client.ts";
import type { NetworkParams } from "../../consensus/params.ts";
import { type RecordProof, verifyRecordProof } from "../../consensus/proof.ts";
import { encodeRecord } from "../../consensus/records.ts";
import { RecordJson, recordFromJson } from "../../mempool/json.ts";
import { errorMessage } from "../../util/errors.ts";
import { networkOption } from "../network-option.ts";
import { intArg } from "../options.ts";

/**
 * A saved proof: the record (in its JSON form) and its inclusion proof. `GET /api/records/:id` answers a
 * superset of this, so its response saved as is can be verified.
 */
export const ProofFile = z.object({
  record: RecordJson,
  proof: z.object({ header: z.string(), index: z.number(), branch: z.array(z.string()) }),
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
  const result = verifyRecordProof(saved.proof as RecordProof, encodeRecord(rec.record), {
    powLimit: o.network.powLimit,
  });
  if (!result.valid) {
    console.log(`INVALID (${result.code}): ${result.reason}`);
    return false;
  }
  console.log(
    `valid: record ${result.id} is in block ${result.blockHash} (${new Date(result.time * 1000).toISOString()})`,
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

/** `jbc record ...`: records on the chain. `verify` today; `add`, `get` and `list` come with the API routes. */
export function recordCommand(): Command {
  const record = new Command("record").description("submit, find and prove records");
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
