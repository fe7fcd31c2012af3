/**
 * Generates the WebAssembly text of the SIMD mining kernel: double SHA-256 of an 80-byte header for four
 * consecutive nonces per pass, one nonce per 32-bit lane of a v128.
 *
 * Writing 125 unrolled rounds by hand would be error-prone, so this program writes them. It runs the
 * SHA-256 algorithm symbolically over a small expression graph in which every value is one of:
 *   - a constant known now (round constants, padding, the second hash's initial state),
 *   - an invariant of the call (midstate, header words before the nonce, and anything computed only
 *     from those: rounds 0..2 of the second block, schedule words 16 and 17),
 *   - per-pass (anything that depends on the nonce).
 * Constants are folded here, invariants are computed once before the loop, and only per-pass values are
 * computed in the loop. Values used once are inlined into their user; others go into locals.
 *
 * Exported function, same contract as the native and TypeScript kernels:
 *   scan(s0..s7, w0, w1, w2, targetTop, start, count) -> offset of the first nonce in
 *   [start, start + count) whose top 32 hash bits are <= targetTop, or -1.
 */

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
];
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const CONST = 0;
const INVARIANT = 1;
const PER_PASS = 2;

/** Expression graph with constant folding. */
class Graph {
  nodes = [];

  node(op, args, extra = {}) {
    const level = args.reduce((l, a) => Math.max(l, a.level), extra.level ?? CONST);
    const n = { id: this.nodes.length, op, args, level, uses: 0, ...extra };
    for (const a of args) a.uses++;
    this.nodes.push(n);
    return n;
  }

  constant(v) {
    return { id: -1, op: "const", args: [], level: CONST, uses: 0, value: v >>> 0 };
  }

  /** A value read from a function parameter (splatted) or from the loop's nonce vector. */
  input(name, level) {
    return this.node("input", [], { level, name });
  }

  add(...terms) {
    // Fold constants together and sum invariants before per-pass terms, so the most work is hoisted.
    let c = 0;
    const inv = [];
    const pass = [];
    for (const t of terms) {
      if (t.op === "const") c = (c + t.value) >>> 0;
      else (t.level === INVARIANT ? inv : pass).push(t);
    }
    let acc = null;
    for (const t of [...inv, ...pass]) {
      acc = acc === null ? t : this.node("add", [acc, t]);
      // Put the constant right after the invariant part, keeping it out of the loop when possible.
      if (c !== 0 && (t === inv[inv.length - 1] || (inv.length === 0 && t === pass[0]))) {
        acc = this.node("add", [acc, this.constant(c)]);
        c = 0;
      }
    }
    return acc === null ? this.constant(c) : acc;
  }

  binary(op, a, b, fold) {
    if (a.op === "const" && b.op === "const") return this.constant(fold(a.value, b.value));
    return this.node(op, [a, b]);
  }

  xor(a, b) {
    if (a.op === "const" && a.value === 0) return b;
    if (b.op === "const" && b.value === 0) return a;
    return this.binary("xor", a, b, (x, y) => x ^ y);
  }

  rotr(x, n) {
    if (x.op === "const") return this.constant((x.value >>> n) | (x.value << (32 - n)));
    return this.node("rotr", [x], { shift: n });
  }

  shr(x, n) {
    if (x.op === "const") return this.constant(x.value >>> n);
    return this.node("shr", [x], { shift: n });
  }

  /** (x & m) | (y & ~m) */
  select(x, y, m) {
    if (x.op === "const" && y.op === "const" && m.op === "const")
      return this.constant((x.value & m.value) | (y.value & ~m.value));
    return this.node("select", [x, y, m]);
  }

  bswap(x) {
    return this.node("bswap", [x]);
  }
}

function bigSigma0(g, x) {
  return g.xor(g.xor(g.rotr(x, 2), g.rotr(x, 13)), g.rotr(x, 22));
}
function bigSigma1(g, x) {
  return g.xor(g.xor(g.rotr(x, 6), g.rotr(x, 11)), g.rotr(x, 25));
}
function smallSigma0(g, x) {
  return g.xor(g.xor(g.rotr(x, 7), g.rotr(x, 18)), g.shr(x, 3));
}
function smallSigma1(g, x) {
  return g.xor(g.xor(g.rotr(x, 17), g.rotr(x, 19)), g.shr(x, 10));
}

/**
 * Runs `rounds` rounds of compression over message words `w` (16 nodes) from `state` (8 nodes) and
 * returns the working variables after the last round (not yet added to the input state).
 */
function rounds(g, state, w, count) {
  const W = w.slice();
  for (let t = 16; t < count; t++) {
    W[t] = g.add(smallSigma1(g, W[t - 2]), W[t - 7], smallSigma0(g, W[t - 15]), W[t - 16]);
  }
  let [a, b, c, d, e, f, gg, h] = state;
  for (let t = 0; t < count; t++) {
    // Ch(e,f,g) = e ? f : g and Maj(a,b,c) = (a ^ c) ? b : c are single bit-selects.
    const t1 = g.add(h, bigSigma1(g, e), g.select(f, gg, e), g.constant(K[t]), W[t]);
    const t2 = g.add(bigSigma0(g, a), g.select(b, c, g.xor(a, c)));
    h = gg;
    gg = f;
    f = e;
    e = g.add(d, t1);
    d = c;
    c = b;
    b = a;
    a = g.add(t1, t2);
  }
  return [a, b, c, d, e, f, gg, h];
}

