/**
 * The Delta sink on in-memory tables, with the order domain and with small test domains:
 * replays land once and keep the prepare step's decision; a batch that cannot be built
 * commits nothing; a table that already holds some shards of a batch gets the rest;
 * concurrent MERGEs are computed again, not fatal; bad records go to quarantine.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import type { UserRecord } from "../../src/core/kinesis/records.ts";
import { field, struct } from "../../src/core/schema/schema.ts";
import { orderDomain } from "../../src/domains/orders/order_domain.ts";
import { PACKAGE_TABLE } from "../../src/domains/orders/package_table.ts";
import type { CommitBatch } from "../../src/engine/batch_sink.ts";
import type { Domain } from "../../src/engine/domain.ts";
import { DeltaSink, type SinkEvents } from "../../src/engine/delta_sink.ts";
import { systemClock } from "../../src/ports/clock.ts";

const enc = new TextEncoder();
const TABLES = ["events", "orders", "orders_items", "quarantine", "package_table"];

function order(id: string, packageId: string, quantity: number): Record<string, unknown> {
  return {
    event_id: `ev-${id}`, event_type: "ORDER_CREATED", event_timestamp: "2025-01-01 10:00:00", order_id: `ord-${id}`,
    order_details: { status: "RECEIVED", items: [{ product_id: "p", quantity, packages: [{ package_id: packageId, subpackage_id: 1, quantity: 1 }] }] },
  };
}

function record(seq: number, data: Uint8Array | string, extra: Partial<UserRecord> = {}): UserRecord {
  return { data: typeof data === "string" ? enc.encode(data) : data, partitionKey: `k${seq}`, sequenceNumber: String(seq), subSequenceNumber: 0, aggregated: false, ...extra };
}

const orderRecord = (seq: number, id: string, pkg: string, q: number) => record(seq, JSON.stringify(order(id, pkg, q)));

async function world(stock: number) {
  const stores = Object.fromEntries(TABLES.map((t) => [t, new MemoryStore(t)]));
  const pkg = await DeltaTable.openOrCreate(stores.package_table!, PACKAGE_TABLE.spec);
  await pkg.append([{ package_id: "box", subpackage_id: 1, stock_quantity: stock }]);
  return stores;
}

async function rows(store: MemoryStore | undefined): Promise<Record<string, unknown>[]> {
  return await (await DeltaTable.open(store!)).readRows();
}

function skipsOf(events: SinkEvents & { skipped: string[] } = { skipped: [] }): SinkEvents & { skipped: string[] } {
  events.tableSkipped = (table, shards) => events.skipped.push(`${table}:${shards.join(",")}`);
  return events;
}

test("a batch replayed after the MERGE committed keeps its reservation, though the stock has moved since", async () => {
  const stores = await world(5);
  const batch: CommitBatch = {
    shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [orderRecord(1, "a", "box", 5)] }],
    replay: false,
    wallMs: Date.UTC(2025, 0, 1, 12),
  };
  // The first attempt dies after the package_table MERGE, before any other table commits.
  const first = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, fault: (p) => { if (p === "after-prepare") throw new Error("crash"); } });
  await assert.rejects(first.commit(batch), /crash/);
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 0, "the stock was taken");
  assert.equal((await rows(stores.orders_items)).length, 0, "no append was committed");
  // The replay sees 0 in stock: deciding again would say PENDING. The recorded decision says reserved.
  const events = skipsOf();
  const second = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, events });
  await second.commit({ ...batch, replay: true });
  assert.deepEqual(events.skipped, ["package_table:s-0"]);
  assert.deepEqual((await rows(stores.orders_items)).map((r) => r.status), ["PROCESSING"]);
  assert.deepEqual((await rows(stores.orders)).map((r) => r.status), ["PROCESSING"]);
  assert.deepEqual((await rows(stores.events)).map((r) => r.event_type).sort(), ["INVENTORY_UPDATED", "ORDER_CREATED"]);
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 0, "taken once");
  // A third attempt finds every table done.
  const again = skipsOf();
  const third = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, events: again });
  await third.commit({ ...batch, replay: true });
  assert.deepEqual(again.skipped.sort(), ["events:s-0", "orders:s-0", "orders_items:s-0", "package_table:s-0"]);
});

test("a crash after the files were written commits nothing: the replay decides afresh and takes the stock once", async () => {
  const stores = await world(5);
  const batch: CommitBatch = { shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [orderRecord(1, "a", "box", 5)] }], replay: false, wallMs: Date.now() };
  const first = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, fault: (p) => { if (p === "after-files") throw new Error("crash"); } });
  await assert.rejects(first.commit(batch), /crash/);
  for (const t of TABLES) {
    const table = await DeltaTable.open(stores[t]!);
    assert.equal(table.snapshot.txnVersion("app/s/s-0"), -1, `${t} holds nothing of the batch`);
  }
  await (await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock })).commit({ ...batch, replay: true });
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 0);
  assert.deepEqual((await rows(stores.orders_items)).map((r) => r.status), ["PROCESSING"]);
});

test("stock is decremented only where it covers the batch's whole demand for the group", async () => {
  const stores = await world(7);
  const sink = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock });
  await sink.commit({
    shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [orderRecord(1, "a", "box", 4), orderRecord(2, "b", "box", 4)] }],
    replay: false,
    wallMs: Date.now(),
  });
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 7, "8 wanted, 7 in stock: untouched");
  assert.deepEqual((await rows(stores.orders_items)).map((r) => r.status), ["PENDING", "PENDING"]);
  assert.deepEqual((await rows(stores.orders)).map((r) => r.status), ["RECEIVED", "RECEIVED"]);
});

test("bad records and KPL sub-records outside the shard go to quarantine with their reason and bytes", async () => {
  const stores = await world(100);
  const sink = await DeltaSink.open(orderDomain(), stores, { stream: "orders", clock: systemClock });
  const misrouted = record(2, JSON.stringify(order("m", "box", 1)), { aggregated: true, subSequenceNumber: 3, outsideShard: true });
  await sink.commit({
    shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [record(1, "{oops"), misrouted, orderRecord(3, "c", "box", 1)] }],
    replay: false,
    wallMs: Date.now(),
  });
  const q = (await rows(stores.quarantine)).sort((a, b) => String(a.sequence_number).localeCompare(String(b.sequence_number)));
  assert.equal(q.length, 2);
  assert.match(String(q[0]!.reason), /^not JSON/);
  assert.equal(q[0]!.raw_base64, Buffer.from("{oops").toString("base64"));
  assert.match(String(q[1]!.reason), /outside this shard's range/);
  assert.equal(q[1]!.sub_sequence_number, 3n);
  assert.equal((await rows(stores.orders)).length, 1, "only the good order");
});

test("a table that already holds one shard of a batch gets the other shard, not an error", async () => {
  // Worker A's batch spans s-0 and s-1; s-1's new owner replayed s-1 alone first.
  const stores = await world(100);
  const replayOfS1: CommitBatch = { shards: [{ shardId: "s-1", appId: "app/s/s-1", batch: 4, records: [orderRecord(20, "y", "box", 2)] }], replay: true, wallMs: 1_000 };
  await (await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock })).commit(replayOfS1);
  const events = skipsOf();
  const sinkA = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, events });
  await sinkA.commit({
    shards: [
      { shardId: "s-0", appId: "app/s/s-0", batch: 7, records: [orderRecord(10, "x", "box", 3)] },
      { shardId: "s-1", appId: "app/s/s-1", batch: 4, records: [orderRecord(20, "y", "box", 2)] },
    ],
    replay: false,
    wallMs: 2_000,
  });
  assert.ok(events.skipped.includes("package_table:s-1") && events.skipped.includes("orders:s-1"), events.skipped.join(" "));
  assert.deepEqual((await rows(stores.orders)).map((r) => r.order_id).sort(), ["ord-x", "ord-y"], "each order once");
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 95, "2 + 3 taken, each once");
  const orders = await DeltaTable.open(stores.orders!);
  assert.equal(orders.snapshot.txnVersion("app/s/s-0"), 7);
  assert.equal(orders.snapshot.txnVersion("app/s/s-1"), 4);
});

test("a worker cut off past a batch that its shard's next owner committed and passed leaves that shard out and asks for no decision", async () => {
  // Worker A formed a batch of s-0 (one bad record) and s-1, then was paused. s-0's next
  // owner replayed s-0's batch 3 (quarantine only: no MERGE of its own) and committed
  // batch 4 to package_table. A comes back and commits what it formed (seed 1245).
  const stores = await world(100);
  const owner = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock });
  await owner.commit({ shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 3, records: [record(30, "{oops")] }], replay: true, wallMs: 1_000 });
  await owner.commit({ shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 4, records: [orderRecord(40, "z", "box", 1)] }], replay: false, wallMs: 1_500 });
  const events = skipsOf();
  const sinkA = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, events });
  await sinkA.commit({
    shards: [
      { shardId: "s-0", appId: "app/s/s-0", batch: 3, records: [record(30, "{oops")] },
      { shardId: "s-1", appId: "app/s/s-1", batch: 2, records: [orderRecord(20, "y", "box", 2)] },
    ],
    replay: false,
    wallMs: 2_000,
  });
  assert.ok(events.skipped.includes("package_table:s-0"), events.skipped.join(" "));
  assert.equal((await rows(stores.quarantine)).length, 1, "the bad record once");
  assert.deepEqual((await rows(stores.orders)).map((r) => r.order_id).sort(), ["ord-y", "ord-z"]);
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 97, "1 + 2 taken, each once");
});

test("a MERGE that takes no stock is committed all the same: a replay after a restock keeps its decision", async () => {
  const stores = await world(0);
  const batch: CommitBatch = { shards: [{ shardId: "s-0", appId: "app/s/s-0", batch: 1, records: [orderRecord(1, "a", "box", 1)] }], replay: false, wallMs: 1_000 };
  // Every table committed; the worker dies before its shard state moves past the intent.
  await (await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock })).commit(batch);
  assert.deepEqual((await rows(stores.orders_items)).map((r) => r.status), ["PENDING"]);
  const pkg = await DeltaTable.open(stores.package_table!);
  assert.equal(pkg.snapshot.txnVersion("app/s/s-0"), 1, "package_table holds the batch, and so its decision");
  // The stock is replenished; the next owner replays the intent.
  await pkg.rewrite([...pkg.snapshot.files.values()], [{ package_id: "box", subpackage_id: 1, stock_quantity: 5 }]);
  await (await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock })).commit({ ...batch, replay: true });
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 5, "no stock taken for an order whose rows say PENDING");
  assert.deepEqual((await rows(stores.orders_items)).map((r) => r.status), ["PENDING"]);
});

test("two workers' MERGEs racing on package_table are both computed again until each lands once", async () => {
  const stores = await world(1_000);
  const events: { conflicts: string[] } = { conflicts: [] };
  const sinks = await Promise.all([0, 1, 2].map(() =>
    DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock, events: { conflict: (_t, err) => events.conflicts.push(err.name) } })
  ));
  await Promise.all(sinks.map((sink, w) => (async () => {
    for (let b = 1; b <= 5; b++) {
      await sink.commit({ shards: [{ shardId: `s-${w}`, appId: `app/s/s-${w}`, batch: b, records: [orderRecord(w * 100 + b, `${w}-${b}`, "box", 1)] }], replay: false, wallMs: Date.now() });
    }
  })()));
  assert.equal((await rows(stores.package_table))[0]!.stock_quantity, 1_000 - 15, "15 units taken, each once");
  assert.equal((await rows(stores.orders)).length, 15);
  assert.ok(events.conflicts.length > 0, "the MERGEs did race (else this test proves nothing)");
});

/** A domain of one table whose rows fail to build for the record "overflow" (a value past 32 bits). */
const brittle: Domain<string, undefined> = {
  name: "brittle",
  decode: (r) => ({ ok: true, value: new TextDecoder().decode(r.data) }),
  tables: [
    { name: "first", spec: { schema: struct(field("v", "string")) }, rows: (b) => b.parts.flatMap((p) => p.values.map((v) => ({ v }))) },
    { name: "second", spec: { schema: struct(field("n", "integer")) }, rows: (b) => b.parts.flatMap((p) => p.values.map((v) => ({ n: v === "overflow" ? 2 ** 40 : 1 }))) },
  ],
};

