import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { Command } from "commander";
import { errorMessage } from "../../util/errors.ts";

/**
 * A signing key file, as `jbc keygen` writes it and `jbc record add --key` reads it: JSON with the
 * 32-byte ed25519 secret key (the RFC 8032 seed, which `signRecord` takes) and the public key, in hex.
 */
export interface KeyFile {
  type: "ed25519";
  publicKey: string;
  secretKey: string;
}

/** A key file could not be written or read; `code` says why. */
export class KeyFileError extends Error {
  constructor(
    readonly code: "EXISTS" | "INVALID" | "IO",
    message: string,
  ) {
    super(message);
    this.name = "KeyFileError";
  }
}

/**
 * Creates `path` with a fresh ed25519 key: mode 0600, and with O_EXCL so an existing file (or a
 * symlink, even a dangling one) is never overwritten or followed. Returns the key written.
 */
export async function writeNewKeyFile(path: string): Promise<KeyFile> {
  const { secretKey, publicKey } = ed25519.keygen();
  const key: KeyFile = {
    type: "ed25519",
    publicKey: bytesToHex(publicKey),
    secretKey: bytesToHex(secretKey),
  };
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      throw new KeyFileError("EXISTS", `${path} already exists; not overwriting it (choose another --out)`);
    throw new KeyFileError("IO", `cannot create ${path}: ${errorMessage(err)}`);
  }
  try {
    await fh.writeFile(`${JSON.stringify(key, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return key;
}

/** Reads and checks a key file: the public key must be the one the secret key gives. */
export async function readKeyFile(path: string): Promise<{ secretKey: Uint8Array; publicKey: Uint8Array }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new KeyFileError("INVALID", `cannot read key file ${path}: ${errorMessage(err)}`);
  }
  const k = parsed as Partial<Record<keyof KeyFile, unknown>> | null;
  const hex32 = (v: unknown) => typeof v === "string" && /^[0-9a-f]{64}$/i.test(v);
  if (
    typeof k !== "object" ||
    k === null ||
    k.type !== "ed25519" ||
    !hex32(k.secretKey) ||
    !hex32(k.publicKey)
  )
    throw new KeyFileError("INVALID", `${path} is not a jbc ed25519 key file`);
  const secretKey = hexToBytes(k.secretKey as string);
  const publicKey = ed25519.getPublicKey(secretKey);
  if (bytesToHex(publicKey) !== (k.publicKey as string).toLowerCase())
    throw new KeyFileError("INVALID", `${path}: publicKey does not belong to secretKey`);
  return { secretKey, publicKey };
}

/**
 * `jbc keygen --out key.json`: a new ed25519 key for signing records; `jbc keygen --network-key FILE`: a
 * new pre-shared network key for a closed network, in the swarm.key format (src/net/private.ts).
 */
export function keygenCommand(): Command {
  return new Command("keygen")
    .description("create an ed25519 key file for signing records (mode 0600, never overwritten)")
    .option("--out <file>", "where to write the signing key (must not exist)")
    .option(
      "--network-key <file>",
      "instead, write a new network key for a closed network (swarm.key format)",
    )
    .action(async (o: { out?: string; networkKey?: string }, cmd: Command) => {
      if ((o.out === undefined) === (o.networkKey === undefined))
        cmd.error("error: give exactly one of --out <file> and --network-key <file>", { exitCode: 2 });
      try {
        if (o.networkKey !== undefined) {
          const { writeNewNetworkKeyFile } = await import("../../net/private.ts");
          const key = await writeNewNetworkKeyFile(resolve(o.networkKey));
          console.log(`wrote ${key.path}\nnetwork key fingerprint ${key.fingerprint}`);
          console.log(
            "copy it to every node of the network (keep it secret), then: jbc node --network-key FILE",
          );
          return;
        }
        const path = resolve(o.out!);
        const key = await writeNewKeyFile(path);
        console.log(`wrote ${path}\npublic key ${key.publicKey}`);
      } catch (err) {
        console.error(`jbc keygen: ${errorMessage(err)}`);
        process.exitCode = 1;
      }
    });
}
