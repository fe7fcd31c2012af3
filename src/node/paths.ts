import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { packageRoot } from "../util/paths.ts";

/**
 * Where a node keeps its files. Default: `./.jbc/<network>/<http port>` under the working directory, so
 * nodes started side by side (the devnet) never share a database, a clone keeps its chains to itself,
 * and `rm -rf .jbc` resets everything.
 */
export function defaultDatadir(network: string, port: number, base = join(process.cwd(), ".jbc")): string {
  return resolve(base, network, String(port));
}

/** The LevelDB directory inside a data directory. */
export function chainDir(datadir: string): string {
  return join(datadir, "chain");
}

/**
 * The API token kept in the data directory (`api-token`, mode 0600), created with 32 random bytes the
 * first time. Used for requests that change the node from other hosts.
 */
export function loadOrCreateToken(datadir: string): string {
  const file = join(datadir, "api-token");
  if (existsSync(file)) {
    const t = readFileSync(file, "utf8").trim();
    if (t) return t;
  }
  mkdirSync(datadir, { recursive: true });
  const token = randomBytes(32).toString("hex");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8"));
    if (pkg && typeof pkg === "object" && "version" in pkg && typeof pkg.version === "string")
      return pkg.version;
  } catch {
    // Fall through: an unknown version is not worth failing a node for.
  }
  return "0.0.0";
}

/** The built explorer: the first of dist/web and web/dist that has an index.html. */
export function defaultWebRoot(): string | undefined {
  for (const d of ["dist/web", "web/dist"]) {
    const p = join(packageRoot(), d);
    if (existsSync(join(p, "index.html"))) return p;
  }
  return undefined;
}
