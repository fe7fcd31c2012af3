import { createRequire } from "node:module";
import { errorMessage } from "../../util/errors.ts";
import { nativeAddonPath } from "../paths.ts";

/** The N-API addon's surface (native/src/addon.c). */
interface NativeAddon {
  readonly shaNi: boolean;
  scan(work: Uint32Array, start: number, count: number): number;
}

function isNativeAddon(x: unknown): x is NativeAddon {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  return typeof o["scan"] === "function" && typeof o["shaNi"] === "boolean";
}

/**
 * Loads the SHA-NI kernel, or says why it cannot be used: the addon was not built (no compiler at
 * install time) or this CPU lacks the SHA extensions.
 */
export function loadNativeScan():
  | { ok: true; scan: (work: Uint32Array, start: number, count: number) => number }
  | { ok: false; reason: string } {
  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(nativeAddonPath());
  } catch (err) {
    return { ok: false, reason: `native addon not built (${errorMessage(err).split("\n")[0]})` };
  }
  if (!isNativeAddon(addon)) return { ok: false, reason: "native addon has an unexpected shape" };
  if (!addon.shaNi) return { ok: false, reason: "CPU has no SHA extensions (SHA-NI)" };
  return { ok: true, scan: addon.scan };
}
