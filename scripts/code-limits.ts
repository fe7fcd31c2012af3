/**
 * The size and import rules of issue 20, measured from the code with the TypeScript compiler API:
 * files in src over 400 lines, functions over 80 lines (declarations, methods, constructors, accessors,
 * arrow functions and function expressions, each counted on its own, nested ones too), and import cycles
 * among the files of src (every edge counts: value, type-only, re-export and dynamic `import()`).
 *
 * `node --import tsx scripts/code-limits.ts` prints what it finds and exits 1 when a long file or function
 * is not in docs/architecture.md's tables ("Files over 400 lines", "Functions over 80 lines"), when a row
 * there names one that is no longer long, or when there is a cycle. test/docs/code-limits.test.ts runs the
 * same checks.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

/** The limits the project holds itself to (docs/architecture.md). */
export const LIMITS = { fileLines: 400, functionLines: 80 } as const;

/** A function-like node and where it is: `name` is stable across edits that do not rename it. */
export interface FunctionSize {
  file: string;
  name: string;
  line: number;
  lines: number;
}

/** One import between two files of the scanned tree. */
export interface ImportEdge {
  from: string;
  to: string;
  kind: "value" | "type" | "dynamic";
}

/** Every .ts file below `dir` (not .d.ts), as paths relative to `root`, in a stable order. */
export function sourceFiles(root: string, dir = "src"): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ts") && !name.endsWith(".d.ts"))
        out.push(relative(root, p).split(sep).join("/"));
    }
  };
  walk(join(root, dir));
  return out;
}

function parse(root: string, file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.Latest, true);
}

/** Lines of a file as an editor counts them (a final newline does not start a line). */
export function lineCount(text: string): number {
  if (text.length === 0) return 0;
  const n = text.split("\n").length;
  return text.endsWith("\n") ? n - 1 : n;
}

/** Files of `files` longer than `max` lines. */
export function longFiles(root: string, files: string[], max: number = LIMITS.fileLines) {
  return files
    .map((file) => ({ file, lines: lineCount(readFileSync(join(root, file), "utf8")) }))
    .filter((f) => f.lines > max);
}

type FunctionNode =
  | ts.FunctionDeclaration
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration
  | ts.ArrowFunction
  | ts.FunctionExpression;

function isFunctionNode(n: ts.Node): n is FunctionNode {
  return (
    ts.isFunctionDeclaration(n) ||
    ts.isMethodDeclaration(n) ||
    ts.isConstructorDeclaration(n) ||
    ts.isGetAccessorDeclaration(n) ||
    ts.isSetAccessorDeclaration(n) ||
    ts.isArrowFunction(n) ||
    ts.isFunctionExpression(n)
  );
}

function propertyName(name: ts.PropertyName | ts.BindingName): string {
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  if (ts.isNumericLiteral(name)) return name.text;
  return "[computed]";
}

/** The name of the class, object or variable a member belongs to, if it has one. */
function ownerName(container: ts.Node): string | undefined {
  if ((ts.isClassDeclaration(container) || ts.isClassExpression(container)) && container.name) {
    return container.name.text;
  }
  if (ts.isObjectLiteralExpression(container)) {
    const p = container.parent;
    if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p)) return propertyName(p.name);
  }
  return undefined;
}

/**
 * A function's own name: its declared name, `Owner.member` for a member of a class or of an object
 * assigned to a name, the variable or property it is assigned to, or, for a callback, the call it is an
 * argument of (`action callback`, `it "title" callback`).
 */
