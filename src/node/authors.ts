/**
 * The author policy a node runs with (consensus/authors.ts), kept in its data directory: at every start the
 * policy given (`jbc node --authors FILE`) is checked against the one the node ran with before, so a
 * policy never goes back to a lower sequence or another admin key, never changes what was valid at or
 * below the chain's tip, and a data directory that ran under a policy is not opened without one.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuthorPolicy,
  AuthorPolicyError,
  authorPolicyFromJson,
  authorPolicyToJson,
  checkPolicyUpdate,
} from "../consensus/authors.ts";
import type { NetworkParams } from "../consensus/params.ts";
import { writeFileAtomic } from "../mempool/persist.ts";
import { errorMessage } from "../util/errors.ts";
import { EXIT, StartupError } from "./lifecycle.ts";

/** The file in a data directory holding the policy the node last ran with. */
export const AUTHORS_FILE = "authors.json";

/** Reads and checks an author policy file for `network`; AuthorPolicyError (or an I/O error) when it cannot. */
export async function readAuthorPolicyFile(path: string, network: string): Promise<AuthorPolicy> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new AuthorPolicyError("MALFORMED", `cannot read author policy ${path}: ${errorMessage(err)}`);
  }
  try {
    return authorPolicyFromJson(json, network);
  } catch (err) {
    if (err instanceof AuthorPolicyError) throw new AuthorPolicyError(err.code, `${path}: ${err.message}`);
    throw err;
  }
}

/**
 * Checks `params.authors` against the policy stored in `datadir` at chain height `tip`, then stores it.
 * Throws a StartupError (exit code USAGE) naming what is wrong; nothing is written then.
 */
export async function adoptAuthorPolicy(datadir: string, params: NetworkParams, tip: number): Promise<void> {
  const file = join(datadir, AUTHORS_FILE);
  let prev: AuthorPolicy | undefined;
  try {
    prev = await readAuthorPolicyFile(file, params.name);
  } catch (err) {
    const missing = (err as Error).message.includes("ENOENT");
    if (!missing) throw new StartupError(EXIT.USAGE, `the stored author policy: ${errorMessage(err)}`);
  }
  const next = params.authors;
  if (!next) {
    if (prev)
      throw new StartupError(
        EXIT.USAGE,
        `this data directory's chain runs under an author policy (sequence ${prev.sequence}, ${file}): start with --authors FILE`,
      );
    return;
  }
  try {
    checkPolicyUpdate(prev, next, tip);
  } catch (err) {
    if (err instanceof AuthorPolicyError) throw new StartupError(EXIT.USAGE, `--authors: ${err.message}`);
    throw err;
  }
  if (prev?.sequence !== next.sequence || prev === undefined)
    await writeFileAtomic(
      file,
      new TextEncoder().encode(`${JSON.stringify(authorPolicyToJson(next), null, 2)}\n`),
    );
}
