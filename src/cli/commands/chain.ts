import { resolve } from "node:path";
import { Command } from "commander";
import { StoreError } from "../../chain/store.ts";
import { verifyChain } from "../../chain/verify.ts";
import type { NetworkParams } from "../../consensus/params.ts";
import { useNativeCrypto } from "../../node/crypto.ts";
import { chainDir, defaultDatadir } from "../../node/paths.ts";
import { LevelStore } from "../../store/level.ts";
import { errorMessage } from "../../util/errors.ts";
import { progressBar } from "../../util/format.ts";
import { networkOption } from "../network-option.ts";
import { portArg } from "../options.ts";

interface VerifyOptions {
  datadir?: string;
  network: NetworkParams;
  port: number;
}

/** `jbc chain verify`: re-checks a stopped node's whole store. */
export function chainCommand(): Command {
  const chain = new Command("chain").description("inspect a node's stored chain");
  chain
    .command("verify")
    .description("re-check every stored block from genesis (the node must be stopped)")
    .option("--datadir <dir>", "data directory (default ./.jbc/<network>/<port>)")
    .addOption(networkOption())
    .option("-p, --port <port>", "HTTP port of the node, to find its default data directory", portArg, 5000)
    .action(async (o: VerifyOptions) => {
      const datadir = o.datadir ? resolve(o.datadir) : defaultDatadir(o.network.name, o.port);
      let store: LevelStore;
      try {
        useNativeCrypto();
        store = await LevelStore.open(chainDir(datadir), o.network, { create: false });
      } catch (err) {
        const hint = err instanceof StoreError && err.code === "LOCKED" ? " (stop the node first)" : "";
        console.error(`jbc chain verify: ${errorMessage(err)}${hint}`);
        process.exitCode = 1;
        return;
      }
      const tty = process.stderr.isTTY === true;
      let lastLine = 0;
      try {
        const result = await verifyChain(store, o.network, {
          onProgress: (done, total) => {
            if (tty) process.stderr.write(`\r${progressBar(done, total)}`);
            else if (done === total || Date.now() - lastLine > 2000) {
              lastLine = Date.now();
              process.stderr.write(`${progressBar(done, total)}\n`);
            }
          },
        });
        if (tty) process.stderr.write("\n");
        if (result.ok) {
          console.log(
            `ok: ${result.checked} main-chain blocks and ${result.entries} index entries check out; tip ${result.height} ${result.tip ?? ""}`,
          );
        } else {
          console.log(`FAILED: ${result.problems.length} problem(s) in ${datadir}`);
          for (const p of result.problems) console.log(`  - ${p}`);
          process.exitCode = 1;
        }
      } finally {
        await store.close();
      }
    });
  return chain;
}
