import { Option } from "commander";
import { devnet } from "../consensus/params.ts";
import { networkArg } from "./options.ts";

/**
 * `--network <name>`: parsed into the network's parameter set, devnet by default. The default is shown
 * in help by its name: the parameter set itself holds bigints and blocks, which help cannot print.
 */
export function networkOption(): Option {
  return new Option("--network <name>", "devnet or regtest").argParser(networkArg).default(devnet, "devnet");
}
