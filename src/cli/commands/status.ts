import { Command } from "commander";
import { ApiClient } from "../../api/client.ts";
import type { Status } from "../../api/schemas.ts";
import { errorMessage } from "../../util/errors.ts";
import { formatHashRate } from "../../util/format.ts";

/** `jbc status`: asks a running node how it is doing. */
export function statusCommand(): Command {
  return new Command("status")
    .description("show a running node's tip, work, peers, mining and sync state")
    .option("--url <url>", "the node's HTTP API", "http://127.0.0.1:5000")
    .option("--json", "print the raw /api/status JSON", false)
    .action(async (o: { url: string; json: boolean }) => {
      let s: Status;
      try {
        s = await new ApiClient(o.url, { timeoutMs: 5000 }).status();
      } catch (err) {
        const msg = errorMessage(err);
        console.error(`jbc status: ${msg}`);
        process.exitCode = 1;
        return;
      }
      if (o.json) {
        console.log(JSON.stringify(s, null, 2));
        return;
      }
      const m = s.mining;
      const mining = !m.available
        ? "no miner"
        : m.running
          ? `mining as "${m.miner}" on ${m.threads} thread(s), ${formatHashRate(m.hashRate)}, ${m.blocksFound} found`
          : `idle (miner "${m.miner}")`;
      const sync = s.sync.syncing
        ? `syncing from ${s.sync.peer ?? "?"}: ${s.sync.height ?? "?"}/${s.sync.target ?? "?"}`
        : "in sync";
      console.log(
        [
          `network     ${s.network} (jbc ${s.version}, up ${Math.round(s.uptime)} s)`,
          `tip         ${s.tip.height}  ${s.tip.hash}`,
          `tip time    ${new Date(s.tip.time * 1000).toISOString()}`,
          `total work  ${s.totalWork}`,
          `difficulty  ${s.difficulty.toPrecision(6)} (bits ${s.bits})`,
          `peers       ${s.peers}`,
          `mining      ${mining}`,
          `orphans     ${s.orphans}`,
          `sync        ${sync}`,
        ].join("\n"),
      );
    });
}
