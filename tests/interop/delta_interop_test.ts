/**
 * Interop: tables written by this library are read by delta-rs, Spark, DuckDB (its delta
 * extension, a third Delta implementation: delta-kernel-rs) and Trino 476 (the engine behind
 * Athena, with its own Delta Lake connector) with identical rows and schema; tables written by
 * delta-rs and Spark are read by this library.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { openStore } from "../../src/adapters/open_store.ts";
import { LOG_DIR } from "../../src/core/delta/log_paths.ts";
import { array, decimal, field, map, struct, type StructType } from "../../src/core/schema/schema.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { canonicalRows, type DeltaStructType, timestampsToMillis } from "../helpers/canonical_rows.ts";
import { type DeltaWorker, type Engine, type ReadEngine, startDeltaWorker } from "../helpers/delta_worker.ts";
import { startMoto, type Moto } from "../helpers/servers.ts";

/** The engines that read the tables we write. */
const READERS: ReadEngine[] = ["deltalake", "spark", "duckdb", "trino"];
/** The engines whose tables our reader reads (DuckDB and Trino only read). */
const WRITERS: Engine[] = ["deltalake", "spark"];

const ALL_TYPES: StructType = struct(
  field("id", "integer", false),
  field("s", "string"), field("l", "long"), field("i", "integer"), field("sh", "short"), field("b", "byte"),
  field("d", "double"), field("f", "float"), field("bool", "boolean"), field("dt", "date"), field("ts", "timestamp"),
  field("dec", decimal(12, 3)), field("bin", "binary"),
  field("st", struct(field("a", "integer"), field("inner", struct(field("x", "string"), field("y", "double"))))),
  field("arr", array("string")),
  field("arr_st", array(struct(field("k", "string"), field("v", "long")))),
  field("m", map("string", "integer")),
  field("m_arr", map("string", array("double"))),
);

const allTypesRows: Record<string, unknown>[] = [
  {
    id: 1, s: "héllo 😀 wörld", l: 9007199254740991n, i: -2147483648, sh: 32767, b: -128, d: 1.5e300, f: 0.1, bool: true,
    dt: "2024-02-29", ts: "2024-01-02T03:04:05.123456Z", dec: "123456789.125", bin: new Uint8Array([0, 1, 255]),
    st: { a: 1, inner: { x: "in", y: null } }, arr: ["a", null, "c"], arr_st: [{ k: "k1", v: 1n }, null, { k: null, v: null }],
    m: new Map([["one", 1], ["none", null]]), m_arr: { xs: [1.5, null], empty: [] },
  },
  {
    id: 2, s: "", l: -5, i: 0, sh: 0, b: 0, d: -0.5, f: -2.5, bool: false, dt: "1970-01-01", ts: 0n, dec: "-0.001",
    bin: new Uint8Array(0), st: { a: null, inner: null }, arr: [], arr_st: [], m: {}, m_arr: {},
  },
  {
    id: 3, s: null, l: null, i: null, sh: null, b: null, d: null, f: null, bool: null, dt: null, ts: null, dec: null, bin: null,
    st: null, arr: null, arr_st: null, m: null, m_arr: null,
  },
  {
    id: 4, s: "x".repeat(100), l: 42, i: 7, sh: -1, b: 127, d: 2, f: 3.25, bool: true, dt: "2262-04-11", ts: "1969-12-31T23:59:59.999999Z",
    dec: "0", bin: new Uint8Array([42]), st: { a: 2, inner: { x: null, y: 2.5 } }, arr: [null], arr_st: null, m: { a: 1 }, m_arr: null,
  },
];

/**
 * Trino's Delta Lake connector (476) reads a Delta `timestamp` as `timestamp(3) with time zone`
 * (DeltaLakeSchemaSupport maps it to TIMESTAMP_TZ_MILLIS; the stored microseconds are rounded
 * half up to the millisecond). Its rows are compared with ours rounded the same way
 * (`timestampsToMillis`), every other value exactly; a filter on a timestamp literal finer
 * than a millisecond asks about what Trino cannot see, and is not sent to it.
 */
const trinoCannotSee = (engine: ReadEngine, filter: string) => engine === "trino" && /TIMESTAMP '[^']*\.\d{4,}'/.test(filter);

/** Field names and types, recursively, without nullability (engines may report it differently). */
function shape(t: unknown): unknown {
  if (typeof t === "string") return t;
  const o = t as Record<string, unknown>;
  if (o.type === "struct") return (o.fields as { name: string; type: unknown }[]).map((f) => [f.name, shape(f.type)]);
  if (o.type === "array") return ["array", shape(o.elementType)];
  if (o.type === "map") return ["map", shape(o.keyType), shape(o.valueType)];
  return t;
}

