/**
 * The propagation scenario's records: posted ahead of the blocks that carry them, so each block's records
 * are pending on every node when it is found (compact relay's premise).
 */
import type { RecordJson } from "../../mempool/json.ts";
import { seededRandom } from "../../util/random.ts";
import type { Lab } from "../lab.ts";
import { type LabNode, waitFor } from "../nodes.ts";

/** Records the lab posted: when each was submitted (ms), by id. */
export interface Feed {
  submittedAt: Map<string, number>;
  /** Records gossip had not delivered after 20 s, posted to the nodes that lacked them. */
  filled: number;
}

/** A data record of about 100 bytes (the 1,000-record block of about 100 KB). */
const feedRecord = (i: number): RecordJson => ({ data: `lab propagation record ${i} `.padEnd(96, ".") });

/**
 * Posts `total` records, 250 at a time to random nodes (each POST awaited, so the nodes set the pace), and
 * waits until every node holds all of them: every block mined after it (the mining node's oldest pending
 * records) carries records pending on every node, as the measurement asks, and no record gossip
 * competes with the blocks for the links and the CPU while they are timed. Its own seeded random, so the
 * mining schedule is the same either way.
 */
export async function postAhead(lab: Lab, nodes: LabNode[], total: number): Promise<Feed> {
  const random = seededRandom(lab.opts.seed + 1);
  const submittedAt = new Map<string, number>();
  const json = new Map<string, RecordJson>();
  for (let next = 0; next < total; ) {
    const batch = Array.from({ length: Math.min(250, total - next) }, () => feedRecord(next++));
    const node = nodes[Math.floor(random() * nodes.length)]!;
    const at = Date.now();
    (await lab.submitRecords(node, batch)).forEach((id, k) => {
      submittedAt.set(id, at);
      json.set(id, batch[k]!);
    });
  }
  const posted = [...submittedAt.keys()];
  // Gossip may not deliver every record of a burst (a peer past its record rate is ignored; a record the
  // mesh did not carry is offered by IHAVE for a few heartbeats only, shorter than a round trip at 200 ms
  // one-way): a node still missing some after 20 s is given them directly.
  let counts: number[] = [];
  const everywhere = (timeoutMs: number) =>
    waitFor(
      async () => {
        counts = (await Promise.all(nodes.map((n) => n.api.mempool({ limit: 0 })))).map((m) => m.count);
        return counts.every((c) => c >= total);
      },
      `the ${total} records posted ahead to reach every node`,
      timeoutMs,
      500,
    );
  let filled = 0;
  await everywhere(20_000).catch(async () => {
    for (const [i, n] of nodes.entries()) {
      if (counts[i]! >= total) continue;
      const have = new Set<string>();
      for (let after: string | undefined; ; ) {
        const page = await n.api.mempool({ limit: 1000, ...(after ? { after } : {}) });
        for (const id of page.ids) have.add(id);
        if (page.ids.length < 1000) break;
        after = page.ids[page.ids.length - 1];
      }
      const missing = posted.filter((id) => !have.has(id));
      for (let k = 0; k < missing.length; k += 250) {
        await lab.submitRecords(
          n,
          missing.slice(k, k + 250).map((id) => json.get(id)!),
        );
        filled += Math.min(250, missing.length - k);
      }
    }
    await everywhere(120_000).catch((err: Error) => {
      throw new Error(`${err.message}: pending ${counts.join(", ")}`);
    });
  });
  return { submittedAt, filled };
}
