/**
 * Property tests over random header trees with reorgs (fast-check): branches off random points near the
 * tip, at random spacings (so ASERT's bits move both ways), delivered as answers from separate sources,
 * some of them corrupted. The client's best chain, its answer for every header and the sources it names
 * must match a model that knows which headers are valid.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { LightClient, loadLightState, saveLightState } from "../../src/light/index.ts";
import { pruneSlack } from "../../src/light/tree.ts";
import { asertnet, extend, genesisLink, type Link, raws } from "../helpers/headers.ts";

interface Answer {
  source: string;
  from: number;
  links: Link[];
  /** The source's whole chain up to this answer's last header (index = height): what a sync backs off into. */
  chain: Link[];
}

interface Step {
  branch: number;
  back: number;
  length: number;
  spacings: number[];
  chunk: number;
}

/** A random tree: each step grows a branch off a header near the tip of a random earlier branch. */
const treeArb: fc.Arbitrary<Step[]> = fc.array(
  fc.record({
    branch: fc.nat(),
    back: fc.nat({ max: 6 }),
    length: fc.integer({ min: 1, max: 7 }),
    spacings: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 7, maxLength: 7 }),
    chunk: fc.integer({ min: 1, max: 7 }),
  }),
  { minLength: 1, maxLength: 7 },
);

/** Builds the tree and the answers that deliver it (a branch in chunks, each chunk its own source). */
function build(steps: Step[]): { answers: Answer[]; all: Map<string, Link> } {
  const branches: Link[][] = [[genesisLink(asertnet)]];
  const answers: Answer[] = [];
  const all = new Map<string, Link>();
  steps.forEach((s, i) => {
    const base = branches[s.branch % branches.length]!;
    const cut = Math.max(1, base.length - s.back);
    const grown = extend(asertnet, base.slice(0, cut), s.length, {
      miner: `m${i}`,
      spacing: (k) => s.spacings[k]!,
    });
    branches.push(grown);
    const fresh = grown.slice(cut);
    for (let k = 0; k < fresh.length; k += s.chunk)
      answers.push({
        source: `s${i}.${k}`,
        from: fresh[k]!.height,
        links: fresh.slice(k, k + s.chunk),
        chain: grown.slice(0, cut + k + s.chunk),
      });
    for (const l of fresh) all.set(l.hash, l);
  });
  return { answers, all };
}

const parentOf = (l: Link): string => Buffer.from(l.raw.subarray(4, 36)).reverse().toString("hex");

/** The model: which headers join (parent known, not corrupted) and the best tip (strictly more work wins). */
function model(answers: readonly Answer[], corrupt?: { answer: number; index: number }) {
  const accepted = new Map<string, Link>([[asertnet.genesisHash, genesisLink(asertnet)]]);
  let best = accepted.get(asertnet.genesisHash)!;
  answers.forEach((a, i) => {
    if (!accepted.has(parentOf(a.links[0]!)) && !(corrupt?.answer === i && corrupt.index === 0)) return;
    for (let k = 0; k < a.links.length; k++) {
      if (corrupt?.answer === i && corrupt.index === k) return;
      const l = a.links[k]!;
      if (accepted.has(l.hash)) continue;
      accepted.set(l.hash, l);
      if (l.chainWork > best.chainWork) best = l;
    }
  });
  return { accepted, best };
}

/** Whether `a` is `b` or one of its ancestors, among accepted headers. */
function ancestor(a: Link, b: Link, accepted: Map<string, Link>): boolean {
  let n: Link | undefined = b;
  while (n && n.height > a.height) n = accepted.get(parentOf(n));
  return n?.hash === a.hash;
}

