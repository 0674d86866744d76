/**
 * Moving from the original PySpark job, as the README's migration section says: the tables
 * that job (and the landing job) left are made by Spark their way, the old job stops, and
 * `data-subscriber run` starts AT_TIMESTAMP where it stopped; Spark then reads old and new
 * rows together, in the old tables' schemas. And a table that cannot be continued stops the
 * binary with every column named and the two ways out, one of which (--evolve-schema) is
 * then taken.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { putRecords } from "../../src/adapters/kinesis/kinesis_producer.ts";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { field, struct } from "../../src/core/schema/schema.ts";
import { generateOrders, generatePackages } from "../../src/produce/order_generator.ts";
import type { CanonicalRow } from "../helpers/canonical_rows.ts";
import { runCli } from "../helpers/cli.ts";
import { type DeltaWorker, startDeltaWorker } from "../helpers/delta_worker.ts";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";

const enc = new TextEncoder();

interface Order {
  event_id: string;
  event_timestamp: string;
  order_id: string;
  order_details: {
    order_timestamp: string;
    status: string;
    items: { quantity: number; packages: { package_id: string; subpackage_id: number; quantity: number }[] }[];
  };
}

/** Units each (package_id, subpackage_id) group is asked for by these orders. */
function demand(orders: readonly Order[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of orders) {
    for (const item of o.order_details.items) {
      for (const p of item.packages) {
        const key = `${p.package_id}/${p.subpackage_id}`;
        out.set(key, (out.get(key) ?? 0) + item.quantity * p.quantity);
      }
    }
  }
  return out;
}

const lines = (orders: readonly Order[]) => orders.reduce((n, o) => n + o.order_details.items.reduce((m, i) => m + i.packages.length, 0), 0);

/** The shape of a schema: names and types, without nullability. */
function shape(schema: { fields: { name: string; type: unknown }[] }): string[] {
  return schema.fields.map((f) => `${f.name}:${typeof f.type === "string" ? f.type : JSON.stringify(f.type)}`);
}

