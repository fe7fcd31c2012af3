import { Command, InvalidArgumentError } from "commander";
import { isHostPattern } from "../../api/guard.ts";
import { withConfig } from "../config.ts";
import { networkOption } from "../network-option.ts";
import { collect, intArg, logLevelArg, minerNameArg, portArg } from "../options.ts";
import type { NodeCommandOptions } from "../run-node.ts";
import { closedNetworkOptions, witnessOptions } from "../team-options.ts";

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 90s, 30m, 24h or 7d (a bare number is seconds), in milliseconds. */
export function durationArg(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(value.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2] || "s"]! : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1000) {
    throw new InvalidArgumentError("expected a duration of at least 1s, such as 90s, 30m, 24h or 7d");
  }
  return Math.round(ms);
}

/** `--api-hosts a,b`: host names (or `*.suffix`, or `*`) the HTTP API answers to besides IPs and localhost. */
export function apiHostsArg(value: string): string[] {
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.find((n) => !isHostPattern(n));
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `'${bad}' is not a host name: expected names such as node.example, *.lan, or * for any`,
    );
  }
  return names;
}

/** `--relay compact|full`: how the node relays blocks (src/net/compact; docs/protocol.md "Compact blocks"). */
export function relayArg(value: string): "compact" | "full" {
  if (value === "compact" || value === "full") return value;
  throw new InvalidArgumentError("expected compact or full");
}

/** `jbc node`: one full node (store, chain, P2P, miner, HTTP API), until Ctrl-C. */
export function nodeCommand(): Command {
  const cmd = withConfig(new Command("node"))
    .description("run a node: HTTP API on --port, P2P on --p2p-port (default port + 1000), optional mining")
    .option("-p, --port <port>", "HTTP API port", portArg, 5000)
    .option("-m, --mine", "mine from the start (POST /api/mining/start|stop toggles it)", false)
    .option(
      "--peer <addr>",
      "peer to connect to: http://host:port of its API, or a multiaddr (repeatable)",
      collect,
      [],
    )
    .option("--datadir <dir>", "data directory (default ./.jbc/<network>/<port>)")
    .addOption(networkOption())
    .option("--miner <name>", 'name written into mined blocks (default "node on port <port>")', minerNameArg)
    .option("--threads <n>", "mining threads (default: every core)", intArg(1, 1024))
    .option("--p2p-port <port>", "P2P listen port (default port + 1000)", portArg)
    .option("--no-p2p", "run without P2P networking")
    .option("--mdns", "also discover peers on the local network by multicast DNS", false)
    .option(
      "--relay <mode>",
      "block relay: compact (announcements with short record ids to peers that speak them) or full " +
        "(whole blocks by gossip only, as before compact blocks)",
      relayArg,
      "compact",
    )
    .option(
      "--sync",
      "fsync every block written: survives a power cut, not only a killed process (slower)",
      false,
    )
    .option("--host <host>", "address the HTTP API and P2P listen on", "127.0.0.1")
    .option("--log-level <level>", "trace, debug, info, warn, error or silent", logLevelArg, "info")
    .option(
      "--log-file <file>",
      "also log (JSON) to this file, rotated by size (default <datadir>/logs/node.log; newest: current.log)",
    )
    .option("--no-log-file", "log to the terminal (stdout) only")
    .option("--log-max-mb <mb>", "size at which the log file is rotated", intArg(1, 1024), 10)
    .option("--log-keep <n>", "log files kept, the current one included", intArg(1, 100), 5)
    .option(
      "--api-token <token>",
      "token for non-loopback requests that change the node (default: generated into the datadir)",
    )
    .option(
      "--api-hosts <names>",
      "host names the HTTP API answers to besides IP addresses and localhost, comma-separated " +
        "(*.lan for a domain, * for any): other names are refused, against DNS rebinding",
      apiHostsArg,
      [],
    )
    .option(
      "--json-cache-mb <mb>",
      "memory for /blockchain.json's serialized-block cache (0 disables)",
      intArg(0, 4096),
      16,
    )
    .option(
      "--devnet-peers <urls>",
      "HTTP URLs of the other nodes of a devnet, comma-separated: the explorer compares their tips with this one",
      (v: string) => v.split(",").filter(Boolean),
      [],
    )
    .option("--mempool-mb <mb>", "memory for pending records, in MiB", intArg(1, 65536), 64)
    .option(
      "--mempool-expiry <duration>",
      "how long a record may stay pending (90s, 30m, 24h, 7d)",
      durationArg,
      24 * 3_600_000,
    )
    .action(async (o: NodeCommandOptions) => {
      const { runNode } = await import("../run-node.ts");
      await runNode(o);
    });
  for (const opt of [...closedNetworkOptions(), ...witnessOptions()]) cmd.addOption(opt);
  cmd.option(
    "--authors <file>",
    "signed author policy (`jbc authors sign`): only its keys may write records",
  );
  return cmd;
}
