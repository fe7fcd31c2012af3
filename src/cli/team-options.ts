/**
 * Options of a team's closed network (docs/operations.md, "A team's closed network"): `--network-key`,
 * `--allow-peers`, `--allow-peers-file`. Each reads and checks its file when the command line (or the
 * config file, or the environment) is parsed, so a bad one stops the command with its message and exit
 * code 2 before anything starts.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { InvalidArgumentError, Option } from "commander";
import { parseWitnesses } from "../consensus/checkpoint.ts";
import type { NoteVerifier } from "../consensus/note.ts";
import {
  type NetworkKey,
  NetworkKeyError,
  parsePeerIds,
  readNetworkKeyFile,
  readPeerIdsFile,
} from "../net/private.ts";

/** Turns a NetworkKeyError into commander's usage error (exit 2); anything else propagates. */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NetworkKeyError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** `--network-key FILE`: a swarm.key file, read and checked now. */
export function networkKeyArg(path: string): NetworkKey {
  return usage(() => readNetworkKeyFile(resolve(path)));
}

/** `--allow-peers a,b`: libp2p peer ids, each checked; repeatable, the lists add up. */
export function allowPeersArg(value: string, previous: string[] = []): string[] {
  return [...previous, ...usage(() => parsePeerIds(value, "--allow-peers"))];
}

/** `--allow-peers-file FILE`: peer ids, one a line or comma-separated, `#` comments. */
export function allowPeersFileArg(path: string): string[] {
  return usage(() => readPeerIdsFile(resolve(path)));
}

/** The closed-network options of `jbc node` (and, passed through, of `jbc devnet`). */
export function closedNetworkOptions(): Option[] {
  return [
    new Option(
      "--network-key <file>",
      "pre-shared network key (swarm.key format, `jbc keygen --network-key FILE`): only nodes with it connect",
    ).argParser(networkKeyArg),
    new Option(
      "--allow-peers <ids>",
      "peer ids allowed to connect, comma-separated (repeatable): others are refused",
    )
      .argParser(allowPeersArg)
      .default([]),
    new Option("--allow-peers-file <file>", "peer ids allowed to connect, one a line").argParser(
      allowPeersFileArg,
    ),
  ];
}

/** `--witnesses FILE`: verifier keys (`<name>+<key id>+<base64 key>`), one a line, `#` comments. */
export function witnessesArg(path: string): NoteVerifier[] {
  try {
    return parseWitnesses(readFileSync(resolve(path), "utf8"));
  } catch (err) {
    throw new InvalidArgumentError(`${path}: ${(err as Error).message}`);
  }
}

/** The witnessed-checkpoint options of `jbc node` (docs/operations.md, "Witnessed checkpoints"). */
export function witnessOptions(): Option[] {
  const positive = (name: string) => (v: string) => {
    if (!/^[1-9][0-9]{0,5}$/.test(v)) throw new InvalidArgumentError(`${name} is a whole number from 1`);
    return Number(v);
  };
  return [
    new Option(
      "--witnesses <file>",
      "the team's witnesses: verifier keys, one a line (GET /api/checkpoint's self.vkey of each node)",
    ).argParser(witnessesArg),
    new Option(
      "--quorum <n>",
      "witnesses whose cosignatures make a checkpoint final (default: a majority of --witnesses)",
    ).argParser(positive("--quorum")),
    new Option(
      "--checkpoint-depth <k>",
      "depth below the tip of the block each node signs (default 6)",
    ).argParser(positive("--checkpoint-depth")),
    new Option("--witness-name <name>", "this node's name in signed notes (default its peer id)"),
  ];
}
