/**
 * A node's libp2p identity on disk, so its peer id survives restarts: multiaddrs with /p2p/<id> handed to
 * other nodes stay valid, and peers' scores and bans keep applying to the same node.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";

/** The identity file is unreadable or holds no libp2p private key. */
export class IdentityError extends Error {
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot use the node identity in ${path}: ${reason}`, options);
    this.name = "IdentityError";
  }
}

/**
 * Reads the Ed25519 key at `path` (libp2p protobuf encoding), or creates one there (mode 0600, written to
 * a temporary file and renamed, so a crash never leaves half a key). Pass the result as
 * `NetworkOptions.privateKey`.
 */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new IdentityError(path, "unreadable", { cause: err });
  }
  if (bytes) {
    try {
      return privateKeyFromProtobuf(bytes);
    } catch (err) {
      throw new IdentityError(path, "not a libp2p private key", { cause: err });
    }
  }
  const key = await generateKeyPair("Ed25519");
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 });
  await rename(tmp, path);
  return key;
}