describe("interop with delta-rs, Spark, DuckDB and Trino", () => {
  let worker: DeltaWorker;
  let root: string;
  let moto: Moto;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "ds-interop-"));
    [worker, moto] = await Promise.all([startDeltaWorker(), startMoto()]);
    // Trino's JVM starts while Spark does; the second start_trino waits until it serves
    await worker.request({ op: "start_trino", wait: false });
    await worker.request({ op: "start_spark" });
    await worker.request({ op: "start_trino" });
  });
  after(async () => {
    await worker?.close();
    await moto?.stop();
    await fs.rm(root, { recursive: true, force: true });
  });

  /**
   * Every reader reads `rows` and `schema` from the local table `tablePath`. `statsOnlyParsed`:
   * the files' stats are only in a checkpoint's stats_parsed (writeStatsAsJson=false).
   */
  /** Each filter, by every reader (Trino's where it can see the literal), finds exactly these ids. */
  async function checkFilters(dir: string, cases: [string, number[]][]) {
    for (const engine of READERS) {
      for (const [filter, ids] of cases) {
        if (trinoCannotSee(engine, filter)) continue;
        const res = await worker.request({ op: "read", engine, path: dir, filter });
        assert.deepEqual(res.rows.map((r) => r.id).sort((a, b) => Number(a) - Number(b)), ids, `${engine}: ${filter}`);
      }
    }
  }

  async function readAll(tablePath: string, schema: StructType, rows: Record<string, unknown>[], { statsOnlyParsed = false } = {}) {
    const expected = canonicalRows(rows, schema as DeltaStructType);
    for (const engine of READERS) {
      const res = await worker.request({ op: "read", engine, path: tablePath });
      const want = engine === "trino" ? timestampsToMillis(expected, schema as DeltaStructType) : expected;
      assert.deepEqual(res.rows, want, `${engine} reads the rows we wrote`);
      assert.deepEqual(shape(res.schema), shape(schema), `${engine} sees our schema`);
      assert.equal(res.count, rows.length, `${engine} counts the rows`);
      if (engine === "deltalake") assert.equal(res.statsCount, rows.length, "numRecords in stats add up");
      // DuckDB's delta extension (1.4.4) takes numRecords from the JSON `stats` only, never from
      // stats_parsed: a file whose stats are only there has no cardinality (UBIGINT max) in
      // delta_list_files, in the stats_parsed-only checkpoints delta-spark writes as much as in ours.
      if (engine === "duckdb" && !statsOnlyParsed) assert.equal(res.statsCount, rows.length, "duckdb: numRecords in stats add up");
    }
  }

  test("every type, with nulls at every level and nested values, reads back identically", async () => {
    const dir = path.join(root, "all_types");
    const table = await DeltaTable.openOrCreate(new LocalStore(dir), { schema: ALL_TYPES });
    await table.append(allTypesRows.slice(0, 2));
    await table.append(allTypesRows.slice(2));
    await readAll(dir, ALL_TYPES, allTypesRows);
  });

  test("filters on stats columns return the right rows, microsecond timestamps and long strings included", async () => {
    const dir = path.join(root, "filters");
    const schema = struct(field("id", "long"), field("name", "string"), field("ts", "timestamp"), field("price", decimal(10, 2)));
    const table = await DeltaTable.openOrCreate(new LocalStore(dir), { schema });
    const long = "n".repeat(40);
    const rows = [
      [{ id: 1, name: "alpha", ts: "2024-01-01T00:00:00.000001Z", price: "1.00" }, { id: 2, name: `${long}a`, ts: "2024-01-01T00:00:00.123456Z", price: "2.50" }],
      [{ id: 10, name: "beta", ts: "2024-06-01T12:00:00Z", price: "10.00" }, { id: 11, name: `${long}b`, ts: "2024-06-01T12:00:00.999999Z", price: "11.10" }],
      [{ id: 20, name: "gamma", ts: null, price: null }],
    ];
    for (const batch of rows) await table.append(batch);
    const cases: [string, number[]][] = [
      ["id >= 10 AND id < 20", [10, 11]],
      ["ts = TIMESTAMP '2024-01-01 00:00:00.123456'", [2]],
      ["ts > TIMESTAMP '2024-06-01 12:00:00.999998'", [11]],
      ["ts = TIMESTAMP '2024-06-01 12:00:00'", [10]],
      ["ts < TIMESTAMP '2024-01-01 00:00:00.124'", [1, 2]],
      [`name = '${long}b'`, [11]],
      [`name > '${long}a'`, [11]],
      ["price = 2.50", [2]],
      ["ts IS NULL", [20]],
    ];
    await checkFilters(dir, cases);
    const count = await worker.request({ op: "sql", sql: `SELECT COUNT(*) AS n FROM delta.\`${dir}\` WHERE id < 100` });
    assert.equal(count.rows[0]!.n, 5);
  });

  test("a table of 26 commits is read through its checkpoints by every reader", async () => {
    const dir = path.join(root, "many");
    const schema = struct(field("id", "long"), field("v", "string"));
    const table = await DeltaTable.openOrCreate(new LocalStore(dir), { schema });
    const all: Record<string, unknown>[] = [];
    for (let i = 1; i <= 26; i++) {
      const batch = [{ id: i * 2, v: `v${i}` }, { id: i * 2 + 1, v: null }];
      all.push(...batch);
      await table.append(batch, { txns: [{ appId: "interop/app", version: i }] });
    }
    const log = await fs.readdir(path.join(dir, "_delta_log"));
    assert.ok(log.includes("00000000000000000020.checkpoint.parquet"), log.join(" "));
    // Readers must get the state from the checkpoint: remove the commits it covers.
    for (let v = 0; v < 20; v++) await fs.rm(path.join(dir, "_delta_log", `${String(v).padStart(20, "0")}.json`));
    await readAll(dir, schema, all);
    const txn = await worker.request({ op: "sql", sql: `DESCRIBE HISTORY delta.\`${dir}\` LIMIT 1` });
    assert.equal(txn.rows[0]!.version, 26);
  });

  for (const json of [true, false]) {
    test(`a checkpoint with typed stats (stats_parsed, partitionValues_parsed)${json ? " beside the JSON" : " alone (writeStatsAsJson=false)"} is what every reader plans from`, async () => {
      const dir = path.join(root, `stats-parsed-${json}`);
      const schema = struct(field("id", "long"), field("name", "string"), field("ts", "timestamp"), field("price", decimal(10, 2)), field("day", "date"), field("part", "string"));
      const table = await DeltaTable.openOrCreate(new LocalStore(dir), {
        schema,
        partitionColumns: ["part"],
        configuration: { "delta.checkpointInterval": "3", "delta.checkpoint.writeStatsAsJson": String(json) },
      });
      const long = "n".repeat(40);
      const batches = [
        [{ id: 1, name: "alpha", ts: "2024-01-01T00:00:00.000001Z", price: "1.00", day: "2024-01-01", part: "a" }, { id: 2, name: `${long}a`, ts: "2024-01-01T00:00:00.123456Z", price: "2.50", day: "2024-01-02", part: "b" }],
        [{ id: 10, name: "beta", ts: "2024-06-01T12:00:00Z", price: "10.00", day: "2024-06-01", part: "a" }, { id: 11, name: `${long}b`, ts: "2024-06-01T12:00:00.999999Z", price: "11.10", day: "2024-06-02", part: "b" }],
        [{ id: 20, name: "gamma", ts: null, price: null, day: null, part: null }],
      ];
      for (const rows of batches) await table.append(rows);
      const log = await fs.readdir(path.join(dir, LOG_DIR));
      assert.ok(log.includes("00000000000000000003.checkpoint.parquet"), log.join(" "));
      // Only the checkpoint holds the files' stats now.
      for (let v = 0; v < 3; v++) await fs.rm(path.join(dir, LOG_DIR, `${String(v).padStart(20, "0")}.json`));
      await readAll(dir, schema, batches.flat(), { statsOnlyParsed: !json });
      const cases: [string, number[]][] = [
        ["id >= 10 AND id < 20", [10, 11]],
        ["ts = TIMESTAMP '2024-01-01 00:00:00.123456'", [2]],
        ["ts > TIMESTAMP '2024-06-01 12:00:00.999998'", [11]],
        ["ts = TIMESTAMP '2024-06-01 12:00:00'", [10]],
        ["ts < TIMESTAMP '2024-01-01 00:00:00.124'", [1, 2]],
        [`name = '${long}b'`, [11]],
        ["price = 2.50", [2]],
        ["day = DATE '2024-06-02'", [11]],
        ["part = 'b' AND id > 5", [11]],
        ["part IS NULL", [20]],
      ];
      await checkFilters(dir, cases);
    });
  }

  test("partition values with / % = space é 😀 and null round-trip through folders and the log", async () => {
    const dir = path.join(root, "partitioned");
    const schema = struct(field("id", "long"), field("part", "string"), field("v", "integer"));
    const table = await DeltaTable.openOrCreate(new LocalStore(dir), { schema, partitionColumns: ["part"] });
    const values = ["a/b", "%", "x=y", "sp ace", "é", "😀", null, "a%20b", "plain"];
    const rows = values.flatMap((p, i) => [{ id: i * 2, part: p, v: i }, { id: i * 2 + 1, part: p, v: null }]);
    await table.append(rows);
    await readAll(dir, schema, rows);
    for (const engine of ["spark", "duckdb", "trino"] as const) {
      for (const p of ["a/b", "%", "x=y", "😀"]) {
        const res = await worker.request({ op: "read", engine, path: dir, filter: `part = '${p}'` });
        assert.deepEqual(res.rows.map((r) => r.part), [p, p], `${engine} partition filter on ${p}`);
      }
      const nulls = await worker.request({ op: "read", engine, path: dir, filter: "part IS NULL" });
      assert.equal(nulls.rows.length, 2, `${engine}: part IS NULL`);
    }
  });

  test("a copy-on-write rewrite is read as the new rows only", async () => {
    const dir = path.join(root, "rewrite");
    const schema = struct(field("package_id", "string"), field("stock", "integer", false));
    const table = await DeltaTable.openOrCreate(new LocalStore(dir), { schema });
    await table.append([{ package_id: "p1", stock: 10 }, { package_id: "p2", stock: 5 }]);
    await table.append([{ package_id: "p3", stock: 1 }]);
    const files = [...table.snapshot.files.values()];
    const current = await table.readRows(files);
    const updated = current.map((r) => ({ ...r, stock: r.package_id === "p1" ? 7 : r.stock }));
    const res = await table.rewrite(files, updated, { txns: [{ appId: "interop/merge", version: 1 }] });
    assert.equal(res.removes.length, 2);
    await readAll(dir, schema, updated);
    const history = await worker.request({ op: "sql", sql: `DESCRIBE HISTORY delta.\`${dir}\` LIMIT 1` });
    assert.equal(history.rows[0]!.operation, "MERGE");
  });

  // delta-rs only: DuckDB would read s3:// through its httpfs extension and a secret, and Trino
  // through its native S3 file system and a catalog pointed at moto, neither of which the worker
  // sets up (their readers take local paths); Spark reads the S3 tables of the e2e tests.
  test("a table on S3 (moto) is read by delta-rs", async () => {
    const bucket = await moto.bucket();
    const url = `s3://${bucket}/orders/delta/bronze/events`;
    const table = await DeltaTable.openOrCreate(openStore(url, moto.s3), { schema: ALL_TYPES });
    await table.append(allTypesRows);
    const storage = {
      AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing",
      AWS_REGION: "us-east-1", AWS_ALLOW_HTTP: "true",
    };
    const res = await worker.request({ op: "read", engine: "deltalake", path: url, storage });
    assert.deepEqual(res.rows, canonicalRows(allTypesRows, ALL_TYPES as DeltaStructType));
  });

  for (const engine of WRITERS) {
    for (const kind of ["all_types", "partitioned", "many_commits"] as const) {
      test(`our reader reads the ${kind} table ${engine} wrote`, async () => {
        const dir = path.join(root, `theirs-${engine}-${kind}`);
        const written = await worker.request({ op: "write", engine, path: dir, case: kind });
        const table = await DeltaTable.open(new LocalStore(dir));
        assert.equal(table.version, written.version);
        const rows = await table.readRows(undefined, { timestamps: "micros" });
        assert.deepEqual(canonicalRows(rows, table.snapshot.schema as DeltaStructType), written.rows);
        if (kind === "many_commits") {
          const log = await fs.readdir(path.join(dir, LOG_DIR));
          assert.ok(log.some((n) => n.endsWith(".checkpoint.parquet")), `${engine} wrote a checkpoint`);
          // Only the checkpoint (stats_parsed, no JSON stats) can give the state now.
          const cp = Math.max(...log.filter((n) => n.endsWith(".checkpoint.parquet")).map((n) => Number(n.slice(0, 20))));
          for (let v = 0; v < cp; v++) await fs.rm(path.join(dir, LOG_DIR, `${String(v).padStart(20, "0")}.json`), { force: true });
          const again = await DeltaTable.open(new LocalStore(dir));
          assert.deepEqual(canonicalRows(await again.readRows(), again.snapshot.schema as DeltaStructType), written.rows);
          for (const add of again.snapshot.files.values()) assert.match(add.stats ?? "", /"numRecords":2/, "stats recovered from stats_parsed");
        }
      });
    }
  }
});
