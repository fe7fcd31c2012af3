import { Chain } from "../chain/chain.ts";
import type { NetworkParams } from "../consensus/params.ts";
import type { SignatureCache } from "../consensus/sigcache.ts";
import { LevelStore } from "../store/level.ts";
import type { Logger } from "../util/logger.ts";
import { adoptAuthorPolicy } from "./authors.ts";
import { useNativeCrypto } from "./crypto.ts";
import { chainDir } from "./paths.ts";

/**
 * Opens the store in `datadir` and the chain on it (closing the store again if the chain cannot open): the
 * first two parts of every node, and all `jbc mine` needs besides a miner (adapters.ts `chainMiner`).
 */
export async function openChainStore(opts: {
  params: NetworkParams;
  datadir: string;
  logger: Logger;
  syncWrites?: boolean;
  now?: () => number;
  /** Signatures the node's mempool verified, which the chain need not verify again (sigcache.ts). */
  signatures?: SignatureCache;
}): Promise<{ store: LevelStore; chain: Chain }> {
  useNativeCrypto(); // every chain a process opens hashes through OpenSSL (docs/architecture.md)
  const store = await LevelStore.open(chainDir(opts.datadir), opts.params, {
    sync: opts.syncWrites ?? false,
  });
  try {
    const chain = await Chain.open({
      params: opts.params,
      store,
      logger: opts.logger,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.signatures ? { signatures: opts.signatures } : {}),
    });
    await adoptAuthorPolicy(opts.datadir, opts.params, chain.tip.height).catch(async (err: unknown) => {
      await chain.close();
      throw err;
    });
    return { store, chain };
  } catch (err) {
    await store.close();
    throw err;
  }
}
