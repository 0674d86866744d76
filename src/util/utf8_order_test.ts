import assert from "node:assert/strict";
import { test } from "node:test";
import { compareUtf8 } from "./utf8_order.ts";

test("compareUtf8 orders strings as their UTF-8 bytes do", () => {
  const words = ["b", "a", "\u{1F600}", "\u{E000}", "ab", "", "é", "z"];
  const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual([...words].sort(compareUtf8), byBytes);
  assert.ok(compareUtf8("\u{E000}", "\u{1F600}") < 0, "a BMP character sorts before an astral one");
  assert.equal(compareUtf8("same", "same"), 0);
});
