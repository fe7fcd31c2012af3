import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MEDIAN_TIME_SPAN, medianTimePast } from "../../src/consensus/time.ts";

// Bitcoin Core's GetMedianTimePast sorts the times of the last (up to) 11 blocks and takes
// element n/2: the middle one for odd n, the upper of the two middle ones for even n.
describe("medianTimePast", () => {
  const cases: { name: string; times: number[]; expected: number }[] = [
    { name: "one block", times: [100], expected: 100 },
    { name: "two blocks: the later of the two", times: [100, 200], expected: 200 },
    { name: "three blocks", times: [100, 200, 300], expected: 200 },
    { name: "four blocks: upper middle", times: [10, 20, 30, 40], expected: 30 },
    { name: "unsorted (a miner's clock ran ahead)", times: [100, 500, 101, 102, 103], expected: 102 },
    { name: "equal times", times: [7, 7, 7, 7], expected: 7 },
    { name: "eleven blocks", times: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], expected: 6 },
    // Only the last 11 count: the leading 1000s are older than the window.
    {
      name: "twelve blocks: the oldest is ignored",
      times: [1000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      expected: 6,
    },
    {
      name: "many old outliers before the window",
      times: [...Array(20).fill(9999), 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60],
      expected: 55,
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(medianTimePast(c.times), c.expected));
  }

  it("spans 11 blocks, as in Bitcoin", () => assert.equal(MEDIAN_TIME_SPAN, 11));

  it("refuses an empty list", () => assert.throws(() => medianTimePast([]), RangeError));

  it("does not reorder the caller's array", () => {
    const times = [3, 1, 2];
    medianTimePast(times);
    assert.deepEqual(times, [3, 1, 2]);
  });

  it("has as many of the last 11 times at or below it as above it, give or take one (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 30 }),
        (times) => {
          const window = times.slice(-11);
          const m = medianTimePast(times);
          assert.ok(window.includes(m));
          const below = window.filter((t) => t < m).length;
          const above = window.filter((t) => t > m).length;
          // m is element floor(n/2) of the sorted window.
          assert.ok(below <= Math.floor(window.length / 2));
          assert.ok(above <= window.length - 1 - Math.floor(window.length / 2));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
