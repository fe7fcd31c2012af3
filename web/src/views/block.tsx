import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, type BlockDetail, type RecordView } from "../../../src/api/schemas.ts";
import { recordOffsets } from "../../../src/consensus/block.ts";
import {
  type BlockHeader,
  bitsToTarget,
  blockWork,
  fromHex,
  hashToHex,
  headerHash,
  hexToHash,
  merkleRoot,
  sha256d,
} from "../../../src/consensus/index.ts";
import { type SignedRecord, verifyRecordSignature } from "../../../src/consensus/records.ts";
import { errorMessage } from "../../../src/util/errors.ts";
import { api } from "../api.ts";
import { Banner, Hash, HeightLink, Miner, Panel } from "../components.tsx";
import { clockTime, dateTime, difficulty, duration, groupDigits } from "../format.ts";
import { blockHref, Link, recordHref } from "../router.tsx";
import { useExplorer } from "../state.ts";

type Load =
  | { state: "loading" }
  | { state: "ok"; block: BlockDetail }
  | { state: "missing"; id: string; reason?: string }
  | { state: "failed"; id: string; message: string; unreachable: boolean };

/**
 * What this page recomputes from the block with the node's own consensus code (src/consensus, which runs
 * in the browser): the header hash, the target and the work the bits encode, and (below, from the block's
 * raw bytes) the merkle root. So the page shows these follow from the block rather than taking the node's
 * word for them.
 */
interface Recomputed {
  hash: string;
  /** 64 hex digits, or undefined for bits that encode no valid target. */
  target: string | undefined;
  work: string;
}

/**
 * The merkle root recomputed from every record of the block's raw bytes (the view pages its records, so
 * the page alone does not have them all), and whether the records shown are the block's.
 */
type MerkleCheck =
  | { state: "pending" }
  | { state: "done"; root: string; count: number }
  | { state: "failed"; message: string };

/** Records hashed between two yields to the browser while the merkle root is recomputed. */
const HASH_CHUNK = 2048;

async function merkleFromRaw(raw: Uint8Array, live: () => boolean): Promise<Uint8Array[] | undefined> {
  const offsets = recordOffsets(raw);
  const ids: Uint8Array[] = new Array(offsets.length - 1);
  for (let i = 0; i < ids.length; i++) {
    ids[i] = sha256d(raw.subarray(offsets[i]!, offsets[i + 1]!));
    // A block of 199,979 records takes a while: the page stays responsive, and stops when left.
    if (i % HASH_CHUNK === HASH_CHUNK - 1) {
      await new Promise((r) => setTimeout(r, 0));
      if (!live()) return undefined;
    }
  }
  return ids;
}

/** A signed record's signature checked here, for records the node has not checked (signatureValid absent). */
function verifyHere(r: RecordView & { type: "signed" }): boolean {
  try {
    const rec: SignedRecord = {
      type: "signed",
      data: r.encoding === "hex" ? fromHex(r.data) : new TextEncoder().encode(r.data),
      publicKey: fromHex(r.publicKey),
      signature: fromHex(r.signature),
    };
    return verifyRecordSignature(rec);
  } catch {
    return false;
  }
}

function recompute(b: BlockDetail): Recomputed {
  const bits = Number.parseInt(b.header.bits, 16);
  const header: BlockHeader = {
    version: b.header.version,
    prevHash: hexToHash(b.header.prevHash),
    merkleRoot: hexToHash(b.header.merkleRoot),
    time: b.header.time,
    bits,
    nonce: b.header.nonce,
  };
  const target = bitsToTarget(bits);
  return {
    hash: headerHash(header),
    target: target === null ? undefined : target.toString(16).padStart(64, "0"),
    work: blockWork(bits).toString(),
  };
}

