import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatHashRate, progressBar } from "../../src/util/format.ts";

describe("formatHashRate: three significant digits in the largest unit reached", () => {
  it("rounds the same way at every scale", () => {
    const cases: [number, string][] = [
      [0, "0 H/s"],
      [999.4, "999 H/s"],
      [1000, "1.00 kH/s"],
      [13_704_000, "13.7 MH/s"],
      [137_040_000, "137 MH/s"],
      [2_504_000_000, "2.50 GH/s"],
      [4.2e15, "4.20 PH/s"],
      [4.2e18, "4200 PH/s"],
    ];
    for (const [h, want] of cases) assert.equal(formatHashRate(h), want, String(h));
  });
});

describe("progressBar", () => {
  it("fills in proportion and caps at 100%", () => {
    assert.equal(progressBar(5, 10, 10), "[#####.....]  50% 5/10");
    assert.equal(progressBar(20, 10, 4), "[####] 100% 20/10");
    assert.equal(progressBar(0, 0, 2), "[##] 100% 0/0");
  });
});
