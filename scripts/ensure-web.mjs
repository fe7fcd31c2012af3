// Runs before `npm start`: builds the explorer once if it has not been built yet, so the README's main
// command shows the explorer on a fresh clone without a separate `npm run build`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!existsSync(join(root, "dist", "web", "index.html"))) {
  console.log("jbc: building the explorer (first start only)…");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["run", "-s", "build:web"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0)
    console.log("jbc: the explorer did not build; the nodes will run without it (see above).");
}