/** A BlockError's data as one line: its code, then its details ("BAD_SIGNATURE, index 1"). */
function ruleText(data: Record<string, unknown>): string {
  const details = Object.entries(data)
    .filter(([k]) => k !== "code")
    .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  return [String(data["code"] ?? "unknown rule"), ...details].join(", ");
}

/** The hash written over its target, digit by digit: shared prefix dimmed, the deciding digit marked. */
function PowCompare(props: { hash: string; target: string }) {
  const { hash, target } = props;
  let k = 0;
  while (k < 64 && hash[k] === target[k]) k++;
  const below = k === 64 || hash[k]! < target[k]!;
  const row = (label: string, v: string, who: "hash" | "target") => (
    <div class="pow-row">
      <span class="pow-label">{label}</span>
      <code class="pow-digits" data-testid={`pow-${who}`}>
        <span class="same">{v.slice(0, k)}</span>
        {k < 64 && <span class={`decide ${who} ${below ? "ok" : "bad"}`}>{v[k]}</span>}
        <span class="rest">{v.slice(k + 1)}</span>
      </code>
    </div>
  );
  return (
    <div class="pow">
      {row("hash", hash, "hash")}
      {row("target", target, "target")}
      <p class={below ? "ok-text" : "error-text"} data-testid="pow-verdict">
        {k === 64
          ? "hash = target: valid (hash ≤ target)."
          : below
            ? `hash < target: ${k === 0 ? "the first digit" : `the first ${k} digits are equal and digit ${k + 1}`} decides (${hash[k]} < ${target[k]}), so the proof of work is valid.`
            : `hash > target at digit ${k + 1} (${hash[k]} > ${target[k]}): this block's proof of work is NOT valid.`}
      </p>
    </div>
  );
}

function RecordData(props: { r: RecordView }) {
  const { r } = props;
  if (r.type === "miner")
    return (
      <span>
        miner <Miner name={r.miner} />, height {r.height}, extra-nonce {r.extraNonce}
      </span>
    );
  return (
    <div>
      <span class="tag">{r.encoding === "utf8" ? "text" : "hex"}</span>{" "}
      <span class={r.encoding === "utf8" ? "record-text" : "record-hex"}>{r.data || <em>(empty)</em>}</span>
      {r.type === "signed" && (
        <div class="signed">
          <div>
            key <code>{r.publicKey}</code>
          </div>
          <div>
            signature <code>{r.signature}</code>
          </div>
          <SignatureVerdict r={r} />
        </div>
      )}
    </div>
  );
}

/** The node's verdict on a signature when it has one (it never re-verifies on a read), else this browser's. */
function SignatureVerdict(props: { r: RecordView & { type: "signed" } }) {
  const { r } = props;
  const node = r.signatureValid;
  const ok = node ?? verifyHere(r);
  return (
    <div class={ok ? "ok-text" : "error-text"}>
      {ok ? "✓ signature verifies" : "✗ signature does not verify"}
      {node === undefined && (
        <span class="muted"> (checked in this browser: the node has not checked it)</span>
      )}
    </div>
  );
}

/** Where this page of records sits in the block, and buttons to the pages around it. */
function RecordPager(props: { b: BlockDetail; onPage: (from: number) => void; pageSize: number }) {
  const { b, onPage, pageSize } = props;
  if (b.recordsFrom === 0 && b.recordsNext === null) return null;
  const last = b.recordsFrom + b.records.length - 1;
  return (
    <p class="pager" data-testid="record-pager">
      <button
        type="button"
        disabled={b.recordsFrom === 0}
        onClick={() => onPage(Math.max(0, b.recordsFrom - pageSize))}
      >
        ← previous
      </button>{" "}
      <span data-testid="record-range">
        records {groupDigits(String(b.recordsFrom))}–{groupDigits(String(last))} of{" "}
        {groupDigits(String(b.recordCount))}
      </span>{" "}
      <button
        type="button"
        disabled={b.recordsNext === null}
        data-testid="record-next"
        onClick={() => b.recordsNext !== null && onPage(b.recordsNext)}
      >
        next →
      </button>
    </p>
  );
}