function ownName(n: FunctionNode): string {
  const member = (name: string) => {
    const owner = ownerName(n.parent);
    return owner ? `${owner}.${name}` : name;
  };
  if (ts.isConstructorDeclaration(n)) return member("constructor");
  if (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isAccessor(n)) {
    return n.name ? member(propertyName(n.name)) : "default";
  }
  if (ts.isFunctionExpression(n) && n.name) return n.name.text;
  let p: ts.Node = n.parent;
  while (ts.isParenthesizedExpression(p) || ts.isAsExpression(p) || ts.isSatisfiesExpression(p)) p = p.parent;
  if (ts.isVariableDeclaration(p)) return propertyName(p.name);
  if (ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return member(propertyName(p.name));
  if (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
    return p.left.getText().replace(/^this\./, "");
  }
  if (ts.isCallExpression(p) || ts.isNewExpression(p)) {
    const callee = p.expression;
    const fn = ts.isPropertyAccessExpression(callee) ? callee.name.text : callee.getText();
    const first = p.arguments?.[0];
    const label = first && first !== n && ts.isStringLiteralLike(first) ? ` "${first.text}"` : "";
    return `${fn}${label} callback`;
  }
  if (ts.isExportAssignment(p)) return "default";
  return "anonymous";
}

/** Functions of `files` longer than `max` lines, from their first token to their closing brace. */
export function longFunctions(
  root: string,
  files: string[],
  max: number = LIMITS.functionLines,
): FunctionSize[] {
  const out: FunctionSize[] = [];
  for (const file of files) {
    const src = parse(root, file);
    const lineOf = (pos: number) => src.getLineAndCharacterOfPosition(pos).line + 1;
    const visit = (n: ts.Node, outer: string[]): void => {
      let path = outer;
      if (isFunctionNode(n)) {
        const own = ownName(n);
        // A named function is known by its own name; an anonymous one by the function it sits in too.
        path = own === "anonymous" || own.endsWith(" callback") ? [...outer, own] : [own];
        const line = lineOf(n.getStart(src));
        const lines = lineOf(n.getEnd()) - line + 1;
        if (lines > max) out.push({ file, name: path.join(" › "), line, lines });
      }
      ts.forEachChild(n, (c) => visit(c, path));
    };
    visit(src, []);
  }
  return out;
}

function resolveImport(root: string, from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(root, dirname(from), spec);
  const candidates = [base, base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")];
  const hit = candidates.find((c) => c.endsWith(".ts") && existsSync(c) && statSync(c).isFile());
  return hit ? relative(root, hit).split(sep).join("/") : undefined;
}

/** Every import among `files` (a relative specifier that resolves to one of them), by kind. */
export function importEdges(root: string, files: string[]): ImportEdge[] {
  const inTree = new Set(files);
  const edges: ImportEdge[] = [];
  for (const from of files) {
    const src = parse(root, from);
    const add = (spec: string, kind: ImportEdge["kind"]) => {
      const to = resolveImport(root, from, spec);
      if (to && inTree.has(to)) edges.push({ from, to, kind });
    };
    const visit = (n: ts.Node): void => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
        const c = n.importClause;
        const typeOnly =
          c !== undefined &&
          (c.isTypeOnly ||
            (!c.name &&
              c.namedBindings !== undefined &&
              ts.isNamedImports(c.namedBindings) &&
              c.namedBindings.elements.length > 0 &&
              c.namedBindings.elements.every((e) => e.isTypeOnly)));
        add(n.moduleSpecifier.text, typeOnly ? "type" : "value");
      } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
        add(n.moduleSpecifier.text, n.isTypeOnly ? "type" : "value");
      } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const arg = n.arguments[0];
        if (arg && ts.isStringLiteralLike(arg)) add(arg.text, "dynamic");
      } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) {
        const lit = n.argument.literal;
        if (ts.isStringLiteral(lit)) add(lit.text, "type");
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
  }
  return edges;
}

/**
 * The import cycles among the edges: one per strongly connected group of files (Tarjan), each given as
 * the shortest cycle through the group's first file, e.g. `a.ts → b.ts (type) → a.ts`.
 */
