/** Display helpers shared by the views. */

/** A hash split for display: its leading zeros (the visible proof of work), the next digits, the end. */
export interface HashParts {
  zeros: string;
  head: string;
  tail: string;
}

/** `0000003a9f…c21e`: every leading zero, four more digits, an ellipsis, the last four. */
export function hashParts(hash: string, headDigits = 4, tailDigits = 4): HashParts {
  const zeros = /^0*/.exec(hash)![0];
  return {
    zeros,
    head: hash.slice(zeros.length, zeros.length + headDigits),
    tail: hash.slice(-tailDigits),
  };
}

export function shortHash(hash: string): string {
  const p = hashParts(hash);
  return `${p.zeros}${p.head}…${p.tail}`;
}

export function clockTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour12: false });
}

export function dateTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return `${d.toISOString().replace("T", " ").replace(".000Z", " UTC")}`;
}

/** "4 s", "2 min 5 s", "3 h 10 min". */
export function duration(seconds: number): string {
  const s = Math.round(Math.abs(seconds));
  const sign = seconds < 0 ? "−" : "";
  if (s < 60) return `${sign}${s} s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${sign}${h} h${m ? ` ${m} min` : ""}`;
}

export function ago(unixSeconds: number, nowMs: number): string {
  const d = nowMs / 1000 - unixSeconds;
  return d < 1 ? "just now" : `${duration(d)} ago`;
}

/** Difficulty with enough digits to see ASERT's small steps. */
export function difficulty(d: number): string {
  if (d === 0) return "0";
  if (d >= 1e6) return d.toExponential(3);
  if (d >= 100) return d.toFixed(1);
  return d.toFixed(d >= 10 ? 2 : 3);
}

/** A big decimal string grouped in threes: 1 234 567. */
export function groupDigits(decimal: string): string {
  return decimal.replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
}

// Eight colours that stay apart on the dark background and for the common colour-vision deficiencies.
const PALETTE = ["#4e9af1", "#f5a524", "#3ccf91", "#e5534b", "#b083f0", "#2fc4d6", "#e86fb7", "#c9d05c"];

/**
 * A colour per miner, the same in every view and on every load. Names ending in a number ("node on port
 * 5001", as the devnet names its miners) take consecutive colours, so a devnet's nodes never share one;
 * other names are hashed.
 */
export function minerColour(miner: string): string {
  const n = /(\d+)\s*$/.exec(miner);
  let i: number;
  if (n) i = Number(n[1]!.slice(-6));
  else {
    i = 2166136261;
    for (let k = 0; k < miner.length; k++) i = Math.imul(i ^ miner.charCodeAt(k), 16777619) >>> 0;
  }
  return PALETTE[i % PALETTE.length]!;
}
