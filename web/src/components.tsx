import type { ComponentChildren } from "preact";
import { hashParts, minerColour } from "./format.ts";
import { blockHref, Link } from "./router.tsx";

/**
 * A block hash with its leading zeros highlighted: the zeros are what the miner paid for. Short by
 * default (`0000003a9f…c21e`); `full` shows all 64 digits. Linked to the block page unless `link` is false.
 */
export function Hash(props: { hash: string; full?: boolean; link?: boolean; class?: string }) {
  const { hash, full = false, link = true } = props;
  const p = hashParts(hash);
  const body = (
    <span class={`hash ${props.class ?? ""}`} title={hash} data-hash={hash}>
      <span class="zeros">{p.zeros}</span>
      {full ? hash.slice(p.zeros.length) : `${p.head}…${p.tail}`}
    </span>
  );
  return link ? <Link href={blockHref(hash)}>{body}</Link> : body;
}

/** A miner's name with its colour, as used in every chart. */
export function Miner(props: { name: string }) {
  return (
    <span class="miner">
      <span class="dot" style={{ background: minerColour(props.name) }} />
      {props.name || "(unnamed)"}
    </span>
  );
}

export function HeightLink(props: { height: number; hash?: string }) {
  return (
    <Link class="height" href={blockHref(props.hash ?? props.height)}>
      #{props.height}
    </Link>
  );
}

export function Panel(props: {
  title: ComponentChildren;
  id?: string;
  class?: string;
  actions?: ComponentChildren;
  hint?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class={`panel ${props.class ?? ""}`} id={props.id}>
      <header class="panel-head">
        <h2>{props.title}</h2>
        {props.actions && <div class="actions">{props.actions}</div>}
      </header>
      {props.hint && <p class="hint">{props.hint}</p>}
      {props.children}
    </section>
  );
}

export function Banner(props: {
  kind: "error" | "warn" | "reorg" | "info";
  children: ComponentChildren;
  testid?: string;
}) {
  return (
    <div
      class={`banner ${props.kind}`}
      role={props.kind === "error" ? "alert" : "status"}
      data-testid={props.testid}
    >
      {props.children}
    </div>
  );
}

/** Choice between a few values, e.g. the race window. */
export function Segmented<T extends string | number>(props: {
  value: T;
  options: readonly { value: T; label: string }[];
  onChange: (v: T) => void;
  label: string;
}) {
  return (
    <fieldset class="segmented" aria-label={props.label}>
      {props.options.map((o) => (
        <button
          type="button"
          key={String(o.value)}
          class={o.value === props.value ? "on" : ""}
          aria-pressed={o.value === props.value}
          onClick={() => props.onChange(o.value)}
        >
          {o.label}
        </button>
      ))}
    </fieldset>
  );
}
