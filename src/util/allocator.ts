/**
 * The native allocator's setting for a `jbc node` process, which must be in its environment before it
 * starts (glibc reads it once). glibc gives every thread that allocates at the same moment as another an
 * arena of its own (up to 8 per core) and keeps each arena's high-water mark after its memory is freed:
 * under issue 17's soak a node's libuv pool threads (LevelDB's reads and writes, file system calls) and
 * LevelDB's compaction thread held 13-15 arenas of 55-85 MB resident in all; with two arenas, 10-22 MB,
 * and the node's RSS about 30 MB lower at the same load, with no loss in latency (docs/benchmarks.md,
 * "Issue 17: soak"). Other C libraries (musl, macOS) ignore the variable.
 */

/** Arenas a node may use, unless its environment already says (MALLOC_ARENA_MAX). */
export const NODE_MALLOC_ARENA_MAX = "2";

/** `env` with MALLOC_ARENA_MAX set to NODE_MALLOC_ARENA_MAX unless it already holds a value. */
export function nodeAllocatorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.MALLOC_ARENA_MAX ? env : { ...env, MALLOC_ARENA_MAX: NODE_MALLOC_ARENA_MAX };
}