describe("light client properties over random header trees", () => {
  it("keeps the most-work valid chain and answers for every header as the model does", () => {
    fc.assert(
      fc.property(treeArb, (steps) => {
        const { answers } = build(steps);
        const c = new LightClient(asertnet);
        for (const a of answers) {
          const r = c.add(a.source, raws(a.links), { from: a.from });
          assert.equal(r.fault, undefined);
          assert.equal(r.unconnected, false);
        }
        const { accepted, best } = model(answers);
        assert.equal(c.best.hash, best.hash);
        for (const l of accepted.values()) {
          const at = c.locate(l.hash);
          if (ancestor(l, best, accepted)) {
            assert.equal(at.status, "main");
            if (at.status === "main") {
              assert.equal(at.confirmations, best.height - l.height + 1);
              assert.equal(
                at.workOnTop,
                best.chainWork - l.chainWork + (l.chainWork - (accepted.get(parentOf(l))?.chainWork ?? 0n)),
              );
            }
          } else {
            assert.equal(at.status, "side");
            if (at.status === "side") {
              let f: Link | undefined = l;
              while (f && !ancestor(f, best, accepted)) f = accepted.get(parentOf(f));
              assert.equal(at.fork.hash, f?.hash);
              assert.equal(at.bestWork, best.chainWork - f!.chainWork);
              assert.ok(at.branchWork >= l.chainWork - f!.chainWork);
            }
          }
        }
        // Every source whose tip is on the best chain agrees; the others disagree.
        for (const a of answers) {
          const v = c.verdict(a.source);
          const tip = a.links[a.links.length - 1]!;
          assert.equal(v.status, ancestor(tip, best, accepted) ? "agrees" : "disagrees");
        }
      }),
      { numRuns: 25 },
    );
  });

  it("names the source of a corrupted header and keeps the best chain of the rest", () => {
    fc.assert(
      fc.property(
        treeArb,
        fc.nat(),
        fc.nat(),
        fc.constantFrom("bits", "link", "time"),
        (steps, ai, ki, kind) => {
          const { answers } = build(steps);
          const answer = ai % answers.length;
          const target = answers[answer]!;
          const index =
            kind === "link"
              ? target.links.length > 1
                ? 1 + (ki % (target.links.length - 1))
                : -1
              : ki % target.links.length;
          fc.pre(index >= 0);
          const original = target.links[index]!;
          const raw = Uint8Array.from(original.raw);
          const v = new DataView(raw.buffer);
          if (kind === "bits") v.setUint32(72, v.getUint32(72, true) ^ 1, true);
          else if (kind === "link") raw[4] = raw[4]! ^ 0xff;
          else v.setUint32(68, v.getUint32(68, true) - 3600, true);
          const c = new LightClient(asertnet);
          let fault: { source: string; code: string; height?: number } | undefined;
          answers.forEach((a, i) => {
            const hs = raws(a.links);
            if (i === answer) hs[index] = raw;
            const r = c.add(a.source, hs, { from: a.from });
            if (r.fault) fault = r.fault;
          });
          const { best } = model(answers, { answer, index });
          assert.equal(c.best.hash, best.hash);
          // The corrupted answer was delivered unless its branch never connected.
          const m = model(answers.slice(0, answer));
          const connected = m.accepted.has(parentOf(target.links[0]!));
          if (!connected) return;
          assert.ok(fault, `no fault for a ${kind} corruption`);
          assert.equal(fault.source, target.source);
          assert.equal(fault.height, original.height);
          const codes = {
            bits: ["BAD_BITS", "HIGH_HASH"],
            link: ["BAD_LINK"],
            time: ["TIME_TOO_OLD", "HIGH_HASH"],
          };
          assert.ok(codes[kind].includes(fault.code), `${kind}: ${fault.code}`);
          assert.equal(c.verdict(target.source).status, "faulty");
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a client with a small window, saved and loaded between answers, ends where an unbounded one does", () => {
    fc.assert(
      fc.property(treeArb, fc.integer({ min: 1, max: 5 }), (steps, every) => {
        const { answers } = build(steps);
        const full = new LightClient(asertnet, { window: 0 });
        let small = new LightClient(asertnet, { window: 3, checkpointEvery: 2, maxCheckpoints: 3 });
        answers.forEach((a, i) => {
          full.add(a.source, raws(a.links), { from: a.from });
          // The saved state keeps the best chain only: a branch whose start was forgotten is asked for
          // again from lower down, as a sync backs off, down to the window's base.
          if (small.add(a.source, raws(a.links), { from: a.from }).unconnected) {
            const from = small.base.height + 1;
            small.add(a.source, raws(a.chain.slice(from)), { from });
          }
          if (i % every === 0)
            small = loadLightState(asertnet, JSON.parse(JSON.stringify(saveLightState(small))));
        });
        // The same best chain, unless the heavier branch forks below the small client's window (where it
        // has nowhere to join: a rewrite deeper than the window, reported by a sync as a divergence).
        if (small.best.hash !== full.best.hash) {
          const at = full.locate(small.best.hash);
          assert.equal(at.status, "side");
          if (at.status === "side") assert.ok(at.fork.height < small.base.height, "forks below the window");
        }
        const state = saveLightState(small);
        assert.ok(state.headers.count <= 3 + 1 + pruneSlack(3) + 1, `${state.headers.count} headers kept`);
        assert.ok(state.checkpoints.length <= 3);
      }),
      { numRuns: 25 },
    );
  });
});
