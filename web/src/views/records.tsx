import { useEffect, useState } from "preact/hooks";
import {
  ApiError,
  type AuthorRecords,
  type RecordBody,
  type RecordDetail,
} from "../../../src/api/schemas.ts";
import { verifyRecordProof } from "../../../src/consensus/proof.ts";
import { type BlockRecord, encodeRecord } from "../../../src/consensus/records.ts";
import { errorMessage } from "../../../src/util/errors.ts";
import { api } from "../api.ts";
import { Banner, Hash, HeightLink, Miner, Panel } from "../components.tsx";
import { dateTime, duration } from "../format.ts";
import { useLight, useMarks } from "../light/store.ts";
import { authorHref, blockHref, Link, navigate, recordHref } from "../router.tsx";
import { type ExplorerState, useExplorer } from "../state.ts";
import { workText } from "./light.tsx";

/**
 * Records in the explorer: the live pending panel, the record page with its inclusion proof checked here
 * with the node's own consensus code (src/consensus/proof.ts), an author's records, and the one search box.
 */

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** A short id, linked to its record page. */
function RecordLink(props: { id: string }) {
  return (
    <Link href={recordHref(props.id)}>
      <code class="hash" title={props.id}>
        {props.id.slice(0, 8)}…{props.id.slice(-8)}
      </code>
    </Link>
  );
}

