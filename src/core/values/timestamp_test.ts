import assert from "node:assert/strict";
import { test } from "node:test";
import * as timestampModule from "./timestamp.ts";
import { formatTimestamp, microsToMillis, toMicros } from "./timestamp.ts";

test("toMicros reads the publisher's format, ISO-8601 with fractions and zones, Dates and bigints", () => {
  assert.equal(toMicros("2024-01-02 03:04:05"), 1_704_164_645_000_000n);
  assert.equal(toMicros("2024-01-02T03:04:05.123456789Z"), 1_704_164_645_123_456n);
  assert.equal(toMicros("2024-01-02T05:04:05.5+02:00"), 1_704_164_645_500_000n);
  assert.equal(toMicros(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), 1_704_164_645_000_000n);
  assert.equal(toMicros(42n), 42n);
});

test("toMicros refuses days and times that do not exist, and what is not a timestamp", () => {
  for (const v of ["2024-02-30 00:00:00", "2024-02-30T00:00:00Z", "2023-02-29T12:00:00", "2024-01-01 25:00:00", "yesterday", 17, null]) {
    assert.equal(toMicros(v), undefined, String(v));
  }
  assert.equal(toMicros("2024-02-29T12:00:00"), 1_709_208_000_000_000n);
});

test("toMicros reads years 0–99 as themselves, and refuses the publisher's shape with a separator or a digit out of place", () => {
  const year50 = BigInt(Date.parse("0050-03-04T05:06:07Z")) * 1000n;
  assert.equal(toMicros("0050-03-04 05:06:07"), year50, "year 50, not 1950");
  assert.equal(toMicros("0050-03-04T05:06:07Z"), year50);
  assert.notEqual(toMicros("0050-03-04 05:06:07"), toMicros("1950-03-04 05:06:07"));
  for (const v of ["2024-01+02 03:04:05", "2024-01-02 03:04+05", " 202-01-02 03:04:05", "2024-01-02 03:0 :05", "+024-01-02 03:04:05"]) {
    assert.equal(toMicros(v), undefined, v);
  }
});

test("microsToMillis rounds towards the past, before 1970 too", () => {
  assert.equal(microsToMillis(1_999n), 1n);
  assert.equal(microsToMillis(-1n), -1n);
  assert.equal(microsToMillis(-1_000n), -1n);
});

test("formatTimestamp writes six fraction digits in UTC", () => {
  assert.equal(formatTimestamp(1_704_164_645_000_001n, " "), "2024-01-02 03:04:05.000001");
  assert.equal(formatTimestamp(-1n, "T"), "1969-12-31T23:59:59.999999");
});

test("stringMicros gives toMicros's instant for every publisher-shaped string, existing or not", () => {
  const { stringMicros } = timestampModule;
  const p = (x: number, w: number) => String(x).padStart(w, "0");
  let seed = 7;
  const r = (lo: number, hi: number) => lo + ((seed = (seed * 1103515245 + 12345) % 2147483648) % (hi - lo + 1));
  const cases = ["2024-02-29 00:00:00", "2023-02-29 00:00:00", "1900-02-29 00:00:00", "2000-02-29 12:00:00", "1969-12-31 23:59:59",
    "0050-01-01 00:00:00", "0100-03-01 00:00:00", "9999-12-31 23:59:59", "2024-01-01 24:00:00", "2024-01-01T00:00:00", "2024-01-01 00:00:00.5", "2024-1x-01 00:00:00"];
  for (let k = 0; k < 20_000; k++) cases.push(`${p(r(0, 9999), 4)}-${p(r(0, 13), 2)}-${p(r(0, 32), 2)} ${p(r(0, 24), 2)}:${p(r(0, 60), 2)}:${p(r(0, 60), 2)}`);
  for (const s of cases) {
    const want = toMicros(s);
    const got = stringMicros(s);
    assert.equal(got === undefined ? undefined : BigInt(got), want, s);
    if (got !== undefined) assert.equal(typeof got, Number.isSafeInteger(Number(want)) ? "number" : "bigint", s);
  }
});
