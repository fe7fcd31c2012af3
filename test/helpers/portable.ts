/**
 * What makes code browser-safe, checked from its source: the module specifiers it imports and every use
 * of a Node-only global (test/consensus/portable.test.ts, test/light/portable.test.ts).
 */
import { readFileSync } from "node:fs";
import ts from "typescript";

/** Globals a browser lacks. */
const NODE_GLOBALS = new Set(["Buffer", "process", "require", "module", "__dirname", "__filename", "global"]);

/** Every module specifier and every use of a Node-only global in one file, with line numbers. */
export function scan(file: string): { imports: string[]; globals: string[] } {
  const src = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const imports: string[] = [];
  const globals: string[] = [];
  const line = (n: ts.Node) => src.getLineAndCharacterOfPosition(n.getStart()).line + 1;
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier) {
      imports.push((n.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = n.arguments[0];
      imports.push(arg && ts.isStringLiteral(arg) ? arg.text : `<dynamic import, line ${line(n)}>`);
    } else if (ts.isIdentifier(n) && NODE_GLOBALS.has(n.text)) {
      // A property name (`x.process`) or a member of our own is not the global.
      const p = n.parent;
      const isMember = ts.isPropertyAccessExpression(p) && p.name === n;
      if (!isMember) globals.push(`${n.text} (line ${line(n)})`);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return { imports, globals };
}