/** The mempool: count, bytes, oldest age and the first pending ids, updated as record events arrive. */
export function PendingPanel(props: { s: ExplorerState }) {
  const m = props.s.mempool;
  return (
    <Panel
      title="Pending records"
      id="pending"
      hint="Records waiting in this node's mempool for the next block, oldest first (the order blocks take them in)."
    >
      {!m ? (
        <p class="empty">Loading…</p>
      ) : (
        <>
          <p data-testid="mempool-summary">
            <strong>{m.count}</strong> pending, {m.bytes} bytes
            {m.count > 0 ? `, oldest waiting ${duration(m.oldestAgeMs / 1000)}` : ""}
          </p>
          {m.ids.length === 0 ? (
            <p class="empty">No records waiting.</p>
          ) : (
            <ul class="pending-list" data-testid="pending-list">
              {m.ids.map((id) => (
                <li key={id} data-id={id}>
                  <RecordLink id={id} />
                  {props.s.unconfirmed.has(id) && <span class="tag warn">back after a reorg</span>}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Panel>
  );
}

const utf8 = new TextEncoder();

function dataBytes(data: string, encoding: "utf8" | "hex" | "base64"): Uint8Array {
  if (encoding === "utf8") return utf8.encode(data);
  if (encoding === "hex") return Uint8Array.from(data.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
  return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
}

const hexBytes = (hex: string): Uint8Array => dataBytes(hex, "hex");

/** The record's consensus bytes, rebuilt here from its JSON form (what the proof's leaf hashes). */
export function recordFromBody(r: RecordBody): BlockRecord {
  if (r.type === "miner")
    return { type: "miner", height: r.height, extraNonce: BigInt(r.extraNonce), miner: r.miner };
  const data = dataBytes(r.data, r.encoding);
  if (r.type === "signed" && r.publicKey && r.signature)
    return { type: "signed", data, publicKey: hexBytes(r.publicKey), signature: hexBytes(r.signature) };
  return { type: "data", data };
}

function RecordContent(props: { r: RecordBody }) {
  const { r } = props;
  if (r.type === "miner")
    return (
      <span>
        miner record of <Miner name={r.miner} />, height {r.height}, extra-nonce {r.extraNonce}
      </span>
    );
  return (
    <div>
      <span class="tag">{r.encoding === "utf8" ? "text" : r.encoding}</span>{" "}
      <span class={r.encoding === "utf8" ? "record-text" : "record-hex"} data-testid="record-data">
        {r.data || <em>(empty)</em>}
      </span>
    </div>
  );
}

/** The proof's own check: the record's bytes hashed, folded up the branch, held to the header's work. */
function merkleVerdict(
  d: RecordDetail,
  powLimit: string | undefined,
): { ok: boolean; text: string; height?: number; hash?: string } {
  if (!d.proof || !d.block) return { ok: false, text: "no proof" };
  try {
    const bytes = encodeRecord(recordFromBody(d.record));
    const r = verifyRecordProof(d.proof, bytes, powLimit ? { powLimit: BigInt(`0x${powLimit}`) } : {});
    if (!r.valid) return { ok: false, text: `INVALID (${r.code}): ${r.reason}` };
    if (r.id !== d.id || r.blockHash !== d.block.hash || r.height !== d.block.height)
      return {
        ok: false,
        text: `the proof is for record ${r.id} in block ${r.blockHash} at height ${r.height}, not this one`,
      };
    return {
      ok: true,
      height: r.height,
      hash: r.blockHash,
      text: `valid: record ${r.id} is committed to by block ${r.blockHash} (height ${r.height}) at position ${d.proof.index}, whose hash meets its target`,
    };
  } catch (err) {
    return { ok: false, text: `cannot check: ${errorMessage(err)}` };
  }
}

/**
 * The proof, checked in this browser: the merkle branch up to the header (merkleVerdict), then the
 * header against the chain this browser verified itself (views/light.tsx): a valid proof in a block
 * that is not on that chain is refused, whatever the node says about it.
 */
function ProofCheck(props: { d: RecordDetail; powLimit: string | undefined }) {
  const { d } = props;
  const merkle = merkleVerdict(d, props.powLimit);
  const light = useLight();
  const at = merkle.ok && merkle.hash ? [{ height: merkle.height!, hash: merkle.hash }] : [];
  const mark = useMarks(at)?.get(merkle.hash ?? "");
  if (!d.proof || !d.block) return null;
  let verdict: { sign: string; ok: boolean; text: string } | undefined;
  if (!merkle.ok) verdict = { sign: "✗", ok: false, text: merkle.text };
  else if (mark?.mark === "verified")
    verdict = {
      sign: "✓",
      ok: true,
      text: `${merkle.text}; the block is on the header chain this browser verified, under ${mark.confirmations} header(s) and ${workText(mark.workOnTop)} of work`,
    };
  else if (mark)
    verdict = {
      sign: "✗",
      ok: false,
      text: `refused: block ${merkle.hash} at height ${merkle.height} is not on the header chain this browser verified (${
        mark.mark === "above"
          ? `which ends at #${mark.verifiedHeight}`
          : `it verified ${mark.verifiedHash} at that height`
      }); the proof's own check passed, so only the node says this block is on the chain`,
    };
  else if (light.phase === "error" && !light.verified)
    verdict = {
      sign: "⚠",
      ok: false,
      text: `${merkle.text}; not held against a header chain (this browser's light client failed: ${light.error ?? "unknown"})`,
    };
  return (
    <div class="proof">
      {verdict ? (
        <p class={verdict.ok ? "ok-text" : "error-text"} data-testid="proof-verdict">
          {verdict.sign} Proof checked in your browser: {verdict.text}.
        </p>
      ) : (
        <p class="muted" data-testid="proof-pending">
          The proof's own check passed; holding its block against the header chain this browser verifies…
        </p>
      )}
      <dl class="fields">
        <dt>position</dt>
        <dd>{d.proof.index}</dd>
        <dt>records in the block</dt>
        <dd>{d.proof.count}</dd>
        <dt>header</dt>
        <dd>
          <code class="wrap">{d.proof.header}</code>
        </dd>
        <dt>branch</dt>
        <dd>
          <ol class="branch">
            {d.proof.branch.map((h, i) => (
              <li key={`${i}:${h}`}>
                <code>{h}</code>
              </li>
            ))}
          </ol>
        </dd>
      </dl>
    </div>
  );
}

type Load<T> =
  | { state: "loading" }
  | { state: "ok"; value: T }
  | { state: "missing"; message: string }
  | { state: "failed"; message: string };

/** One record: its data, signer, block, confirmations and the proof. */
export function RecordPage(props: { id: string }) {
  const { id } = props;
  const s = useExplorer();
  const [load, setLoad] = useState<Load<RecordDetail>>({ state: "loading" });
  const tip = s.status?.tip.hash;
  const pendingCount = s.mempool?.count;
  useEffect(() => {
    let live = true;
    if (!HEX64.test(id)) {
      setLoad({ state: "missing", message: "This is not a 64-digit record id." });
      return;
    }
    document.title = `record ${id.slice(0, 12)}… · jbc explorer`;
    api.record(id.toLowerCase()).then(
      (value) => live && setLoad({ state: "ok", value }),
      (err: unknown) => {
        if (!live) return;
        if (err instanceof ApiError && err.status === 404)
          setLoad({ state: "missing", message: `The node knows no record ${id}.` });
        else setLoad({ state: "failed", message: errorMessage(err) });
      },
    );
    return () => {
      live = false;
    };
  }, [id, tip, pendingCount]);
  if (load.state === "loading") return <p class="empty">Loading record…</p>;
  if (load.state !== "ok")
    return (
      <div class="page-error" data-testid="record-missing">
        <h1>{load.state === "missing" ? "No such record" : "Cannot load the record"}</h1>
        <p>{load.message}</p>
      </div>
    );
  const d = load.value;
  return (
    <div class="record-page" data-testid="record-page" data-status={d.status}>
      <h1>
        Record <code class="wrap">{d.id}</code>
      </h1>
      {d.status === "pending" ? (
        <Banner kind="info" testid="record-pending">
          Pending: waiting in the mempool for a block{s.unconfirmed.has(d.id) ? " (back after a reorg)" : ""}.
        </Banner>
      ) : null}
      <Panel title="Record">
        <dl class="fields">
          <dt>type</dt>
          <dd>{d.record.type}</dd>
          <dt>data</dt>
          <dd>
            <RecordContent r={d.record} />
          </dd>
          {d.record.type === "signed" && d.record.publicKey && (
            <>
              <dt>signer</dt>
              <dd data-testid="record-signer">
                <Link href={authorHref(d.record.publicKey)}>
                  <code>{d.record.publicKey}</code>
                </Link>
              </dd>
              <dt>signature</dt>
              <dd>
                <code class="wrap">{d.record.signature}</code>
              </dd>
            </>
          )}
          {d.block && (
            <>
              <dt>block</dt>
              <dd data-testid="record-block">
                <HeightLink height={d.block.height} hash={d.block.hash} /> <Hash hash={d.block.hash} />,{" "}
                {dateTime(d.block.time)}, position {d.index}
              </dd>
              <dt>confirmations</dt>
              <dd data-testid="record-confirmations">{d.confirmations}</dd>
            </>
          )}
        </dl>
      </Panel>
      {d.proof && (
        <Panel
          title="Inclusion proof"
          hint="The merkle branch from the record's id to the block header's root."
        >
          <ProofCheck d={d} powLimit={s.info?.powLimit} />
        </Panel>
      )}
    </div>
  );
}

/** An author's confirmed records, newest first, a page at a time. */
export function AuthorPage(props: { publicKey: string }) {
  const key = props.publicKey.toLowerCase();
  const [pages, setPages] = useState<AuthorRecords[]>([]);
  const [error, setError] = useState<string | undefined>();
  const more = (before?: string): void => {
    api.records({ author: key, limit: 20, ...(before ? { before } : {}) }).then(
      (p) => setPages((old) => (before ? [...old, p] : [p])),
      (err: unknown) => setError(errorMessage(err)),
    );
  };
  useEffect(() => {
    setPages([]);
    setError(undefined);
    if (HEX64.test(key)) more();
    else setError("This is not a 64-digit public key.");
  }, [key]);
  const records = pages.flatMap((p) => p.records);
  const next = pages.at(-1)?.next;
  return (
    <div class="author-page" data-testid="author-page">
      <h1>
        Records signed by <code class="wrap">{key}</code>
      </h1>
      {error && <Banner kind="error">{error}</Banner>}
      <Panel title={`${records.length}${next ? "+" : ""} record(s)`}>
        {records.length === 0 ? (
          <p class="empty">{pages.length ? "No confirmed records by this key." : "Loading…"}</p>
        ) : (
          <table class="blocks" data-testid="author-records">
            <thead>
              <tr>
                <th>block</th>
                <th>record</th>
                <th>data</th>
              </tr>
            </thead>
            <tbody>
              {records.map((r) => (
                <tr key={r.id} data-id={r.id}>
                  <td>
                    <HeightLink height={r.block.height} hash={r.block.hash} />
                  </td>
                  <td>
                    <RecordLink id={r.id} />
                  </td>
                  <td>{"data" in r.record ? r.record.data.slice(0, 80) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {next && (
          <button type="button" onClick={() => more(next)}>
            older
          </button>
        )}
      </Panel>
    </div>
  );
}

/** Where a search term leads: a height, then for 64 hex digits a record, a block, or an author. */
export async function resolveSearch(term: string): Promise<string | undefined> {
  const q = term.trim();
  if (/^\d{1,10}$/.test(q)) return blockHref(Number(q));
  if (!HEX64.test(q)) return undefined;
  const id = q.toLowerCase();
  const notFound = (err: unknown): boolean => err instanceof ApiError && err.status === 404;
  try {
    await api.record(id);
    return recordHref(id);
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  try {
    await api.block(id);
    return blockHref(id);
  } catch (err) {
    if (!notFound(err)) throw err;
  }
  const page = await api.records({ author: id, limit: 1 });
  return page.records.length > 0 ? authorHref(id) : undefined;
}

/** One box for a record id, a block hash, a height or an author's key. */
export function SearchBox() {
  const [term, setTerm] = useState("");
  const [note, setNote] = useState<string | undefined>();
  return (
    <form
      class="search"
      aria-label="search"
      onSubmit={(e) => {
        e.preventDefault();
        setNote(undefined);
        resolveSearch(term).then(
          (href) => {
            if (href) {
              setTerm("");
              navigate(href);
            } else setNote(`nothing found for "${term.trim()}"`);
          },
          (err: unknown) => setNote(errorMessage(err)),
        );
      }}
    >
      <input
        type="search"
        data-testid="search"
        placeholder="record id, block hash, height or author key"
        value={term}
        onInput={(e) => setTerm((e.target as HTMLInputElement).value)}
      />
      {note && (
        <span class="search-note" data-testid="search-note">
          {note}
        </span>
      )}
    </form>
  );
}
