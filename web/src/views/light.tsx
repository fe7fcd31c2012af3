import { Banner, Hash, HeightLink, Panel } from "../components.tsx";
import type { BlockMark, LightStatus } from "../light/protocol.ts";
import { useLight, useMarks } from "../light/store.ts";
import type { ExplorerState } from "../state.ts";

/**
 * The explorer as a light client (issue 18, item 6): what this browser verified itself, and where the
 * node's word goes beyond it. The checking is in the worker (light/worker.ts); these views only show it.
 */

/** A work figure: "65,537 hashes (2^16.0)", as `jbc record verify` prints it. */
export function workText(work: string | number): string {
  const n = Number(work);
  const text = n < 1e7 ? Math.round(n).toLocaleString("en-US") : n.toExponential(2).replace("e+", "e");
  return `${text} hashes (2^${n > 0 ? Math.log2(n).toFixed(1) : "0"})`;
}

/** "verified in this browser: N headers, work W", with the node's claim and the verdict beside it. */
export function LightPanel() {
  const l = useLight();
  const v = l.verified;
  return (
    <Panel
      title="Verified in this browser"
      id="light"
      hint="This page fetches the node's block headers and checks every one from genesis itself (links, proof of work, difficulty, timestamps), in a Web Worker, with the same code as `jbc headers sync`. Blocks the node reports beyond that chain are marked."
    >
      <p data-testid="light-verified" data-phase={l.phase} data-height={v?.height} data-hash={v?.hash}>
        {v ? (
          <>
            {l.phase === "syncing" && !l.firstSync ? "verifying… " : ""}
            verified in this browser: <strong>{v.height.toLocaleString("en-US")}</strong> headers, work{" "}
            <strong>{workText(v.chainWork)}</strong>, tip <HeightLink height={v.height} hash={v.hash} />{" "}
            <Hash hash={v.hash} />
          </>
        ) : l.phase === "error" ? (
          "nothing verified yet"
        ) : (
          "verifying the node's headers…"
        )}
      </p>
      {l.firstSync && (
        <p class="muted" data-testid="light-first-sync">
          first check from genesis: {l.firstSync.headers.toLocaleString("en-US")} headers in{" "}
          {(l.firstSync.ms / 1000).toFixed(2)} s
        </p>
      )}
      {l.error && (
        <p class="error-text" data-testid="light-error">
          {l.error}
        </p>
      )}
    </Panel>
  );
}

/** Why the node's tip is not what this browser verified, in words; undefined when they agree. */
export function discrepancy(
  l: LightStatus,
  tip: { height: number; hash: string } | undefined,
  mark: BlockMark | undefined,
): { code: string; text: string } | undefined {
  const v = l.verified;
  const upTo = v ? `This browser verified the chain up to #${v.height}.` : "";
  if (l.fault) {
    const at = l.fault.height !== undefined ? ` at height ${l.fault.height}` : "";
    return {
      code: l.fault.code,
      text: `the node at ${l.source} serves headers that fail this browser's check ${l.fault.code}${at}: ${l.fault.reason}. ${upTo}`,
    };
  }
  if (!tip || !mark || mark.mark === "verified") return undefined;
  if (mark.mark === "above")
    return {
      code: "TIP_UNVERIFIED",
      text: `the node at ${l.source} says its tip is #${tip.height} (${tip.hash}), above the chain its headers let this browser verify. ${upTo}`,
    };
  return {
    code: "TIP_CONFLICT",
    text: `the node at ${l.source} says its tip is #${tip.height} (${tip.hash}), but the header this browser verified at that height is ${mark.verifiedHash}.`,
  };
}

/** A banner on every page when the node's word and this browser's check part ways, naming how. */
export function LightBanner(props: { s: ExplorerState }) {
  const l = useLight();
  const tip = props.s.status?.tip;
  const marks = useMarks(tip ? [{ height: tip.height, hash: tip.hash }] : []);
  // From the first finished sync on (a sync under way keeps the last verdict on screen).
  if (!l.verdict) return null;
  const d = discrepancy(l, tip, tip ? marks?.get(tip.hash) : undefined);
  if (!d) return null;
  return (
    <Banner kind="error" testid="light-discrepancy">
      <span data-code={d.code} data-testid="light-discrepancy-text">
        <strong>Not verified by this browser:</strong> {d.text}
      </span>
    </Banner>
  );
}

const GAP = { marginLeft: "6px" };

/** A small mark beside a block: ✓ when this browser verified it, ✗ with the reason when it could not. */
export function VerifiedMark(props: { mark: BlockMark | undefined }) {
  const m = props.mark;
  if (!m) return null;
  if (m.mark === "verified")
    return (
      <span
        class="tag ok"
        style={GAP}
        data-testid="verified-mark"
        data-mark="verified"
        title="verified in this browser"
      >
        ✓
      </span>
    );
  const why =
    m.mark === "above"
      ? `above the chain this browser verified (#${m.verifiedHeight})`
      : `this browser verified another header here (${m.verifiedHash.slice(0, 16)}…)`;
  return (
    <span class="tag bad" style={GAP} data-testid="verified-mark" data-mark={m.mark} title={why}>
      not verified here
    </span>
  );
}

/** The mark of the node's tip in the page's header. */
export function TipMark(props: { tip: { height: number; hash: string } }) {
  const marks = useMarks([{ height: props.tip.height, hash: props.tip.hash }]);
  return <VerifiedMark mark={marks?.get(props.tip.hash)} />;
}
