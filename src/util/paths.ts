import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/**
 * The package's root directory (where package.json is), found by walking up from this module, so build
 * outputs and bin/ resolve the same from src/ under tsx and from dist/src/ when compiled.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("package.json not found above src/util");
    dir = up;
  }
  root = dir;
  return dir;
}