test("a batch whose files cannot all be built commits to no table", async () => {
  const stores = { first: new MemoryStore("first"), second: new MemoryStore("second"), quarantine: new MemoryStore("q") };
  const sink = await DeltaSink.open(brittle, stores, { stream: "s", clock: systemClock });
  await assert.rejects(sink.commit({ shards: [{ shardId: "s-0", appId: "a/s-0", batch: 1, records: [record(1, "fine"), record(2, "overflow")] }], replay: false, wallMs: 0 }));
  for (const [name, store] of Object.entries(stores)) {
    assert.equal((await DeltaTable.open(store)).version, 0, `${name} has no commit but its creation`);
  }
});

test("a record weighs its payload plus what its objects take decoded: an explosion of empty objects is heavy", async () => {
  const stores = await world(1);
  const sink = await DeltaSink.open(orderDomain(), stores, { stream: "s", clock: systemClock });
  const plain = orderRecord(1, "a", "box", 1);
  const packages = Array.from({ length: 100_000 }, () => "{}").join(",");
  const hostile = record(2, `{"order_details":{"items":[{"packages":[${packages}]}]}}`);
  assert.ok(sink.weigh(plain) < 4 * plain.data.length, "an ordinary order weighs a few times its bytes");
  assert.ok(sink.weigh(hostile) > 30 * hostile.data.length, `300 KB of empty objects weighs ${sink.weigh(hostile)} bytes`);
});
