import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "./seeded_random.ts";

test("a seed gives the reference mulberry32 sequence, the same on every runtime", () => {
  const r = seededRandom(1);
  assert.deepEqual([r(), r(), r()], [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
  const z = seededRandom(0);
  assert.deepEqual([z(), z()], [0.26642920868471265, 0.0003297457005828619]);
});

test("two sources with the same seed agree; different seeds differ", () => {
  const a = seededRandom(20240611);
  const b = seededRandom(20240611);
  const c = seededRandom(20240612);
  const xs = Array.from({ length: 100 }, () => a());
  assert.deepEqual(Array.from({ length: 100 }, () => b()), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, () => c()), xs);
});

test("a seed is taken modulo 2^32, its fraction dropped", () => {
  assert.equal(seededRandom(-1)(), seededRandom(2 ** 32 - 1)());
  assert.equal(seededRandom(7.9)(), seededRandom(7)());
  assert.equal(seededRandom(2 ** 32 + 5)(), seededRandom(5)());
  assert.throws(() => seededRandom(Number.NaN), RangeError);
  assert.throws(() => seededRandom(Infinity), RangeError);
});

test("numbers lie in [0, 1) and spread evenly over ten buckets", () => {
  const r = seededRandom(99);
  const buckets = new Array<number>(10).fill(0);
  const n = 100_000;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = r();
    assert.ok(x >= 0 && x < 1, `${x} out of [0, 1)`);
    sum += x;
    buckets[Math.floor(x * 10)]!++;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
  for (const b of buckets) assert.ok(Math.abs(b - n / 10) < n / 100, `bucket of ${b}, expected about ${n / 10}`);
});
