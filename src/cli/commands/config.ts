import { Command } from "commander";
import { settingsOf, withConfig } from "../config.ts";
import { nodeCommand } from "./node.ts";

/** Shown instead of the value of settings that are secrets. */
const SECRET = new Set(["api-token"]);

function show(key: string, value: unknown): string {
  if (value === undefined) return "(unset)";
  if (SECRET.has(key)) return "(set, not shown)";
  if (Array.isArray(value)) return value.length ? value.join(",") : "(none)";
  if (value && typeof value === "object" && "name" in value) return String(value.name);
  return String(value);
}

/** `jbc config print`: the settings `jbc node` would run with, and where each came from. */
export function configCommand(): Command {
  const config = new Command("config").description(
    "show the settings jbc node would run with, and where each comes from",
  );
  const print = new Command("print").description(
    "print jbc node's effective settings: flags > JBC_* environment > --config file > defaults",
  );
  // The same options as `jbc node` (its --config is added again by withConfig).
  for (const o of nodeCommand().options) if (o.attributeName() !== "config") print.addOption(o);
  withConfig(print).action(() => {
    const rows = settingsOf(print).map((s) => [s.key, show(s.key, s.value), s.source, s.env]);
    const header = ["setting", "value", "from", "environment variable"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]): string =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd();
    console.log([line(header), ...rows.map(line)].join("\n"));
  });
  config.addCommand(print);
  return config;
}
