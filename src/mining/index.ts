/**
 * Mining: nonce-search kernels (native SHA-NI, WebAssembly SIMD, TypeScript), a worker-thread pool, and
 * the Miner that follows the tip and submits through processBlock. See docs/mining.md.
 */
export {
  KERNEL_NAMES,
  type Kernel,
  type KernelChoice,
  type KernelName,
  type KernelStatus,
  kernelStatus,
  loadKernel,
} from "./kernels/index.ts";
export {
  type BlockFound,
  type HashRateStats,
  Miner,
  type MinerEvents,
  type MinerOptions,
  type SubmitOutcome,
} from "./miner.ts";
export { MiningPool, type PoolEvents, type PoolJob, type PoolOptions, type PoolSolution } from "./pool.ts";
export { findNonce, hashMeetsTarget, type PreparedHeader, prepareHeader } from "./search.ts";
