import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../../adapters/memory/memory_store.ts";
import { field, struct } from "../schema/schema.ts";
import { DAY_MS } from "../values/date.ts";
import { DeltaTable } from "./table.ts";

const SPEC = { schema: struct(field("n", "long")) };

test("a snapshot older than half the log retention lists the log before trusting an absent next version", async () => {
  let wall = Date.UTC(2026, 0, 1);
  const now = () => wall;
  const store = new MemoryStore("t", now);
  const writer = await DeltaTable.openOrCreate(store, SPEC, { now });
  await writer.append([{ n: 1n }]);
  // A standby opened the table, then held no shard for 40 days.
  const standby = await DeltaTable.open(store, { now });
  assert.equal(standby.version, 1);
  for (let i = 2; i <= 20; i++) await writer.append([{ n: BigInt(i) }]);
  wall += 40 * DAY_MS;
  for (let i = 21; i <= 30; i++) await writer.append([{ n: BigInt(i) }]);
  assert.equal(await store.head("_delta_log/00000000000000000002.json"), undefined, "log cleanup removed the standby's next version");
  // The standby wakes up and writes: its commit must come after the newest version, not at 2.
  await standby.append([{ n: 100n }]);
  assert.equal(standby.version, 31);
  const fresh = await DeltaTable.open(store, { now });
  assert.equal(fresh.version, 31);
  const values = (await fresh.readRows()).map((r) => Number(r.n)).sort((a, b) => a - b);
  assert.deepEqual(values, [...Array.from({ length: 30 }, (_, i) => i + 1), 100], "every row, the standby's included, is in the table");
});

test("a snapshot confirmed recently does not list the log when the next version is absent", async () => {
  const store = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(store, SPEC);
  let lists = 0;
  const list = store.list.bind(store);
  store.list = (prefix, options) => (lists++, list(prefix, options));
  for (let i = 0; i < 5; i++) await table.refresh();
  assert.equal(lists, 0);
});

test("the commit that carried a txn is found however many commits came after it", async () => {
  const store = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(store, { ...SPEC, configuration: { "delta.checkpointInterval": "1000" } });
  await table.append([{ n: 1n }], { txns: [{ appId: "app/s-0", version: 7 }] });
  for (let i = 0; i < 1_100; i++) await table.append([], { txns: [{ appId: "other", version: i + 1 }] });
  const found = await table.findTxnCommit("app/s-0", 7);
  assert.ok(found?.some((a) => a.txn?.appId === "app/s-0" && a.txn.version === 7), "found past 1,000 newer commits");
  assert.equal(await table.findTxnCommit("app/s-0", 8), undefined, "a txn the table does not hold");
});
