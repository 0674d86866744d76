import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDate, toDays } from "./date.ts";

test("toDays reads YYYY-MM-DD, Dates and day numbers, and formatDate writes them back", () => {
  assert.equal(toDays("2024-01-02"), 19_724);
  assert.equal(toDays(new Date(Date.UTC(2024, 0, 2, 23, 59))), 19_724);
  assert.equal(toDays(-1), -1);
  assert.equal(formatDate(19_724), "2024-01-02");
  assert.equal(formatDate(-1), "1969-12-31");
});

test("toDays refuses what is not a date", () => {
  for (const v of ["2024-13-01", "2024-02-30", "02/01/2024", 1.5, new Date(NaN), null]) assert.equal(toDays(v), undefined, String(v));
});
