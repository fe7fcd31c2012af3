/**
 * The HTTP client of bench:records (c), in a process of its own, as a real client is: GETs the paths in
 * the JSON file named by argv[2] ({ url, warmup, paths }) one after another over one keep-alive
 * connection (undici's fetch) and prints { ms } (one latency per path, in order) as its last line.
 */
import { readFileSync } from "node:fs";

const { url, warmup, paths } = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as {
  url: string;
  warmup: string[];
  paths: string[];
};
const get = async (path: string): Promise<void> => {
  const res = await fetch(`${url}${path}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text}`);
};
for (const p of warmup) await get(p);
const ms: number[] = [];
for (const p of paths) {
  const t0 = performance.now();
  await get(p);
  ms.push(performance.now() - t0);
}
console.log(JSON.stringify({ ms }));
