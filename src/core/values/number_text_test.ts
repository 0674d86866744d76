import assert from "node:assert/strict";
import { test } from "node:test";
import { plainNumberText } from "./number_text.ts";

test("plainNumberText writes JSON numbers without an exponent, keeping every digit", () => {
  const cases: [string, string][] = [
    ["0", "0"], ["-0", "-0"], ["12.50", "12.50"], ["1.5e2", "150"], ["1.5E+2", "150"], ["1e0", "1"], ["1.25e1", "12.5"],
    ["-25E-3", "-0.025"], ["123e-3", "0.123"], ["9223372036854775807", "9223372036854775807"], ["12345678901234567890.123", "12345678901234567890.123"],
  ];
  for (const [text, plain] of cases) assert.equal(plainNumberText(text), plain, text);
});

test("plainNumberText refuses what is not JSON number syntax, and exponents past ±400", () => {
  for (const text of ["", "+1", "01", "1.", ".5", "1e", "0x10", "NaN", "Infinity", "1e401", "1e-401"]) assert.equal(plainNumberText(text), undefined, text);
});
