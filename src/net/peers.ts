/**
 * Moved to src/net/peers/scores.ts; this re-export keeps test/util/bounded.test.ts importing until its path
 * is updated (outside this branch's files). Delete it then.
 */
export * from "./peers/scores.ts";
