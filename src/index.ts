/**
 * jbc as a library: the consensus rules (codecs, hashing, targets, difficulty, validation), the network
 * parameters and the error types, and the light client (src/light: headers, proof files, its state). Everything
 * here is pure and runs in a browser; the chain, store and node live in their own modules.
 */
export * from "./consensus/index.ts";
export * from "./light/index.ts";
