/**
 * Source files bundled for a browser by Vite, as the explorer's build bundles them: the browser tests
 * load the result into a page with no Node globals, and bench/light-web.ts times it there.
 */
import { join } from "node:path";
import { build, type Rollup } from "vite";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * `entry` (a path below the repository root, e.g. `src/index.ts`) bundled into one IIFE script that
 * defines the global `name`; throws if Vite produced no script.
 */
export async function browserBundle(
  entry: string,
  name: string,
  opts: { minify?: boolean } = {},
): Promise<string> {
  const out = (await build({
    configFile: false,
    root: ROOT,
    logLevel: "silent",
    build: {
      write: false,
      minify: opts.minify ?? false,
      target: "es2022",
      lib: { entry: join(ROOT, entry), formats: ["iife"], name, fileName: name },
    },
  })) as Rollup.RollupOutput[];
  const chunk = out[0]!.output.find((o): o is Rollup.OutputChunk => o.type === "chunk");
  if (!chunk) throw new Error(`vite produced no chunk for ${entry}`);
  return chunk.code;
}
