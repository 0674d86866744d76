import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDecimal, toUnscaled } from "./decimal.ts";

test("toUnscaled reads strings, numbers and bigints at a scale, and formatDecimal writes them back", () => {
  assert.equal(toUnscaled("12.5", 2), 1250n);
  assert.equal(toUnscaled("-.5", 2), -50n);
  assert.equal(toUnscaled("+3", 0), 3n);
  assert.equal(toUnscaled("1.2300", 2), 123n);
  assert.equal(toUnscaled(0.1, 2), 10n);
  assert.equal(toUnscaled(7n, 3), 7000n);
  assert.equal(formatDecimal(1250n, 2), "12.50");
  assert.equal(formatDecimal(-5n, 2), "-0.05");
  assert.equal(formatDecimal(42n, 0), "42");
});

test("toUnscaled refuses values that would lose digits or are not decimals", () => {
  for (const v of ["12.345", "1e3", "", ".", Infinity, true]) assert.equal(toUnscaled(v, 2), undefined, String(v));
});
