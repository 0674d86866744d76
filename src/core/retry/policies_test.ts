import assert from "node:assert/strict";
import { test } from "node:test";
import { POLICIES } from "./policies.ts";

test("every policy has its own name and numbers that make sense together", () => {
  const names = new Set<string>();
  for (const [key, p] of Object.entries(POLICIES)) {
    assert.ok(!names.has(p.name), `${key}: the name '${p.name}' is taken`);
    names.add(p.name);
    assert.ok(p.attempts >= 1, `${key}: attempts ${p.attempts}`);
    assert.ok(p.initialDelayMs >= 0 && p.initialDelayMs <= p.maxDelayMs, `${key}: initial ${p.initialDelayMs} ms, max ${p.maxDelayMs} ms`);
    const jitter = "jitter" in p ? p.jitter : 0.5;
    assert.ok(jitter >= 0 && jitter <= 1, `${key}: jitter ${jitter}`);
    assert.ok(p.attempts !== Infinity || p.initialDelayMs > 0, `${key}: endless retries without a pause would spin`);
  }
});
