import assert from "node:assert/strict";
import { test } from "node:test";
import * as v from "valibot";
import { generateOrders } from "../../produce/order_generator.ts";
import { compileCheck } from "./fast_check.ts";
import { OrderEventSchema } from "./order_event.ts";

/** Small random changes of a valid event: wrong types, nulls, missing and extra keys. */
function mutate(x: unknown, r: () => number): unknown {
  if (Array.isArray(x)) return r() < 0.1 ? {} : x.map((e) => mutate(e, r));
  if (x && typeof x === "object") {
    if (r() < 0.03) return [x];
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(x)) {
      const p = r();
      if (p < 0.03) continue;
      out[k] = p < 0.06 ? null : p < 0.09 ? "text" : p < 0.12 ? 1.5 : p < 0.14 ? "" : mutate(e, r);
    }
    if (r() < 0.05) out.extra = 1;
    return out;
  }
  return x;
}

test("the compiled check accepts valid order events and never accepts what valibot refuses", () => {
  const check = compileCheck(OrderEventSchema)!;
  assert.ok(check, "the order event schema compiles");
  let seed = 12345;
  const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let agreedValid = 0;
  let refusedByBoth = 0;
  for (const order of generateOrders(500, 3)) {
    assert.ok(check(order), "a generated order passes");
    for (let k = 0; k < 20; k++) {
      const m = mutate(order, r);
      const fast = check(m);
      const slow = v.safeParse(OrderEventSchema, m).success;
      if (fast) assert.ok(slow, `fast check accepted what valibot refuses: ${JSON.stringify(m).slice(0, 300)}`);
      if (fast && slow) agreedValid++;
      if (!fast && !slow) refusedByBoth++;
    }
  }
  assert.ok(agreedValid > 100 && refusedByBoth > 1000, `both kinds of cases met: ${agreedValid} valid, ${refusedByBoth} refused`);
});

test("a schema with anything the compiler does not know compiles to undefined", () => {
  assert.equal(compileCheck(v.object({ a: v.pipe(v.string(), v.transform((s) => s.length)) })), undefined);
  assert.equal(compileCheck(v.union([v.string(), v.number()])), undefined);
});

test("an order event with a well-formed but impossible timestamp is refused, with the reason", async () => {
  const { decodeOrderEvent } = await import("./order_event.ts");
  const res = decodeOrderEvent(new TextEncoder().encode(JSON.stringify({ event_id: "e", event_type: "ORDER_CREATED", order_id: "o", event_timestamp: "2024-02-30 10:00:00" })));
  assert.deepEqual(res, { ok: false, reason: "event_timestamp: expected a timestamp that exists (a real day and time): got \"2024-02-30 10:00:00\"" });
});
