/**
 * fast-check arbitraries from the JSON Schemas of the API's OpenAPI document (the subset zod 4 emits:
 * type, const, enum, pattern, min/max, properties, items, oneOf/anyOf): `valid` draws values the schema
 * accepts, `hostile` mixes those with values just outside it (a bound plus or minus one, u32 and u64
 * overflows, negative numbers, wrong types, long strings, missing and extra keys), which is where a
 * server that trusts its schema too little or too much answers 500.
 */
import fc from "fast-check";

export type JsonSchema = Record<string, unknown>;

/** Arrays are drawn short: a schema's maxItems of 100,000 says what is allowed, not what to send. */
const MAX_DRAWN_ITEMS = 4;
const MAX_DRAWN_STRING = 80;

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

/** Values of any JSON type, small. */
const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 2 });

/** Integers at and around the edges integer fields meet: u32, u64, int32 and JS's safe range. */
const edgeIntegers: fc.Arbitrary<number> = fc.constantFrom(
  -1,
  -(2 ** 31),
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  1e21,
  -1e21,
);

/** Strings a parser may trip on: huge decimals, signs, exponents, hex, separators, odd Unicode. */
const edgeStrings: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    "-1",
    "4294967296",
    "9999999999",
    "18446744073709551616",
    "99999999999999999999999",
    "1e3",
    "0x10",
    "+5",
    " 5",
    "5.0",
    "NaN",
    "Infinity",
    ":",
    "9999999999:0",
    "0:9999999999",
    "4294967296:4294967296",
    "\u0000",
    "\ud800",
    "%",
    "..",
    "x".repeat(5000),
  ),
  fc.string({ maxLength: MAX_DRAWN_STRING }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

function typesOf(s: JsonSchema): string[] {
  const t = s["type"];
  return Array.isArray(t) ? (t as string[]) : typeof t === "string" ? [t] : [];
}

/** Values the schema accepts (as far as JSON Schema says: refinements in code may still refuse them). */
export function valid(s: JsonSchema): fc.Arbitrary<unknown> {
  if ("const" in s) return fc.constant(s["const"]);
  if (Array.isArray(s["enum"])) return fc.constantFrom(...(s["enum"] as unknown[]));
  for (const key of ["oneOf", "anyOf"] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length) return fc.oneof(...(options as JsonSchema[]).map(valid));
  }
  const types = typesOf(s);
  if (types.length > 1) return fc.oneof(...types.map((type) => valid({ ...s, type })));
  switch (types[0]) {
    case "string": {
      if (typeof s["pattern"] === "string") return fc.stringMatching(new RegExp(s["pattern"]));
      const minLength = num(s["minLength"]) ?? 0;
      const maxLength = Math.min(num(s["maxLength"]) ?? MAX_DRAWN_STRING, minLength + MAX_DRAWN_STRING);
      return fc.string({ minLength, maxLength });
    }
    case "integer":
      return fc.integer({
        min: Math.max(num(s["minimum"]) ?? Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
        max: Math.min(num(s["maximum"]) ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      });
    case "number":
      return fc.double({
        noNaN: true,
        noDefaultInfinity: true,
        min: num(s["minimum"]) ?? -1e12,
        max: num(s["maximum"]) ?? 1e12,
      });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const items = (s["items"] as JsonSchema | undefined) ?? {};
      const minLength = num(s["minItems"]) ?? 0;
      const maxLength = Math.max(minLength, Math.min(num(s["maxItems"]) ?? MAX_DRAWN_ITEMS, MAX_DRAWN_ITEMS));
      return fc.array(valid(items), { minLength, maxLength });
    }
    case "object": {
      const props = (s["properties"] ?? {}) as Record<string, JsonSchema>;
      const required = new Set((s["required"] ?? []) as string[]);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = valid(v);
      return fc.record(model, { requiredKeys: [...required].filter((k) => k in props) });
    }
    default:
      return anyJson;
  }
}

/** Values just outside the schema (or anything at all), mixed with valid ones and nested inside them. */
export function hostile(s: JsonSchema): fc.Arbitrary<unknown> {
  const types = typesOf(s);
  const outside: Array<fc.Arbitrary<unknown>> = [anyJson, edgeStrings, edgeIntegers];
  const min = num(s["minimum"]);
  const max = num(s["maximum"]);
  if (min !== undefined) outside.push(fc.constantFrom(min - 1, min - 0.5));
  if (max !== undefined) outside.push(fc.constantFrom(max + 1, max + 0.5, max * 2));
  if (types.includes("array")) {
    const items = (s["items"] as JsonSchema | undefined) ?? {};
    outside.push(fc.constant([]), fc.array(hostile(items), { maxLength: MAX_DRAWN_ITEMS }));
  }
  if (types.includes("object")) {
    const props = (s["properties"] ?? {}) as Record<string, JsonSchema>;
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of Object.entries(props)) model[k] = fc.oneof(valid(v), hostile(v));
    // Every key optional (so some go missing), one stranger key sometimes.
    outside.push(
      fc
        .tuple(fc.record(model, { requiredKeys: [] }), fc.option(fc.tuple(fc.string(), anyJson)))
        .map(([o, extra]) => (extra ? { ...o, [extra[0]]: extra[1] } : o)),
    );
  }
  for (const key of ["oneOf", "anyOf"] as const) {
    const options = s[key];
    if (Array.isArray(options)) outside.push(...(options as JsonSchema[]).map(hostile));
  }
  return fc.oneof({ arbitrary: valid(s), weight: 2 }, ...outside.map((a) => ({ arbitrary: a, weight: 1 })));
}

/** A query or path value: query and path parameters travel as text whatever their schema says. */
export function asParam(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? "");
}
