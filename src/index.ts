/**
 * jbc as a library: the consensus rules (codecs, hashing, targets, difficulty, validation), the network
 * parameters and the error types. Everything here is pure; the chain, store and node live in their own modules.
 */
export * from "./consensus/index.ts";
