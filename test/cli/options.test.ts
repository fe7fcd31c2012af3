import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "commander";
import { intArg, portArg } from "../../src/cli/options.ts";

describe("intArg: the one integer argument parser", () => {
  it("takes decimal digits in range", () => {
    assert.equal(intArg(1, 32)("7"), 7);
    assert.equal(intArg(1)("9007199254740991"), Number.MAX_SAFE_INTEGER);
    assert.equal(portArg("0"), 0);
    assert.equal(portArg("65535"), 65535);
  });

  it("refuses what Number() would take but a user did not mean: hex, signs, exponents, fractions, blanks", () => {
    for (const v of [
      "0x10",
      "+5",
      "1e3",
      "5.0",
      "5.",
      " 5",
      "5 ",
      "",
      "-1",
      "0b1",
      "Infinity",
      "NaN",
      "１",
    ]) {
      assert.throws(() => intArg(0)(v), InvalidArgumentError, JSON.stringify(v));
    }
  });

  it("refuses values out of range and beyond safe integers", () => {
    assert.throws(() => intArg(1, 32)("0"), /from 1 to 32/);
    assert.throws(() => intArg(1, 32)("33"), /from 1 to 32/);
    assert.throws(() => intArg(1)("0"), /at least 1/);
    assert.throws(() => portArg("65536"), InvalidArgumentError);
    assert.throws(() => intArg(1)("9007199254740993"), InvalidArgumentError);
  });
});
