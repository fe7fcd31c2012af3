import type { Rng } from "./rng.ts";

/** Who is linked to whom: every node to every other, or a random graph of about `degree` links each. */
export type Topology = { kind: "mesh" } | { kind: "random"; degree: number };

/**
 * Each node's peers (ids, ascending) for `count` nodes. In a random graph each node dials `degree`
 * distinct random others and links are two-way (after Bitcoin's 8 outbound), so a node ends up with at
 * least `degree` peers (fewer only when there are not enough nodes); the same rng gives the same graph.
 */
export function linkPeers(count: number, t: Topology, rng: Rng): number[][] {
  const ids = Array.from({ length: count }, (_, i) => i);
  if (t.kind === "mesh") return ids.map((i) => ids.filter((j) => j !== i));
  const adj = ids.map(() => new Set<number>());
  for (let i = 0; i < count; i++) {
    const want = Math.min(t.degree, count - 1);
    let guard = 0;
    while (adj[i]!.size < want && guard++ < 100 * count) {
      const j = rng.int(count);
      if (j !== i) {
        adj[i]!.add(j);
        adj[j]!.add(i);
      }
    }
  }
  return adj.map((peers) => [...peers].sort((a, b) => a - b));
}
