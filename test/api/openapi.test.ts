import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { routes } from "../../src/api/routes.ts";
import { regtest } from "../../src/consensus/params.ts";
import { JbcNode } from "../../src/node/node.ts";

/**
 * GET /api/openapi.json from a real node: a valid OpenAPI 3.1 document (checked by a real validator)
 * holding every route of the table, against which docs/api.md's example responses validate; and the
 * reference page at /api/docs with its assets served from the node itself.
 */

const dir = mkdtempSync(join(tmpdir(), "jbc-openapi-"));
let node: JbcNode;
let doc: {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
};

before(async () => {
  node = await JbcNode.create({ params: regtest, datadir: dir, http: { port: 0 }, p2p: false }, {});
  const res = await fetch(`${node.url}/api/openapi.json`);
  assert.equal(res.status, 200);
  doc = (await res.json()) as typeof doc;
});

after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const openApiPath = (p: string): string => p.replace(/:([A-Za-z]+)/g, "{$1}");

test("the document is valid OpenAPI 3.1", async () => {
  assert.equal(doc.openapi, "3.1.0");
  const validator = new Validator();
  const result = await validator.validate(doc as unknown as Parameters<Validator["validate"]>[0]);
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  assert.equal(validator.version, "3.1");
});

test("every route of the table is in the document, under its name", () => {
  for (const [name, def] of Object.entries(routes)) {
    const op = doc.paths[openApiPath(def.path)]?.[def.method.toLowerCase()];
    assert.ok(op, `${def.method} ${def.path} is missing`);
    assert.equal(op.operationId, name);
  }
  const count = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
  assert.equal(count, Object.keys(routes).length);
});

/** The 200 JSON schema of the operation at `method path`. */
function responseSchema(method: string, path: string): object {
  const op = doc.paths[path]?.[method];
  assert.ok(op, `${method} ${path}`);
  const ok = op.responses["200"] as { content: Record<string, { schema: object }> };
  return ok.content["application/json"]!.schema;
}

/**
 * The examples elide values with "…" (a hash cut short, `{ "…": "…" }` for more of the same). They are
 * filled in with values of the right form before validating, by field name: every other value is
 * checked as written.
 */
const HEX_FIELDS: Record<string, number> = {
  hash: 64,
  prev: 64,
  prevHash: 64,
  merkleRoot: 64,
  id: 64,
  tip: 64,
  parent: 64,
  missingParent: 64,
  tipHash: 64,
  genesis: 64,
  target: 64,
  left: 64,
  joined: 64,
  publicKey: 64,
  signature: 128,
};
function fill(value: unknown, key = ""): unknown {
  if (typeof value === "string" && value.includes("…")) {
    const n = HEX_FIELDS[key];
    if (n) return "0".repeat(n);
    if (key === "work" || key === "chainWork") return "1";
    return value;
  }
  if (Array.isArray(value)) {
    return value.filter((v) => !(v && typeof v === "object" && "…" in v)).map((v) => fill(v, key));
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, k)]));
  }
  return value;
}

test("docs/api.md's example responses validate against the document (elided values aside)", () => {
  const md = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
  const sections: Record<string, [string, string]> = {
    "GET /api/status": ["get", "/api/status"],
    "GET /api/blocks?limit=2&before=50": ["get", "/api/blocks"],
    "GET /api/blocks/:hashOrHeight?from&limit": ["get", "/api/blocks/{id}"],
    "POST /api/blocks": ["post", "/api/blocks"],
    "GET /api/tree?depth=50": ["get", "/api/tree"],
    "GET /api/headers?from=28&count=3": ["get", "/api/headers"],
    "GET /api/peers, POST /api/peers, GET /api/p2p": ["get", "/api/peers"],
  };
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  let checked = 0;
  for (const [heading, [method, path]] of Object.entries(sections)) {
    const start = md.indexOf(`### ${heading}\n`);
    assert.ok(start >= 0, `docs/api.md has no "### ${heading}"`);
    const rest = md.slice(start);
    const block = /```json\n([\s\S]*?)```/.exec(rest.slice(0, rest.indexOf("\n### ", 4) + 1 || undefined));
    assert.ok(block, `no JSON example under ${heading}`);
    // POST /api/blocks shows one answer per line; the others one document.
    const examples =
      method === "post"
        ? block[1]!
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l))
        : [JSON.parse(block[1]!)];
    const validate = ajv.compile(responseSchema(method, path));
    for (const example of examples.map((e) => fill(e))) {
      validate(example);
      assert.deepEqual(validate.errors ?? [], [], `${heading}: ${JSON.stringify(example).slice(0, 300)}`);
      checked++;
    }
  }
  assert.ok(checked >= 10, `checked ${checked} examples`);
});

test("GET /api/docs is Swagger UI served from the node's own files", async () => {
  const page = await fetch(`${node.url}/api/docs`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.doesNotMatch(html, /https?:\/\//, "no asset from another host");
  const assets = [...html.matchAll(/(?:src|href)="(\/api\/docs\/[^"]+)"/g)].map((m) => m[1]!);
  assert.ok(assets.length >= 4, assets.join(", "));
  for (const a of assets) {
    const res = await fetch(`${node.url}${a}`);
    assert.equal(res.status, 200, a);
    assert.ok((await res.arrayBuffer()).byteLength > 0, a);
  }
  const init = await (await fetch(`${node.url}/api/docs/init.js`)).text();
  assert.match(init, /url: "\/api\/openapi\.json"/);
  const bundle = await fetch(`${node.url}/api/docs/swagger-ui-bundle.js`);
  assert.match((await bundle.text()).slice(0, 100_000), /SwaggerUIBundle|swagger/i);
  assert.equal((await fetch(`${node.url}/api/docs/..%2fpackage.json`)).status, 404);
  assert.equal((await fetch(`${node.url}/api/docs/index.js`)).status, 404);
});