/** Records a page of the block view holds (the node's default). */
const PAGE_SIZE = 100;

/** The merkle check's line: waiting for the raw block, the root it gives, or why there is none. */
function MerkleVerdict(props: { check: MerkleCheck; want: string; pageMatches: boolean }) {
  const { check, want, pageMatches } = props;
  if (check.state === "pending")
    return (
      <div class="muted" data-testid="merkle-pending">
        recomputing from the block's raw bytes…
      </div>
    );
  if (check.state === "failed")
    return (
      <div class="error-text" data-testid="merkle-check">
        ✗ could not read the raw block: {check.message}
      </div>
    );
  const ok = check.root === want && pageMatches;
  const n = check.count;
  return (
    <div class={ok ? "ok-text" : "error-text"} data-testid="merkle-check">
      {ok
        ? `✓ recomputed in this browser from the block's ${groupDigits(String(n))} record${n === 1 ? "" : "s"} (its raw bytes)`
        : check.root !== want
          ? "✗ the block's records do not hash to this root"
          : "✗ the records shown are not the block's"}
    </div>
  );
}

/** Every field of one block, its proof of work against its target, its records and its neighbours. */
export function BlockPage(props: { id: string }) {
  const { id } = props;
  const s = useExplorer();
  const [load, setLoad] = useState<Load>({ state: "loading" });
  const [from, setFrom] = useState(0);
  const [merkle, setMerkle] = useState<MerkleCheck>({ state: "pending" });
  const [ids, setIds] = useState<Uint8Array[] | undefined>(undefined);
  const tipHash = s.status?.tip.hash;
  const stream = s.stream;

  useEffect(() => setFrom(0), [id]);

  // Refetched when the tip moves (confirmations, children and main/side status change with it) and when
  // the stream reconnects after the node was away.
  useEffect(() => {
    let live = true;
    const valid = /^(?:\d{1,10}|[0-9a-fA-F]{64})$/.test(id);
    if (!valid) {
      setLoad({ state: "missing", id, reason: "This is not a block height or a 64-digit block hash." });
      return;
    }
    api.block(id, { from }).then(
      (block) => live && setLoad({ state: "ok", block }),
      (err: unknown) => {
        if (!live) return;
        if (err instanceof ApiError && err.status === 404) setLoad({ state: "missing", id });
        else
          setLoad({
            state: "failed",
            id,
            message: errorMessage(err),
            unreachable: err instanceof ApiError && err.code === "UNREACHABLE",
          });
      },
    );
    return () => {
      live = false;
    };
  }, [id, tipHash, stream, from]);

  const block = load.state === "ok" ? load.block : undefined;
  const recomputed = useMemo(() => (block ? recompute(block) : undefined), [block]);

  // The merkle root from the block's raw bytes: once per block, whichever page is shown.
  const blockHash = block?.hash;
  useEffect(() => {
    if (!blockHash) return;
    let live = true;
    setMerkle({ state: "pending" });
    setIds(undefined);
    api
      .rawBlock(blockHash)
      .then((raw) => merkleFromRaw(raw, () => live))
      .then(
        (all) => {
          if (!live || !all) return;
          setIds(all);
          // Display hashes are byte-reversed; the tree hashes internal byte order.
          setMerkle({ state: "done", root: hashToHex(merkleRoot(all)), count: all.length });
        },
        (err: unknown) => live && setMerkle({ state: "failed", message: errorMessage(err) }),
      );
    return () => {
      live = false;
    };
  }, [blockHash]);

  useEffect(() => {
    document.title = block ? `Block ${block.height} · jbc` : "Block · jbc";
  }, [block?.hash]);

  if (load.state === "loading") return <p class="empty">Loading block {id}…</p>;
  if (load.state === "missing")
    return (
      <div class="page-error" data-testid="block-not-found">
        <h1>Block not found</h1>
        <p>
          This node knows no block <code class="break">{load.id}</code>.
        </p>
        <p class="muted">
          {load.reason ??
            "A block mined elsewhere appears here once this node receives it; a height names a block of this node's main chain."}
        </p>
        <p>
          <Link href="/">← back to the chain</Link>
        </p>
      </div>
    );
  if (load.state === "failed")
    return (
      <div class="page-error" data-testid="block-error">
        <h1>{load.unreachable ? "Node unreachable" : "Could not load the block"}</h1>
        <p>
          Block <code class="break">{load.id}</code>: {load.message}
        </p>
        <p class="muted">The page retries when the node's stream comes back.</p>
      </div>
    );

  const b = load.block;
  const invalid = b.status === "invalid" || b.status === "invalid-child";
  const statusTag = invalid ? (
    <span class="tag bad" data-testid="block-branch">
      invalid
    </span>
  ) : b.branch === "main" ? (
    <span class="tag ok" data-testid="block-branch">
      main chain
    </span>
  ) : (
    <span class="tag stale" data-testid="block-branch">
      side branch (stale)
    </span>
  );
  const mine = recomputed!;
  // The records shown must be the block's: each id as the raw bytes give it at that index.
  const pageMatches = !ids || b.records.every((r) => ids[r.index] && hashToHex(ids[r.index]!) === r.id);
  const hashOk = mine.hash === b.hash;
  return (
    <div class="block-page" data-testid="block-page" data-hash={b.hash}>
      <p class="crumbs">
        <Link href="/">← chain</Link>
      </p>
      <h1>
        Block <span data-testid="block-height">{b.height}</span> {statusTag}
      </h1>
      <p class="block-hash">
        <Hash hash={b.hash} full link={false} />
        <span class={hashOk ? "ok-text" : "error-text"} data-testid="hash-check">
          {hashOk
            ? " ✓ the double SHA-256 of this header, recomputed in this browser"
            : ` ✗ this header hashes to ${mine.hash}, not to the hash the node gives`}
        </span>
      </p>
      {b.branch === "side" && !invalid && (
        <Banner kind="warn">
          This block is not on the main chain: another block at height {b.height} has more work behind it. Its
          records count for nothing unless its branch overtakes.
        </Banner>
      )}
      {invalid && (
        <Banner kind="error">
          {b.invalid
            ? `This block broke a rule: ${ruleText(b.invalid)}.`
            : "This block descends from an invalid block."}
        </Banner>
      )}
      <div class="grid2">
        <Panel title="Header" id="header">
          <table class="fields" data-testid="header-fields">
            <tbody>
              <tr>
                <th>version</th>
                <td data-field="version">{b.header.version}</td>
              </tr>
              <tr>
                <th>previous block</th>
                <td data-field="prevHash">
                  {/^0+$/.test(b.header.prevHash) ? (
                    <code>{b.header.prevHash} (none: genesis)</code>
                  ) : (
                    <Hash hash={b.header.prevHash} full />
                  )}
                </td>
              </tr>
              <tr>
                <th>merkle root</th>
                <td data-field="merkleRoot">
                  <code class="break">{b.header.merkleRoot}</code>
                  <MerkleVerdict check={merkle} want={b.header.merkleRoot} pageMatches={pageMatches} />
                </td>
              </tr>
              <tr>
                <th>time</th>
                <td data-field="time">
                  {b.header.time}{" "}
                  <span class="muted">
                    = {dateTime(b.header.time)} ({clockTime(b.header.time)} here)
                  </span>
                  {b.sincePrev !== null && (
                    <span class="muted">, {duration(b.sincePrev)} after its parent</span>
                  )}
                </td>
              </tr>
              <tr>
                <th>bits</th>
                <td data-field="bits">
                  <code>{b.header.bits}</code>{" "}
                  <span class="muted">(difficulty {difficulty(b.difficulty)})</span>
                </td>
              </tr>
              <tr>
                <th>nonce</th>
                <td data-field="nonce">{b.header.nonce}</td>
              </tr>
              <tr>
                <th>miner</th>
                <td data-field="miner">
                  <Miner name={b.miner} />
                </td>
              </tr>
              <tr>
                <th>size</th>
                <td data-field="size">{b.size} bytes</td>
              </tr>
              <tr>
                <th>confirmations</th>
                <td data-field="confirmations">{b.confirmations}</td>
              </tr>
              <tr>
                <th>status</th>
                <td data-field="status">
                  {b.branch}, {b.status}
                </td>
              </tr>
            </tbody>
          </table>
        </Panel>
        <Panel
          title="Proof of work"
          id="pow"
          hint="A block is valid only if its hash, read as a 256-bit number, is at most the target its bits encode."
        >
          <PowCompare hash={mine.hash} target={mine.target ?? b.target} />
          <table class="fields">
            <tbody>
              <tr>
                <th>work</th>
                <td data-field="work">
                  {groupDigits(mine.work)} <span class="muted">expected hashes for this block</span>
                </td>
              </tr>
              <tr>
                <th>chain work</th>
                <td data-field="chainWork">
                  {groupDigits(b.chainWork)}{" "}
                  <span class="muted">from genesis to here; the heaviest chain wins</span>
                </td>
              </tr>
            </tbody>
          </table>
          <h3>In the tree</h3>
          <ul class="neighbours" data-testid="neighbours">
            <li>
              parent:{" "}
              {b.height === 0 ? (
                <span class="muted">none (genesis)</span>
              ) : (
                <>
                  <HeightLink height={b.height - 1} hash={b.header.prevHash} />{" "}
                  <Hash hash={b.header.prevHash} />
                </>
              )}
            </li>
            {b.children.length === 0 ? (
              <li class="muted">no children yet{b.branch === "main" ? ": this is the tip" : ""}</li>
            ) : (
              b.children.map((c) => (
                <li key={c.hash} data-child={c.hash}>
                  child: <HeightLink height={c.height} hash={c.hash} /> <Hash hash={c.hash} />{" "}
                  <span class={`tag ${c.main ? "ok" : "stale"}`}>{c.main ? "main" : "side"}</span>
                </li>
              ))
            )}
          </ul>
        </Panel>
      </div>
      <Panel
        title={`Records (${groupDigits(String(b.recordCount))})`}
        id="records"
        hint="Record 0 is the miner record: who mined the block, and its height so every block's merkle root differs."
      >
        <RecordPager b={b} onPage={setFrom} pageSize={PAGE_SIZE} />
        <table class="records" data-testid="records">
          <thead>
            <tr>
              <th class="num">#</th>
              <th>type</th>
              <th>id</th>
              <th class="num">size</th>
              <th>data</th>
            </tr>
          </thead>
          <tbody>
            {b.records.map((r) => (
              <tr key={r.index} data-record={r.index}>
                <td class="num">{r.index}</td>
                <td>{r.type}</td>
                <td>
                  <Link href={recordHref(r.id)}>
                    <code class="break small rid">{r.id}</code>
                  </Link>
                </td>
                <td class="num">{r.size}</td>
                <td>
                  <RecordData r={r} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <RecordPager b={b} onPage={setFrom} pageSize={PAGE_SIZE} />
        <p class="muted small">
          Raw block: <a href={`/api/blocks/${b.hash}/raw`}>/api/blocks/{b.hash.slice(0, 12)}…/raw</a> · JSON:{" "}
          <a href={`/api/blocks/${b.hash}`}>/api/blocks/{b.hash.slice(0, 12)}…</a> · permalink:{" "}
          <Link href={blockHref(b.hash)}>/block/{b.hash.slice(0, 12)}…</Link>
        </p>
      </Panel>
    </div>
  );
}