export function importCycles(edges: ImportEdge[]): string[] {
  const next = new Map<string, ImportEdge[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e]);
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let counter = 0;
  const strong = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of next.get(v) ?? []) {
      if (!index.has(to)) {
        strong(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v)!, index.get(to)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      const selfLoop = (next.get(v) ?? []).some((e) => e.to === v);
      if (group.length > 1 || selfLoop) groups.push(group.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) strong(v);
  return groups.map((group) => {
    const members = new Set(group);
    const start = group[0]!;
    // Breadth-first from the start back to it, inside the group.
    const via = new Map<string, ImportEdge>();
    const queue = [start];
    let closing: ImportEdge | undefined;
    while (queue.length > 0 && !closing) {
      const v = queue.shift()!;
      for (const e of next.get(v) ?? []) {
        if (!members.has(e.to)) continue;
        if (e.to === start) {
          closing = e;
          break;
        }
        if (!via.has(e.to)) {
          via.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    const path: ImportEdge[] = [];
    for (let e = closing; e; e = e.from === start ? undefined : via.get(e.from)) path.unshift(e);
    const label = (e: ImportEdge) => (e.kind === "value" ? e.to : `${e.to} (${e.kind})`);
    return [start, ...path.map(label)].join(" → ");
  });
}

/** The rows of the Markdown table under `## heading`: each row's backquoted names, cell by cell. */
export function tableRows(markdown: string, heading: string): string[][][] {
  const lines = markdown.split("\n");
  const at = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, "").trim() === heading);
  if (at < 0) return [];
  const rows: string[][][] = [];
  let inTable = false;
  for (const l of lines.slice(at + 1)) {
    if (/^#+ /.test(l)) break;
    if (!l.startsWith("|")) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = l.split("|").slice(1, -1);
    if (cells.every((c) => /^\s*:?-+:?\s*$/.test(c))) continue;
    rows.push(cells.map((c) => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
  }
  // The header row has no backquoted names.
  return rows.filter((r) => r.some((c) => c.length > 0));
}

/** What docs/architecture.md lists: files by path, functions as `file#name`. */
export function listedExceptions(markdown: string): { files: Set<string>; functions: Set<string> } {
  const files = new Set(tableRows(markdown, "Files over 400 lines").map((r) => r[0]?.[0] ?? ""));
  const functions = new Set<string>();
  for (const [fileCell, nameCell] of tableRows(markdown, "Functions over 80 lines")) {
    for (const name of nameCell ?? []) functions.add(`${fileCell?.[0] ?? ""}#${name}`);
  }
  files.delete("");
  return { files, functions };
}

/** Everything that breaks the rules: unlisted long files and functions, stale rows, import cycles. */
export function check(root: string) {
  const files = sourceFiles(root);
  const doc = readFileSync(join(root, "docs", "architecture.md"), "utf8");
  const listed = listedExceptions(doc);
  const bigFiles = longFiles(root, files);
  const bigFunctions = longFunctions(root, files);
  const seenFiles = new Set(bigFiles.map((f) => f.file));
  const seenFunctions = new Set(bigFunctions.map((f) => `${f.file}#${f.name}`));
  return {
    bigFiles,
    bigFunctions,
    unlistedFiles: bigFiles.filter((f) => !listed.files.has(f.file)),
    unlistedFunctions: bigFunctions.filter((f) => !listed.functions.has(`${f.file}#${f.name}`)),
    staleFiles: [...listed.files].filter((f) => !seenFiles.has(f)),
    staleFunctions: [...listed.functions].filter((f) => !seenFunctions.has(f)),
    cycles: importCycles(importEdges(root, files)),
  };
}

function main(): void {
  const root = resolve(import.meta.dirname, "..");
  const r = check(root);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`files over ${LIMITS.fileLines} lines:`);
  for (const f of r.bigFiles) out(`  ${f.file} ${f.lines}`);
  out(`functions over ${LIMITS.functionLines} lines:`);
  for (const f of r.bigFunctions) out(`  ${f.file}:${f.line} ${f.name} ${f.lines}`);
  out(`import cycles: ${r.cycles.length === 0 ? "none" : ""}`);
  for (const c of r.cycles) out(`  ${c}`);
  const problems = [
    ...r.unlistedFiles.map((f) => `not in docs/architecture.md: ${f.file} (${f.lines} lines)`),
    ...r.unlistedFunctions.map(
      (f) => `not in docs/architecture.md: ${f.file} \`${f.name}\` (${f.lines} lines)`,
    ),
    ...r.staleFiles.map((f) => `listed but not over ${LIMITS.fileLines} lines: ${f}`),
    ...r.staleFunctions.map((f) => `listed but not found over ${LIMITS.functionLines} lines: ${f}`),
    ...r.cycles.map((c) => `import cycle: ${c}`),
  ];
  for (const p of problems) out(p);
  if (problems.length > 0) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) main();
