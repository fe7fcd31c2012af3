import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { throttle } from "../../src/util/throttle.ts";

describe("throttle", () => {
  it("runs at once, coalesces calls inside the interval into one trailing run, and loses none", () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      let runs = 0;
      const t = throttle(() => runs++, 250);
      t.call();
      assert.equal(runs, 1, "leading run");
      t.call();
      t.call();
      mock.timers.tick(249);
      assert.equal(runs, 1, "nothing before the interval ends");
      mock.timers.tick(1);
      assert.equal(runs, 2, "one trailing run for both calls");
      mock.timers.tick(250);
      assert.equal(runs, 2, "no run without a call");
      t.call();
      assert.equal(runs, 3, "a quiet interval later, a call runs at once");
      mock.timers.tick(100);
      t.call();
      mock.timers.tick(150);
      assert.equal(runs, 4);
      t.call();
      t.cancel();
      mock.timers.tick(1000);
      assert.equal(runs, 4, "cancel drops the pending run");
      t.call();
      assert.equal(runs, 5, "and the next call runs at once");
    } finally {
      mock.timers.reset();
    }
  });
});
