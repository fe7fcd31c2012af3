/**
 * Crash safety: a real node (test/store/crash-child.ts, a child process) is killed with SIGKILL at random
 * moments while it processes a sequence full of reorgs, orphans and an invalidation (see crash-fixtures.ts),
 * and restarted on the same datadir each time. After every kill, with the child dead, the parent opens the
 * store itself and checks that:
 *   - Chain.open succeeds (it re-checks the last blocks);
 *   - verifyChain finds no problem and checks every main-chain block;
 *   - the tip is one a node that was never killed had after the last confirmed delivery, or had at some
 *     committed point while processing the delivery in flight (a block whose arrival connects orphans
 *     commits one batch per block, so those intermediate tips are legitimate states too);
 *   - every block processBlock confirmed as stored (main, side, duplicate, or invalid) is still there.
 * Finally the child runs to the end and its tip must be the reference final tip.
 *
 * The kill schedule comes from a seeded PRNG; JBC_CRASH_SEED=<seed> replays a failing run.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Chain } from "../../src/chain/chain.ts";
import { verifyChain } from "../../src/chain/verify.ts";
import { hexToHash } from "../../src/consensus/header.ts";
import { regtest } from "../../src/consensus/params.ts";
import { LevelStore } from "../../src/store/level.ts";
import { tempDir } from "../helpers/chain.ts";
import {
  buildCrashScenario,
  CRASH_CLOCK,
  prng,
  type Reference,
  referenceRun,
  writeBlockFile,
} from "./crash-fixtures.ts";

const CHILD = fileURLToPath(new URL("./crash-child.ts", import.meta.url));
const KILLS = 30;

/** Spins for sub-millisecond delays, which timers cannot do. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

interface Line {
  index: number;
  hash: string;
  tip: string;
  status: string;
}

/**
 * When to kill: `ms` after spawn, or `delayMs` after the child, held after delivery `afterIndex`, is let go.
 * `limit` is the last delivery the child may start (it waits there, and may die idle).
 */
type KillPlan =
  | { kind: "time"; ms: number; limit: number }
  | { kind: "after"; afterIndex: number; delayMs: number; limit: number };

interface RunResult {
  lines: Line[];
  killed: boolean;
  finished: boolean;
  stderr: string;
  /** Milliseconds from spawn to the first confirmed delivery (startup). */
  firstLineMs: number | undefined;
}

function runChild(dir: string, file: string, total: number, plan: KillPlan | undefined): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", CHILD, dir, file], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const res: RunResult = { lines: [], killed: false, finished: false, stderr: "", firstLineMs: undefined };
    const allow = (n: number): void => {
      child.stdin!.write(`go ${n}\n`);
    };
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    };
    allow(plan === undefined ? total - 1 : plan.kind === "after" ? plan.afterIndex : plan.limit);
    const timer = plan?.kind === "time" ? setTimeout(kill, plan.ms) : undefined;
    child.stdin!.on("error", () => {}); // EPIPE once the child is dead
    child.stderr!.on("data", (d: Buffer) => {
      res.stderr += d.toString();
    });
    createInterface({ input: child.stdout! }).on("line", (text) => {
      if (text === "done") {
        res.finished = true;
        return;
      }
      const [tag, index, hash, tip, status] = text.split(" ");
      if (tag !== "ok" || !hash || !tip || !status) {
        res.stderr += `unexpected stdout line: ${text}\n`;
        return;
      }
      res.firstLineMs ??= performance.now() - started;
      const line = { index: Number(index), hash, tip, status };
      res.lines.push(line);
      if (plan?.kind === "after" && line.index === plan.afterIndex) {
        allow(plan.limit);
        spin(plan.delayMs);
        kill();
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      res.killed = signal === "SIGKILL";
      if (!res.killed && code !== 0) {
        reject(new Error(`child exited with code ${code} signal ${signal}:\n${res.stderr}`));
        return;
      }
      resolve(res);
    });
  });
}

