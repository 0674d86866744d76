import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import { DeltaTable } from "../../core/delta/table.ts";
import type { UserRecord } from "../../core/kinesis/records.ts";
import { DeltaSink } from "../../engine/delta_sink.ts";
import { systemClock } from "../../ports/clock.ts";
import { orderDomain } from "./order_domain.ts";
import { PACKAGE_TABLE } from "./package_table.ts";

const enc = new TextEncoder();

function rec(seq: number, json: string): UserRecord {
  return { data: enc.encode(json), partitionKey: `k${seq}`, sequenceNumber: String(seq), subSequenceNumber: 0, aggregated: false };
}

const orderJson = (id: string, item: string) =>
  `{"event_id":"ev-${id}","event_type":"ORDER_CREATED","order_id":"ord-${id}","order_details":{"status":"RECEIVED","items":[${item}]}}`;
const item = (quantity: string, pkgQuantity = "1", extra = "") =>
  `{"product_id":"p","quantity":${quantity}${extra},"packages":[{"package_id":"box","subpackage_id":1,"quantity":${pkgQuantity}}]}`;

/** Each record that cannot be written as it stands, with a part of the reason it must get. */
const UNFIT: [string, string, RegExp][] = [
  ["integer beyond 32 bits", item("100000000000000000000"), /items\.0\.quantity: expected a quantity from 1 to 2147483647: got 100000000000000000000/],
  ["Infinity in a double column", item("1", "1", ',"price":1e309'), /items\.0\.price: expected a finite number.*got Infinity/],
  ["item × package quantity beyond 32 bits", item("100000", "100000"), /items_quantity .* is 10000000000: expected at most 2147483647/],
  ["negative quantity", item("-3"), /items\.0\.quantity: expected a quantity from 1 .*got -3/],
  ["zero package quantity", item("2", "0"), /packages\.0\.quantity: expected a quantity from 1 .*got 0/],
  ["a fraction for a quantity", item("2.5"), /expected an integer quantity: got 2\.5/],
  ["a string for a quantity", item('"2"'), /items\.0\.quantity: Invalid type: Expected number/],
];

for (const [what, bad, reason] of UNFIT) {
  test(`a record with ${what} goes to quarantine; the rest of its batch lands and takes stock once`, async () => {
    const stores = Object.fromEntries(["events", "orders", "orders_items", "quarantine", "package_table"].map((t) => [t, new MemoryStore(t)]));
    const pkg = await DeltaTable.openOrCreate(stores.package_table!, PACKAGE_TABLE.spec);
    await pkg.append([{ package_id: "box", subpackage_id: 1, stock_quantity: 100 }]);
    const sink = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock });
    await sink.commit({
      shards: [{ shardId: "s-0", appId: "a/s-0", batch: 1, records: [rec(1, orderJson("good", item("2"))), rec(2, orderJson("bad", bad)), rec(3, orderJson("fine", item("3")))] }],
      replay: false,
      wallMs: Date.now(),
    });
    const read = async (t: string) => await (await DeltaTable.open(stores[t]!)).readRows();
    const q = await read("quarantine");
    assert.equal(q.length, 1);
    assert.match(String(q[0]!.reason), reason);
    assert.deepEqual((await read("orders")).map((r) => r.order_id).sort(), ["ord-fine", "ord-good"]);
    assert.equal((await read("package_table"))[0]!.stock_quantity, 95, "only the good orders took stock");
  });
}

test("an order that explodes past the line limit goes to quarantine with the count and the limit", () => {
  const packages = Array.from({ length: 30 }, () => "{}").join(",");
  const d = orderDomain({ maxLinesPerRecord: 25 }).decode(rec(1, orderJson("big", `{"quantity":1,"packages":[${packages}]}`)));
  assert.deepEqual(d, { ok: false, reason: "order_details.items: the order makes 30 item × package lines; at most 25 are allowed per record" });
});
