/**
 * Issue 20's rules on the real tree, through scripts/code-limits.ts: no file in src over 400 lines and no
 * function over 80 lines unless docs/architecture.md's tables give the reason, no row there that names
 * one no longer long, and no import cycle in src. The first cases check that the scanner sees what it
 * must, on small trees written for the purpose.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import {
  check,
  importCycles,
  importEdges,
  LIMITS,
  listedExceptions,
  longFiles,
  longFunctions,
  sourceFiles,
  tableRows,
} from "../../scripts/code-limits.ts";
import { tempDir } from "../helpers/chain.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Writes `files` (path → text) under a fresh root and returns it. */
function tree(files: Record<string, string>): string {
  const root = tempDir("jbc-limits-");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** A body of `n` lines in all, braces included, for a function that starts with `head`. */
const fn = (head: string, n: number): string =>
  `${head} {\n${Array.from({ length: n - 2 }, (_, i) => `  void ${i};`).join("\n")}\n}`;

describe("scripts/code-limits.ts", () => {
  const roots: string[] = [];
  after(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  it("counts a function from its first token to its closing brace, and names it where it sits", () => {
    const root = tree({
      "src/a.ts": [
        "/** A doc comment does not count. */",
        fn("export function long()", LIMITS.functionLines + 1),
        fn("export function atLimit()", LIMITS.functionLines),
        "export class Box {",
        fn("  constructor()", 90),
        fn("  method()", 90),
        fn("  get size()", 90),
        "}",
        fn("export const arrow = () =>", 90),
        `export const obj = { ${fn("run()", 90)} };`,
        `register("cmd", ${fn("async () =>", 90)});`,
        fn("export function outer()", 10).replace("{", `{\n  run(${fn("() =>", 85)});`),
      ].join("\n"),
    });
    roots.push(root);
    const found = longFunctions(root, sourceFiles(root)).map((f) => `${f.name} ${f.lines}`);
    assert.deepEqual(found, [
      `long ${LIMITS.functionLines + 1}`,
      "Box.constructor 90",
      "Box.method 90",
      "Box.size 90",
      "arrow 90",
      "obj.run 90",
      'register "cmd" callback 90',
      "outer 95",
      "outer › run callback 85",
    ]);
    assert.equal(longFunctions(root, sourceFiles(root))[0]!.line, 2);
  });

  it("counts a file's lines, a final newline starting none", () => {
    const lines = (n: number) =>
      `${Array.from({ length: n }, (_, i) => `export const x${i} = ${i};`).join("\n")}\n`;
    const root = tree({ "src/big.ts": lines(LIMITS.fileLines + 1), "src/ok.ts": lines(LIMITS.fileLines) });
    roots.push(root);
    assert.deepEqual(longFiles(root, sourceFiles(root)), [
      { file: "src/big.ts", lines: LIMITS.fileLines + 1 },
    ]);
  });

  it("finds a cycle through a type-only import and a dynamic import, and none in a one-way tree", () => {
    const root = tree({
      "src/a.ts": 'import type { B } from "./b.ts";\nexport type A = B;\n',
      "src/b.ts": 'export type B = 1;\nexport const load = () => import("./c.ts");\n',
      "src/c.ts": 'import { type A } from "./a.ts";\nexport const c: A | undefined = undefined;\n',
      "src/d/index.ts": 'export { c } from "../c.ts";\nimport "node:fs";\n',
      "src/e.ts": 'import { c } from "./d/index.ts";\nexport const e = c;\n',
    });
    roots.push(root);
    const edges = importEdges(root, sourceFiles(root));
    assert.deepEqual(
      edges.map((e) => `${e.from} ${e.kind} ${e.to}`),
      [
        "src/a.ts type src/b.ts",
        "src/b.ts dynamic src/c.ts",
        "src/c.ts type src/a.ts",
        "src/d/index.ts value src/c.ts",
        "src/e.ts value src/d/index.ts",
      ],
    );
    assert.deepEqual(importCycles(edges), [
      "src/a.ts → src/b.ts (type) → src/c.ts (dynamic) → src/a.ts (type)",
    ]);
    assert.deepEqual(importCycles(edges.filter((e) => e.from !== "src/c.ts")), []);
  });

  it("reads the backquoted names of a table under its heading, and nothing past it", () => {
    const md = [
      "## Functions over 80 lines",
      "",
      "| file | function | why |",
      "|---|---|---|",
      "| `src/x.ts` | `f`, `C.m` | because |",
      "",
      "| `src/not-this-table.ts` | `g` | |",
      "## Files over 400 lines",
      "| file | why |",
      "|---|---|",
      "| `src/y.ts` | ~410 |",
    ].join("\n");
    assert.deepEqual(tableRows(md, "Functions over 80 lines"), [[["src/x.ts"], ["f", "C.m"], []]]);
    const listed = listedExceptions(md);
    assert.deepEqual([...listed.functions], ["src/x.ts#f", "src/x.ts#C.m"]);
    assert.deepEqual([...listed.files], ["src/y.ts"]);
  });

  it("sees the real tree: dozens of functions over 40 lines, hundreds of imports", () => {
    const files = sourceFiles(ROOT);
    assert.ok(files.length > 100, `${files.length} files`);
    assert.ok(longFunctions(ROOT, files, 40).length > 20);
    assert.ok(importEdges(ROOT, files).length > 300);
  });
});

describe("src keeps issue 20's rules (docs/architecture.md)", () => {
  const r = check(ROOT);
  const how =
    "split it, or add a row with the reason to docs/architecture.md (`node --import tsx scripts/code-limits.ts` lists them)";

  it(`no file over ${LIMITS.fileLines} lines without a reason`, () => {
    assert.deepEqual(r.unlistedFiles, [], how);
  });

  it(`no function over ${LIMITS.functionLines} lines without a reason`, () => {
    assert.deepEqual(r.unlistedFunctions, [], how);
  });

  it("no row that names a file or function no longer long (remove the row)", () => {
    assert.deepEqual([...r.staleFiles, ...r.staleFunctions], []);
  });

  it("no import cycle in src (type-only and dynamic imports count)", () => {
    assert.deepEqual(r.cycles, []);
  });
});