/** Tips a never-killed node may have when `frontier` is the last delivery any life of the child confirmed. */
function acceptableTips(ref: Reference, frontier: number): Set<string> {
  const out = new Set<string>([frontier < 0 ? ref.genesisTip : ref.tipAfter[frontier]!]);
  const next = frontier + 1;
  if (next < ref.tipAfter.length) {
    for (const t of ref.tipsDuring[next]!) out.add(t);
    out.add(ref.tipAfter[next]!);
  }
  return out;
}

describe("crash safety (kill -9)", () => {
  it(`keeps a consistent store through ${KILLS} SIGKILLs during reorgs, orphans and invalidation`, {
    timeout: 180_000,
  }, async (t) => {
    const seed = Number(process.env["JBC_CRASH_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`seed ${seed} (JBC_CRASH_SEED=${seed} replays this kill schedule)`);
    const rand = prng(seed);
    const where = `seed ${seed}`;

    const sc = buildCrashScenario();
    const total = sc.raws.length;
    const work = tempDir("jbc-crash-");
    const dir = join(work, "node");
    const file = join(work, "blocks.bin");
    writeFileSync(file, writeBlockFile(sc.raws));
    try {
      const ref = await referenceRun(join(work, "reference"), sc.raws, sc.blocks);
      assert.equal(ref.tipAfter[total - 1], sc.scenario.hash("z100"), "reference ends on z100");
      assert.equal(ref.reorgAt.size, 9, "b61, a62, c64, d61 (via d66), e69, e72, g73, e74 and g75 reorg");
      const triggers = [...ref.reorgAt].sort((a, b) => a - b);
      /** Per reorg-triggering delivery: the span (ms) kill delays are drawn from. */
      const reorgWindow = new Map<number, number>();
      const windowOf = (i: number): number => reorgWindow.get(i) ?? 1.3 * ref.ms[i]! + 0.3;

      /** Highest delivery index any life of the child confirmed. */
      let frontier = -1;
      /** Hash → last status a child reported for it (orphans excluded: they live in memory only). */
      const confirmed = new Map<string, string>();
      let startupMs = 1000;
      const stats = { kills: 0, timeKills: 0, reorgKills: 0, reorgBefore: 0, reorgAfter: 0, inFlight: 0 };

      const absorb = (run: RunResult): void => {
        const old = frontier;
        for (const l of run.lines) {
          assert.equal(l.hash, sc.hashes[l.index], `${where}: child line for delivery ${l.index}`);
          // Beyond what earlier lives confirmed, the child must agree with the reference exactly.
          if (l.index > old) {
            assert.equal(
              l.tip,
              ref.tipAfter[l.index],
              `${where}: tip after delivery ${l.index} (${sc.names[l.index]})`,
            );
          }
          if (l.status !== "orphan") confirmed.set(l.hash, l.status);
          if (l.index > frontier) frontier = l.index;
        }
        if (run.firstLineMs !== undefined) startupMs = run.firstLineMs;
      };

      /** Checks the datadir of a dead child; returns the tip it recovers to. */
      const checkStore = async (): Promise<string | undefined> => {
        if (!existsSync(join(dir, "CURRENT"))) {
          assert.equal(frontier, -1, `${where}: the database vanished after blocks were confirmed`);
          return undefined;
        }
        const store = await LevelStore.open(dir, regtest, { create: false });
        try {
          const chain = await Chain.open({ params: regtest, store, now: () => CRASH_CLOCK });
          try {
            const v = await verifyChain(store, regtest);
            assert.deepEqual(v.problems, [], `${where}: verifyChain after a kill at frontier ${frontier}`);
            assert.ok(v.ok);
            assert.equal(v.checked, chain.height + 1, `${where}: verify checked every main-chain block`);
            const ok = acceptableTips(ref, frontier);
            assert.ok(
              ok.has(chain.tip.hash),
              `${where}: tip ${chain.tip.hash} (height ${chain.height}) after a kill with frontier ${frontier} ` +
                `(${sc.names[frontier] ?? "genesis"}); expected one of ${[...ok].join(", ")}`,
            );
            if (chain.tip.hash !== (frontier < 0 ? ref.genesisTip : ref.tipAfter[frontier])) stats.inFlight++;
            for (const [hash, status] of confirmed) {
              const e = chain.getEntry(hash);
              assert.ok(e, `${where}: confirmed block ${hash} (${status}) lost from the block index`);
              assert.ok(await chain.getRawBlock(hash), `${where}: confirmed block ${hash} lost its body`);
              // Written in the body's batch: a block of more than 32 records never has one without the other.
              const [upper] = await store.getUpperTrees([hexToHash(hash)]);
              assert.equal(upper !== undefined, e.recordCount > 32, `${where}: ${hash} merkle upper levels`);
              if (status.startsWith("invalid")) {
                assert.ok(
                  e.status === "invalid" || e.status === "invalid-child",
                  `${where}: ${hash} is ${e.status}`,
                );
              }
            }
            return chain.tip.hash;
          } finally {
            await chain.close();
          }
        } finally {
          await store.close();
        }
      };

      for (let k = 0; k < KILLS; k++) {
        // The first reorg not processed yet: the child never runs past it without a kill aimed at it.
        const nextTrigger = triggers.find((i) => i > frontier);
        const limit = nextTrigger === undefined ? total - 1 : nextTrigger - 1;
        const step = 1 + Math.floor(rand() * Math.max(1, (2 * (total - frontier)) / (KILLS - k + 1)));
        const target = Math.min(total - 2, frontier + step);
        let plan: KillPlan;
        if (rand() < 0.15) {
          // During startup: opening the store, loading the tree, the startup re-check.
          plan = { kind: "time", ms: Math.floor(rand() * startupMs), limit };
          stats.timeKills++;
        } else if (nextTrigger !== undefined && nextTrigger - 1 <= target) {
          // Let the reorg-triggering block start and kill a random moment into it (up to a bit past its
          // reference duration): inside the switch (reading and checking the branch, writing the batch)
          // or just after it.
          const delayMs = rand() * windowOf(nextTrigger);
          plan = { kind: "after", afterIndex: nextTrigger - 1, delayMs, limit: total - 1 };
          stats.reorgKills++;
        } else {
          plan = { kind: "after", afterIndex: target, delayMs: rand() * 3, limit };
        }
        const old = frontier;
        const run = await runChild(dir, file, total, plan);
        absorb(run);
        if (run.killed) stats.kills++;
        const tip = await checkStore();
        if (plan.kind === "after" && ref.reorgAt.has(plan.afterIndex + 1) && old <= plan.afterIndex) {
          const before = tip === ref.tipAfter[plan.afterIndex];
          if (before) stats.reorgBefore++;
          else stats.reorgAfter++;
          if (process.env["JBC_CRASH_DEBUG"])
            t.diagnostic(`reorg kill at ${plan.delayMs.toFixed(3)} ms: ${before ? "before" : "after"}`);
          // A fresh child is slower than the warm reference: widen the window until kills land after the
          // commit too, so every reorg is eventually passed.
          if (before) reorgWindow.set(plan.afterIndex + 1, 2 * windowOf(plan.afterIndex + 1));
        }
      }

      const last = await runChild(dir, file, total, undefined);
      absorb(last);
      assert.ok(last.finished, `${where}: the last run completes`);
      assert.equal(last.lines.length, total);
      assert.equal(last.lines.at(-1)!.tip, ref.tipAfter[total - 1], `${where}: final tip`);
      await checkStore();
      assert.equal(frontier, total - 1);
      t.diagnostic(
        `${stats.kills} SIGKILLs over ${total} deliveries: ${stats.timeKills} during startup, ` +
          `${stats.reorgKills} into a reorg (${stats.reorgBefore} recovered the tip before it, ` +
          `${stats.reorgAfter} after it); ${stats.inFlight} recoveries had committed (part of) an ` +
          "unconfirmed delivery",
      );
      assert.ok(stats.kills >= 20, `${where}: at least 20 kills landed (${stats.kills})`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
