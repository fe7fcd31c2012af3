import { readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { type Command, InvalidArgumentError, type Option } from "commander";
import { parse as parseToml } from "smol-toml";
import { errorMessage } from "../util/errors.ts";

/**
 * Settings from four places, in this order of precedence: command-line flags > `JBC_*` environment
 * variables > a config file (`--config FILE` or `JBC_CONFIG`, TOML or JSON) > defaults. Every flag of a
 * command is a key: the flag's long name without dashes (`p2p-port = 6001`; a `--no-x` flag is `x =
 * false`), and an environment variable `JBC_` + the key in upper snake case (`JBC_P2P_PORT=6001`).
 * Values go through the flag's own parser, so a bad one is refused with the flag's message; an unknown
 * key in the file, or a bad value anywhere, stops the command before it starts, naming the key.
 */

/** Where a setting's value came from, as `jbc config print` shows it. */
export type SettingSource = "flag" | "env" | "file" | "default";

export interface Setting {
  key: string;
  env: string;
  value: unknown;
  source: SettingSource;
}

/** One key: the options sharing an attribute (`--log-file <f>` and `--no-log-file`). */
interface Key {
  key: string;
  attr: string;
  env: string;
  value?: Option;
  flag?: Option;
  negate?: Option;
}

const kebab = (attr: string): string => attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function keysOf(cmd: Command): Map<string, Key> {
  const keys = new Map<string, Key>();
  for (const o of cmd.options) {
    const attr = o.attributeName();
    if (attr === "config" || attr === "help") continue;
    const key = kebab(attr);
    const k = keys.get(key) ?? { key, attr, env: `JBC_${key.replace(/-/g, "_").toUpperCase()}` };
    if (o.required || o.optional) k.value = o;
    else if (o.negate) k.negate = o;
    else k.flag = o;
    keys.set(key, k);
  }
  return keys;
}

class SettingError extends Error {}

const TRUE = /^(?:1|true|yes|on)$/i;
const FALSE = /^(?:0|false|no|off)$/i;

/** A raw value (from the environment: a string; from a file: any JSON/TOML value) through the flag's parser. */
function parseValue(k: Key, raw: unknown, current: unknown, fromEnv: boolean): unknown {
  let value = raw;
  if (fromEnv && typeof raw === "string" && (k.flag || k.negate)) {
    if (TRUE.test(raw)) value = true;
    else if (FALSE.test(raw)) value = false;
    else if (!k.value) throw new SettingError("expected true or false");
  }
  if (typeof value === "boolean") {
    if (value && (k.flag || (k.negate && !k.value))) return true;
    if (!value && k.negate) return false;
    if (!value && k.flag) return false;
    throw new SettingError(k.value ? "expected a value" : "expected true or false");
  }
  if (!k.value) throw new SettingError("expected true or false");
  const opt = k.value;
  const parse = (s: string, prev: unknown): unknown => {
    if (typeof s !== "string" || s === "") throw new SettingError("expected a value");
    if (!opt.parseArg) return s;
    try {
      return opt.parseArg(s, prev as never);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new SettingError(err.message);
      throw err;
    }
  };
  // A repeatable flag (`--peer`) takes a list: an array in a file, comma-separated in the environment.
  const repeatable = Array.isArray(opt.defaultValue);
  if (Array.isArray(value) || (repeatable && fromEnv && typeof value === "string")) {
    const items = Array.isArray(value) ? value : String(value).split(",").filter(Boolean);
    if (!repeatable) throw new SettingError("expected a single value, not a list");
    // Parsers either collect (value, previous) or split a comma-separated string themselves.
    const folded = items.reduce<unknown>((acc, item) => parse(String(item), acc), []);
    return Array.isArray(folded) && folded.length === items.length ? folded : parse(items.join(","), []);
  }
  if (typeof value === "number") return parse(String(value), current);
  if (typeof value === "string") return parse(value, current);
  throw new SettingError("expected a string, a number or true/false");
}

/** Reads a config file: TOML, or JSON for a `.json` file. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SettingError(`cannot read config file ${file}: ${errorMessage(err)}`);
  }
  try {
    const data: unknown = extname(file).toLowerCase() === ".json" ? JSON.parse(text) : parseToml(text);
    if (!data || typeof data !== "object" || Array.isArray(data)) throw new Error("not a table of settings");
    return data as Record<string, unknown>;
  } catch (err) {
    throw new SettingError(`config file ${file}: ${errorMessage(err)}`);
  }
}

/**
 * Adds `--config <file>` to `cmd` and, before its action runs, fills every setting not given as a flag
 * from the environment, then from the file. A bad setting ends the command with exit code 2.
 */
export function withConfig(cmd: Command): Command {
  cmd.option("--config <file>", "read settings from a TOML or JSON file (env: JBC_CONFIG)");
  cmd.hook("preAction", (_hooked, action) => {
    if (action !== cmd) return;
    try {
      applySources(cmd);
    } catch (err) {
      if (!(err instanceof SettingError)) throw err;
      cmd.error(`error: ${err.message}`, { exitCode: 2, code: "jbc.config" });
    }
  });
  return cmd;
}

function applySources(cmd: Command): void {
  const keys = keysOf(cmd);
  const file = (cmd.getOptionValue("config") as string | undefined) ?? process.env["JBC_CONFIG"];
  const fileValues = file ? readConfigFile(resolve(file)) : {};
  for (const key of Object.keys(fileValues)) {
    if (!keys.has(key)) {
      const known = [...keys.keys()].join(", ");
      throw new SettingError(`config file ${file}: unknown key "${key}" (known keys: ${known})`);
    }
  }
  for (const k of keys.values()) {
    const source = cmd.getOptionValueSource(k.attr);
    if (source !== undefined && source !== "default") continue;
    const current = cmd.getOptionValue(k.attr);
    const env = process.env[k.env];
    if (env !== undefined) {
      try {
        cmd.setOptionValueWithSource(k.attr, parseValue(k, env, current, true), "env");
      } catch (err) {
        if (err instanceof SettingError) throw new SettingError(`${k.env}=${env}: ${err.message}`);
        throw err;
      }
      continue;
    }
    if (k.key in fileValues) {
      const raw = fileValues[k.key];
      try {
        cmd.setOptionValueWithSource(k.attr, parseValue(k, raw, current, false), "config");
      } catch (err) {
        if (err instanceof SettingError)
          throw new SettingError(`config file ${file}: ${k.key} = ${JSON.stringify(raw)}: ${err.message}`);
        throw err;
      }
    }
  }
}

/** Every setting of `cmd` after parsing: its value, where it came from and its environment variable. */
export function settingsOf(cmd: Command): Setting[] {
  const out: Setting[] = [];
  for (const k of keysOf(cmd).values()) {
    const source = cmd.getOptionValueSource(k.attr);
    out.push({
      key: k.key,
      env: k.env,
      value: cmd.getOptionValue(k.attr),
      source: source === "cli" ? "flag" : source === "env" ? "env" : source === "config" ? "file" : "default",
    });
  }
  return out;
}