function buildGraph() {
  const g = new Graph();
  const mid = Array.from({ length: 8 }, (_, i) => g.input(`s${i}`, INVARIANT));
  const nonceWord = g.bswap(g.input("nonces", PER_PASS));
  const block2 = [
    g.input("w0", INVARIANT),
    g.input("w1", INVARIANT),
    g.input("w2", INVARIANT),
    nonceWord,
    g.constant(0x80000000),
    ...Array.from({ length: 10 }, () => g.constant(0)),
    g.constant(640),
  ];
  const v1 = rounds(g, mid, block2, 64);
  const digest = v1.map((v, i) => g.add(mid[i], v));
  const block3 = [
    ...digest,
    g.constant(0x80000000),
    ...Array.from({ length: 6 }, () => g.constant(0)),
    g.constant(256),
  ];
  // Rounds 61..63 only move e61 down to h; the last state word is e61 + IV[7].
  const v2 = rounds(
    g,
    IV.map((x) => g.constant(x)),
    block3,
    61,
  );
  const last = g.bswap(g.add(v2[4], g.constant(IV[7])));
  last.uses++; // the result is read by the comparison emitted after the graph
  return { g, last };
}

function hex(v) {
  return `0x${(v >>> 0).toString(16).padStart(8, "0")}`;
}

const BSWAP_LANES = "3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12";

/** Emits the graph as folded WAT expressions; multi-use values and hoisted invariants become locals. */
function emit(g, last) {
  const locals = new Set();
  const prologue = [];
  const body = [];
  const localName = (n) => `$v${n.id}`;
  // An invariant read inside the loop must be computed before it.
  const needsLocal = new Set();
  for (const n of g.nodes) {
    if (n.uses > 1 || n === last) needsLocal.add(n.id);
    if (n.level === PER_PASS) for (const a of n.args) if (a.level === INVARIANT) needsLocal.add(a.id);
    if (n.op === "input") needsLocal.add(n.id);
  }

  const expr = (n) => {
    if (n.op === "const") {
      const h = hex(n.value);
      return `(v128.const i32x4 ${h} ${h} ${h} ${h})`;
    }
    if (needsLocal.has(n.id)) return `(local.get ${localName(n)})`;
    return inline(n);
  };
  const inline = (n) => {
    const [x, y, m] = n.args;
    switch (n.op) {
      case "add":
        return `(i32x4.add ${expr(x)} ${expr(y)})`;
      case "xor":
        return `(v128.xor ${expr(x)} ${expr(y)})`;
      case "rotr": {
        // No SIMD rotate in WebAssembly: two shifts and an or. The operand is read twice, so it is
        // always a local or a constant by construction (every rotr input has several users).
        const e = expr(x);
        return `(v128.or (i32x4.shr_u ${e} (i32.const ${n.shift})) (i32x4.shl ${e} (i32.const ${32 - n.shift})))`;
      }
      case "shr":
        return `(i32x4.shr_u ${expr(x)} (i32.const ${n.shift}))`;
      case "select":
        return `(v128.bitselect ${expr(x)} ${expr(y)} ${expr(m)})`;
      case "bswap": {
        const e = expr(x);
        return `(i8x16.shuffle ${BSWAP_LANES} ${e} ${e})`;
      }
      case "input":
        if (n.name === "nonces") return "(local.get $nonces)";
        return `(i32x4.splat (local.get $${n.name}))`;
      default:
        throw new Error(`unknown op ${n.op}`);
    }
  };

  for (const n of g.nodes) {
    if (!needsLocal.has(n.id)) continue;
    // rotr and bswap read their operand twice: make sure it is a local, not a duplicated expression.
    locals.add(localName(n));
    (n.level === PER_PASS ? body : prologue).push(`(local.set ${localName(n)} ${inline(n)})`);
  }
  return { locals: [...locals], prologue, body };
}

/** Marks operands read twice by rotr/bswap as multi-use so they get locals. */
function markDoubleReads(g) {
  for (const n of g.nodes) if (n.op === "rotr" || n.op === "bswap") n.args[0].uses++;
}

/** The module's WebAssembly text. */
export function generateWat() {
  const { g, last } = buildGraph();
  markDoubleReads(g);
  const { locals, prologue, body } = emit(g, last);
  const params = [
    ...Array.from({ length: 8 }, (_, i) => `(param $s${i} i32)`),
    "(param $w0 i32) (param $w1 i32) (param $w2 i32) (param $top i32) (param $start i32) (param $count i32)",
  ];
  const lastLocal = `$v${last.id}`;
  return `;; Generated by wasm/sha256d-simd.mjs: do not edit by hand.
(module
  (func (export "scan") ${params.join(" ")} (result i32)
    (local $i i32) (local $lane i32) (local $nonces v128) (local $topv v128) (local $hit v128)
    ${locals.map((l) => `(local ${l} v128)`).join(" ")}
    ${prologue.join("\n    ")}
    (local.set $topv (i32x4.splat (local.get $top)))
    (local.set $nonces (i32x4.add (i32x4.splat (local.get $start)) (v128.const i32x4 0 1 2 3)))
    (block $done
      (loop $pass
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        ${body.join("\n        ")}
        (local.set $hit (i32x4.le_u (local.get ${lastLocal}) (local.get $topv)))
        (if (v128.any_true (local.get $hit))
          (then
            ;; Lanes hold increasing nonces, so the lowest set lane is the first hit; past count it is none.
            (local.set $lane (i32.add (local.get $i) (i32.ctz (i32x4.bitmask (local.get $hit)))))
            (if (i32.lt_u (local.get $lane) (local.get $count)) (then (return (local.get $lane))))
            (return (i32.const -1))))
        (local.set $nonces (i32x4.add (local.get $nonces) (v128.const i32x4 4 4 4 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $pass)))
    (i32.const -1)))
`;
}
