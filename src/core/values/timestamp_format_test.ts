import assert from "node:assert/strict";
import { test } from "node:test";
import {
  compileTimestampPattern,
  epochToMicros,
  inTimestampRange,
  MAX_TIMESTAMP_MICROS,
  microsToDays,
  MIN_TIMESTAMP_MICROS,
} from "./timestamp_format.ts";

const us = (iso: string) => BigInt(Date.parse(iso)) * 1000n;

test("a strftime pattern reads the publisher's format, fractions, zones and month names", () => {
  assert.equal(compileTimestampPattern("%Y-%m-%d %H:%M:%S").parse("2025-03-01 08:00:05"), us("2025-03-01T08:00:05Z"));
  assert.equal(compileTimestampPattern("%Y-%m-%dT%H:%M:%S.%f%z").parse("2025-03-01T10:00:05.123456789+02:00"), us("2025-03-01T08:00:05Z") + 123_456n);
  assert.equal(compileTimestampPattern("%d/%b/%Y:%H:%M:%S %z").parse("10/Oct/2000:13:55:36 -0700"), us("2000-10-10T20:55:36Z"));
  assert.equal(compileTimestampPattern("%d/%b/%Y").parse("1/jan/2024"), us("2024-01-01T00:00:00Z"));
  assert.equal(compileTimestampPattern("%Y%m%d").parse("20240229"), us("2024-02-29T00:00:00Z"));
  assert.equal(compileTimestampPattern("100%% %Y.%m.%d").parse("100% 0001.01.01"), MIN_TIMESTAMP_MICROS);
  assert.equal(compileTimestampPattern("%Y-%m-%d").hasTime, false);
});

test("a strftime pattern refuses text that does not match, and days or times that do not exist", () => {
  const p = compileTimestampPattern("%Y-%m-%d %H:%M:%S");
  for (const s of ["2025-03-01T08:00:05", "2025-03-01 08:00", "2023-02-29 00:00:00", "2025-13-01 00:00:00", "2025-01-01 24:00:00", "2025-01-01 00:60:00", " 2025-01-01 00:00:00", "2025-01-01 00:00:00 "]) {
    assert.equal(p.parse(s), undefined, s);
  }
  assert.equal(compileTimestampPattern("%d %b %Y").parse("1 Foo 2024"), undefined);
  assert.equal(compileTimestampPattern("%Y-%m-%d%z").parse("2024-01-01+25:00"), undefined);
});

test("a pattern with an unknown, repeated or missing directive is refused with what was expected", () => {
  assert.throws(() => compileTimestampPattern("%Y-%m-%d %q"), /unknown directive %q: expected one of %Y %m %b %d %H %M %S %f %z %%/);
  assert.throws(() => compileTimestampPattern("%Y-%m-%d %"), /a lone % at its end/);
  assert.throws(() => compileTimestampPattern("%Y-%m-%d %Y"), /reads %Y twice/);
  assert.throws(() => compileTimestampPattern("%Y-%m-%b"), /reads the month twice/);
  assert.throws(() => compileTimestampPattern("%H:%M:%S"), /reads no a year \(%Y\)|reads no a year/);
  assert.throws(() => compileTimestampPattern("%Y-%m %H"), /reads no a day \(%d\)/);
  assert.throws(() => compileTimestampPattern("%Y-%m-%d %M"), /reads %M without %H/);
});

test("epochToMicros scales seconds, millis and micros, keeping fractions to the µs", () => {
  assert.equal(epochToMicros(1_700_000_000, "seconds"), 1_700_000_000_000_000n);
  assert.equal(epochToMicros(1_700_000_000.25, "seconds"), 1_700_000_000_250_000n);
  assert.equal(epochToMicros(-1.5, "seconds"), -1_500_000n);
  assert.equal(epochToMicros(1_700_000_000_123, "millis"), 1_700_000_000_123_000n);
  assert.equal(epochToMicros(1_700_000_000_123.5, "millis"), 1_700_000_000_123_500n);
  assert.equal(epochToMicros(253_402_300_799.5, "seconds"), MAX_TIMESTAMP_MICROS - 499_999n);
  assert.equal(epochToMicros(42, "micros"), 42n);
  for (const n of [NaN, Infinity, -Infinity]) assert.equal(epochToMicros(n, "millis"), undefined);
});

test("the timestamp range is years 0001 to 9999, and microsToDays rounds towards the past", () => {
  assert.ok(inTimestampRange(MIN_TIMESTAMP_MICROS) && inTimestampRange(MAX_TIMESTAMP_MICROS));
  assert.ok(!inTimestampRange(MIN_TIMESTAMP_MICROS - 1n) && !inTimestampRange(MAX_TIMESTAMP_MICROS + 1n));
  assert.equal(microsToDays(us("2024-01-02T23:59:59Z")), 19_724);
  assert.equal(microsToDays(-1n), -1);
  assert.equal(microsToDays(0n), 0);
});
