import { z } from "zod";

/** The fields the API's schemas share (schemas.ts, record-schemas.ts). */

export const hash = z.string().regex(/^[0-9a-f]{64}$/, "a 64-digit lower-case hex hash");
export const hexOf = (digits: number) =>
  z.string().regex(new RegExp(`^[0-9a-fA-F]{${digits}}$`), `${digits} hex digits`);
export const decimal = z.string().regex(/^\d+$/, "a decimal integer");
/** A u64 as a decimal string (record fields the wire holds in 8 bytes). */
export const u64Decimal = z
  .string()
  .regex(/^\d{1,20}$/, "a decimal integer")
  .refine((s) => BigInt(s) <= 0xffffffffffffffffn, "at most 2^64 - 1");
export const U32 = 0xffffffff;
/** A u32 header or height field, as the original's string or as a number. */
export const u32Field = z.union([
  z
    .string()
    .regex(/^\d{1,10}$/, "a decimal integer")
    .refine((s) => Number(s) <= U32, `at most ${U32}`),
  z.number().int().min(0).max(U32),
]);
/**
 * Record data in its `encoding`: hex must be even-length hex digits, and text must be encodable (a lone
 * surrogate would silently become U+FFFD, another record than the one sent).
 */
export const dataIn = (r: { data: string; encoding: "utf8" | "hex" }): boolean =>
  // With the u flag a well-formed pair is one code point, so \p{Cs} matches only a lone surrogate (and this
  // module runs in the browser too, where String.isWellFormed is not in every target).
  r.encoding === "hex" ? /^(?:[0-9a-fA-F]{2})*$/.test(r.data) : !/\p{Cs}/u.test(r.data);
export const dataMessage = {
  message: "data is not even-length hex (encoding hex) or has a lone surrogate (utf8)",
  path: ["data"],
};
