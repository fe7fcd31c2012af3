/**
 * A closed network: the pre-shared network key of libp2p's private-network protector (@libp2p/pnet, the
 * `swarm.key` format IPFS and go-libp2p use) and the optional allow-list of peer ids.
 *
 * With a key, every connection, inbound or outbound, over any transport, starts with a nonce exchange
 * and is then XSalsa20-encrypted under the key before Noise even begins: a node without the key (or with
 * another) sends bytes the other side decrypts to noise, so the Noise handshake fails and the socket is
 * closed before any jbc protocol, gossip or identify message is read. The key hides nothing Noise does
 * not already protect; it decides who may talk at all (docs/operations.md, "A team's closed network").
 *
 * The allow-list is checked by the connection gater after Noise has authenticated the remote peer id:
 * a keyed node outside the list is refused before any stream opens.
 */
import { constants, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { peerIdFromString } from "@libp2p/peer-id";
import { sha256 } from "../consensus/hash.ts";
import { errorMessage } from "../util/errors.ts";

/** The first line of a v1 swarm key file. */
export const SWARM_KEY_HEADER = "/key/swarm/psk/1.0.0/";
/** The encoding line jbc writes and reads (the only one @libp2p/pnet decodes reliably). */
export const SWARM_KEY_ENCODING = "/base16/";
/** Bytes of a network key. */
export const NETWORK_KEY_BYTES = 32;

/** A network key or allow-list file could not be read, parsed or written; `code` says why. */
export class NetworkKeyError extends Error {
  constructor(
    readonly code: "MALFORMED" | "IO" | "EXISTS" | "BAD_PEER_ID",
    message: string,
  ) {
    super(message);
    this.name = "NetworkKeyError";
  }
}

/** A network key read from its file: the 32 key bytes, where it came from, and a fingerprint for logs. */
export class NetworkKey {
  constructor(
    readonly key: Uint8Array,
    readonly path: string,
  ) {
    if (key.length !== NETWORK_KEY_BYTES) throw new RangeError(`a network key is ${NETWORK_KEY_BYTES} bytes`);
  }

  /**
   * The first 8 bytes of the key's SHA-256, in hex: two nodes with the same fingerprint have the same
   * key, and logging it reveals nothing usable.
   */
  get fingerprint(): string {
    return networkKeyFingerprint(this.key);
  }

  /** The swarm.key bytes @libp2p/pnet's `preSharedKey` takes. */
  get swarmKey(): Uint8Array {
    return new TextEncoder().encode(formatNetworkKey(this.key));
  }

  /** Settings print the path, never the key (`jbc config print`). */
  toString(): string {
    return this.path;
  }

  /** Logs and JSON show the path and fingerprint, never the key. */
  toJSON(): { path: string; fingerprint: string } {
    return { path: this.path, fingerprint: this.fingerprint };
  }
}

/** Hex of the first 8 bytes of SHA-256 of `key`: safe to log, equal exactly when the keys are. */
export function networkKeyFingerprint(key: Uint8Array): string {
  return Array.from(sha256(key).subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A new random network key. */
export function generateNetworkKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NETWORK_KEY_BYTES));
}

/** The swarm.key text of `key`: the header line, `/base16/`, the key in lowercase hex, a newline. */
export function formatNetworkKey(key: Uint8Array): string {
  const hex = Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${SWARM_KEY_HEADER}\n${SWARM_KEY_ENCODING}\n${hex}\n`;
}

/**
 * The 32 key bytes of a swarm.key text, or a NetworkKeyError MALFORMED naming what is wrong: exactly the
 * header line, `/base16/` and 64 hex digits, with `\n` or `\r\n` line ends and nothing after but blank
 * lines. Stricter than @libp2p/pnet, which would take a short key or trailing junk.
 */
export function parseNetworkKey(text: string, source = "network key"): Uint8Array {
  const lines = text.split(/\r?\n/);
  while (lines.length > 3 && lines[lines.length - 1]!.trim() === "") lines.pop();
  const bad = (why: string): NetworkKeyError =>
    new NetworkKeyError(
      "MALFORMED",
      `${source} is not a network key file: ${why} (expected "${SWARM_KEY_HEADER}", "${SWARM_KEY_ENCODING}" and 64 hex digits on three lines; jbc keygen --network-key FILE writes one)`,
    );
  if (lines[0] !== SWARM_KEY_HEADER) throw bad(`the first line is ${JSON.stringify(lines[0] ?? "")}`);
  if (lines[1] !== SWARM_KEY_ENCODING)
    throw bad(`the encoding line is ${JSON.stringify(lines[1] ?? "")}, only ${SWARM_KEY_ENCODING} is read`);
  const hex = lines[2] ?? "";
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw bad("the key line is not 64 hex digits");
  if (lines.length > 3) throw bad("there is more after the key line");
  const key = new Uint8Array(NETWORK_KEY_BYTES);
  for (let i = 0; i < NETWORK_KEY_BYTES; i++) key[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return key;
}

/** Reads and checks a network key file (synchronously: it is read once, at startup). */
export function readNetworkKeyFile(path: string): NetworkKey {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new NetworkKeyError("IO", `cannot read network key file ${path}: ${errorMessage(err)}`);
  }
  return new NetworkKey(parseNetworkKey(text, path), path);
}

/**
 * Creates `path` with a new network key in the swarm.key format: mode 0600, O_EXCL so an existing file
 * (or a symlink) is never overwritten or followed. Returns the key written.
 */
export async function writeNewNetworkKeyFile(path: string): Promise<NetworkKey> {
  const key = generateNetworkKey();
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      throw new NetworkKeyError("EXISTS", `${path} already exists; not overwriting it`);
    throw new NetworkKeyError("IO", `cannot create ${path}: ${errorMessage(err)}`);
  }
  try {
    await fh.writeFile(formatNetworkKey(key));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return new NetworkKey(key, path);
}

/**
 * Peer ids from a comma- or line-separated list (`#` starts a comment), each checked: a NetworkKeyError
 * BAD_PEER_ID names the first that is not a libp2p peer id.
 */
export function parsePeerIds(text: string, source = "allow-list"): string[] {
  const ids: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    for (const item of line.replace(/#.*$/, "").split(",")) {
      const id = item.trim();
      if (id === "") continue;
      try {
        ids.push(peerIdFromString(id).toString());
      } catch {
        throw new NetworkKeyError("BAD_PEER_ID", `${source}: "${id}" is not a libp2p peer id`);
      }
    }
  }
  return ids;
}

/** Reads an allow-list file: peer ids, one a line or comma-separated, `#` comments. */
export function readPeerIdsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new NetworkKeyError("IO", `cannot read allow-list file ${path}: ${errorMessage(err)}`);
  }
  return parsePeerIds(text, path);
}