describe("moving from the original PySpark job", () => {
  let kinesis: KinesisLocal;
  let delta: DeltaWorker;
  let tmp: string;

  before(async () => {
    [kinesis, delta] = await Promise.all([startKinesisLocal(), startDeltaWorker()]);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ds-migration-"));
    await delta.request({ op: "start_spark" });
  });
  after(async () => {
    await Promise.allSettled([kinesis?.stop(), delta?.close()]);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const env = (stream: string, root: string, extra: Record<string, string> = {}) => ({
    AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing",
    STREAM_NAME: stream, TABLES_ROOT: root, LOG_FILE: "", LOG_LEVEL: "info", ...extra,
  });
  const put = (stream: string, orders: readonly Order[]) =>
    putRecords(kinesis.client, stream, orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), partitionKey: o.order_id })));

  test("data-subscriber continues the tables the original jobs left, started AT_TIMESTAMP where the old job stopped; Spark reads old and new rows together", async () => {
    const stream = "orders-migration";
    await kinesis.createStream(stream, 2);
    const root = path.join(tmp, "bucket");
    const all = generateOrders(60, 7, Date.UTC(2025, 2, 1, 8)) as unknown as Order[];
    const old = all.slice(0, 30);
    const fresh = all.slice(30);
    const packages = generatePackages(0).map(({ stock_quantity: _, ...p }) => p);

    // The old job read these records and wrote its tables; the landing job loaded package_table.
    await put(stream, old);
    const made = await delta.request({ op: "original_job", root, orders: old as unknown as Record<string, unknown>[], packages, batches: 2 });
    assert.ok(made.versions.events! >= 1, JSON.stringify(made.versions));
    // It is stopped; the operator notes the time, and new orders keep arriving.
    const stoppedAt = new Date().toISOString();
    await put(stream, fresh);

    const run = await runCli(["run", "--once"], env(stream, root, { INITIAL_POSITION: `AT_TIMESTAMP:${stoppedAt}` }));
    assert.equal(run.code, 0, `run --once failed:\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /Done in [\d.]+ s: 30 records committed/);
    assert.match(run.stdout + run.stderr, /Table orders_items exists with a schema of its own; writing into it as it is: order_timestamp: timestamp → string/);

    const read = (table: string) => delta.request({ op: "read", engine: "spark", path: path.join(root, "orders", table) });
    const byOrder = new Map(all.map((o) => [o.order_id, o]));
    const isOld = new Set(old.map((o) => o.order_id));

    // events: the old job's rows and ours, timestamps as the publisher's strings in both.
    const events = await read("delta/bronze/events");
    assert.deepEqual(shape(events.schema), ["event_id:string", "event_type:string", "event_timestamp:string", "order_id:string"]);
    const created = events.rows.filter((r) => r.event_type === "ORDER_CREATED");
    assert.deepEqual(
      created.map((r) => `${r.event_id} ${r.event_timestamp} ${r.order_id}`).sort(),
      all.map((o) => `${o.event_id} ${o.event_timestamp} ${o.order_id}`).sort(),
      "every order once, old and new, with its event_timestamp as it was sent",
    );
    const inventory = events.rows.filter((r) => r.event_type === "INVENTORY_UPDATED");
    assert.deepEqual(inventory.map((r) => r.order_id).sort(), fresh.map((o) => o.order_id).sort(), "INVENTORY_UPDATED for the new orders (stock suffices for all)");
    for (const r of inventory) assert.match(String(r.event_timestamp), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/);

    // orders: old rows as the old job wrote them (RECEIVED), new ones PROCESSING.
    const orders = await read("delta/bronze/orders");
    assert.deepEqual(shape(orders.schema), [
      "order_id:string", "customer_id:string", "total_weight:double", "total_volume:double", "total_price:double", "order_timestamp:string",
      "status:string", "lat:double", "lon:double",
    ]);
    assert.equal(orders.rows.length, 60);
    for (const r of orders.rows) {
      const o = byOrder.get(String(r.order_id))!;
      assert.equal(r.order_timestamp, o.order_details.order_timestamp, `order_timestamp of ${r.order_id}`);
      assert.equal(r.status, isOld.has(o.order_id) ? "RECEIVED" : "PROCESSING");
    }

    // orders_items: the old job's lines (uuid inventory ids, PENDING) and ours.
    const items = await read("delta/bronze/orders_items");
    assert.deepEqual(shape(items.schema), [
      "inventory_id:string", "order_id:string", "product_id:string", "product_name:string", "order_price:double", "package_id:string",
      "subpackage_id:integer", "items_quantity:integer", "items_weight:double", "items_volume:double", "order_timestamp:string", "status:string",
    ]);
    assert.equal(items.rows.length, lines(all));
    assert.equal(items.count, lines(all), "Spark's COUNT(*) (from the stats) agrees");
    for (const r of items.rows) {
      const o = byOrder.get(String(r.order_id))!;
      assert.equal(r.order_timestamp, o.order_details.order_timestamp);
      if (isOld.has(o.order_id)) {
        assert.equal(r.status, "PENDING");
        assert.match(String(r.inventory_id), /^inv-[0-9a-f-]{36}$/);
      } else {
        assert.equal(r.status, "PROCESSING");
        assert.match(String(r.inventory_id), /^inv-[0-9a-f-]+-\d+-\d+$/);
      }
    }
    const filtered = await delta.request({ op: "read", engine: "spark", path: path.join(root, "orders/delta/bronze/orders_items"), filter: `order_timestamp >= '${fresh[0]!.order_details.order_timestamp}'` });
    assert.equal(filtered.rows.length, lines(fresh), "a filter on the string column (data skipping on our stats) finds exactly the new lines");

    // package_table: the landing job's columns and values kept; stock taken by the old job's MERGEs, then by ours.
    const pkg = await read("gold/package_table");
    assert.deepEqual(shape(pkg.schema), [
      "package_id:string", "subpackage_id:integer", "name:string", "width:float", "height:float", "length:float", "weight:float", "volume:float",
      "stock_quantity:integer",
    ]);
    const oldDemand = demand(old);
    const newDemand = demand(fresh);
    assert.equal(pkg.rows.length, packages.length);
    for (const r of pkg.rows) {
      const key = `${r.package_id}/${r.subpackage_id}`;
      const p = packages.find((x) => `${x.package_id}/${x.subpackage_id}` === key)!;
      assert.equal(r.name, p.name);
      assert.equal(r.width, p.width);
      assert.equal(r.volume, p.volume);
      assert.equal(r.stock_quantity, 1000 - (oldDemand.get(key) ?? 0) - (newDemand.get(key) ?? 0), `stock of ${key}`);
    }
    assert.ok([...newDemand.values()].some((n) => n > 0));

    // The tables stay what they were: protocol 1/2, their schemas, Spark's commits then ours.
    for (const table of ["delta/bronze/events", "delta/bronze/orders_items", "gold/package_table"]) {
      const detail = await delta.request({ op: "sql", sql: `DESCRIBE DETAIL delta.\`${path.join(root, "orders", table)}\`` });
      assert.equal(detail.rows[0]!.minReaderVersion, 1, table);
      assert.equal(detail.rows[0]!.minWriterVersion, 2, table);
    }
    const history = await delta.request({ op: "sql", sql: `DESCRIBE HISTORY delta.\`${path.join(root, "orders/delta/bronze/orders_items")}\`` });
    const operations = history.rows.map((r: CanonicalRow) => r.operation).reverse();
    assert.deepEqual(operations, ["STREAMING UPDATE", "STREAMING UPDATE", "WRITE"]);
    const pkgHistory = await delta.request({ op: "sql", sql: `DESCRIBE HISTORY delta.\`${path.join(root, "orders/gold/package_table")}\`` });
    assert.deepEqual(pkgHistory.rows.map((r: CanonicalRow) => r.operation).reverse(), ["WRITE", "WRITE", "MERGE", "MERGE", "MERGE"]);
  });

  test("a table that cannot be continued stops the binary naming each column and the ways out; --evolve-schema then adds the missing one", async () => {
    const stream = "orders-mismatch";
    await kinesis.createStream(stream, 1);
    const root = path.join(tmp, "mismatch");
    const bronze = path.join(root, "orders", "delta", "bronze");
    // An events table without order_id (someone's variant), and an orders table whose order_timestamp is a long.
    const events = await DeltaTable.openOrCreate(new LocalStore(path.join(bronze, "events")), {
      schema: struct(field("event_id", "string"), field("event_type", "string"), field("event_timestamp", "string")),
    });
    await events.append([{ event_id: "ev-old", event_type: "ORDER_CREATED", event_timestamp: "2025-01-01 00:00:00" }]);
    await DeltaTable.openOrCreate(new LocalStore(path.join(bronze, "orders")), { schema: struct(field("order_id", "string"), field("order_timestamp", "long")) });
    const pkg = await DeltaTable.openOrCreate(new LocalStore(path.join(root, "orders", "gold", "package_table")), {
      schema: struct(field("package_id", "string"), field("subpackage_id", "integer"), field("stock_quantity", "integer")),
    });
    await pkg.append(generatePackages(1000).map((p) => ({ package_id: p.package_id, subpackage_id: p.subpackage_id, stock_quantity: p.stock_quantity })));
    const orders = generateOrders(5, 3, Date.UTC(2025, 2, 1)) as unknown as Order[];
    await put(stream, orders);

    const refused = await runCli(["run", "--once", "--evolve-schema"], env(stream, root, { LOG_LEVEL: "warning" }));
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    const text = refused.stdout + refused.stderr;
    assert.match(text, /Cannot start: the events table at \S+events exists with a schema that cannot take what is written into it without losing data:/);
    assert.match(text, /  - order_id: found absent, expected string \(the table has no such column\)/);
    assert.match(text, /the orders table at \S+orders exists with/);
    assert.match(text, /  - order_timestamp: found long, expected timestamp \(no lossless conversion from timestamp to long\)/);
    assert.match(text, /  - customer_id: found absent, expected string/);
    assert.match(text, /Two ways out: \(1\) start with --evolve-schema \(EVOLVE_SCHEMA=true\) to add events\.order_id, orders\.customer_id, .* the other column\(s\) above cannot be fixed that way; or \(2\) write to a new location/);
    assert.equal((await DeltaTable.open(new LocalStore(path.join(bronze, "events")))).version, 1, "nothing evolved while orders refuses");

    // Way 2 for orders (a new location), way 1 for events.
    const ok = await runCli(["run", "--once", "--evolve-schema", "--orders-table", "orders_v2"], env(stream, root));
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout + ok.stderr, /Added the column\(s\) order_id to table events as version 2/);
    const read = await delta.request({ op: "read", engine: "spark", path: path.join(bronze, "events") });
    assert.deepEqual(shape(read.schema), ["event_id:string", "event_type:string", "event_timestamp:string", "order_id:string"]);
    const created = read.rows.filter((r) => r.event_type === "ORDER_CREATED");
    assert.deepEqual(
      created.map((r) => `${r.event_id} ${r.event_timestamp} ${r.order_id}`).sort(),
      ["ev-old 2025-01-01 00:00:00 null", ...orders.map((o) => `${o.event_id} ${o.event_timestamp} ${o.order_id}`)].sort(),
    );
    // A later start finds the column there and evolves nothing.
    const again = await runCli(["run", "--once", "--orders-table", "orders_v2"], env(stream, root));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.doesNotMatch(again.stdout + again.stderr, /Added the column/);
  });
});
