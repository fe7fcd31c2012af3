import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { IdFilter } from "../../src/store/filter.ts";

test("the record-id filter never misses an added id, and lets few new ones through", () => {
  const f = new IdFilter(50_000);
  const added = Array.from({ length: 50_000 }, () => new Uint8Array(randomBytes(32)));
  for (const id of added) f.add(id);
  assert.ok(added.every((id) => f.mayHave(id)));
  let through = 0;
  for (let i = 0; i < 50_000; i++) if (f.mayHave(new Uint8Array(randomBytes(32)))) through++;
  // About 1% at 10 bits and 7 probes per id; 3% leaves room for chance.
  assert.ok(through < 1_500, `${through} of 50,000 new ids passed`);
});
