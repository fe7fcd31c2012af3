import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Command } from "commander";
import { authorDraftFromJson, authorPolicyToJson, signAuthorPolicy } from "../../consensus/authors.ts";
import { toHex } from "../../consensus/bytes.ts";
import { errorMessage } from "../../util/errors.ts";
import { readKeyFile } from "./keygen.ts";

/**
 * `jbc authors sign --key admin.json --in draft.json --out policy.json`: signs a team's author policy
 * (consensus/authors.ts; docs/operations.md, "Authorised authors"). The draft is the policy's JSON without
 * `type`, `admin` and `signature`: `{ network, sequence, authors: [{ publicKey, from, until?, name? }] }`,
 * checked as a node checks a policy; the admin key is the signing key's. Never overwrites a file.
 */
export function authorsCommand(): Command {
  const cmd = new Command("authors").description("sign a team's author policy (who may write records)");
  cmd
    .command("sign")
    .description("sign an author policy draft with the admin's key file")
    .requiredOption("--key <file>", "the admin's ed25519 key file (jbc keygen --out)")
    .requiredOption(
      "--in <file>",
      "the draft: { network, sequence, authors: [{ publicKey, from, until?, name? }] }",
    )
    .requiredOption("--out <file>", "where to write the signed policy (must not exist)")
    .action(async (o: { key: string; in: string; out: string }) => {
      try {
        const { secretKey, publicKey } = await readKeyFile(resolve(o.key));
        const json: unknown = JSON.parse(await readFile(resolve(o.in), "utf8"));
        const network = String((json as { network?: unknown } | null)?.network);
        const policy = signAuthorPolicy(
          { ...authorDraftFromJson(json, network), admin: publicKey },
          secretKey,
        );
        const out = resolve(o.out);
        const fh = await open(out, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
        try {
          await fh.writeFile(`${JSON.stringify(authorPolicyToJson(policy), null, 2)}\n`);
        } finally {
          await fh.close();
        }
        console.log(
          `wrote ${out}: network ${network}, sequence ${policy.sequence}, ${policy.authors.length} grant(s), admin ${toHex(publicKey)}`,
        );
      } catch (err) {
        console.error(`jbc authors sign: ${errorMessage(err)}`);
        process.exitCode = 1;
      }
    });
  return cmd;
}
