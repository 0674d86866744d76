/**
 * Tables Spark created with table features (protocol writer 7, reader 3, and the legacy
 * writer versions 3 and 4): we append to them and rewrite them (the package_table MERGE's
 * primitive), Spark, delta-rs, DuckDB and Trino read every row, and the protocol is as Spark left it.
 * Deletion vectors Spark wrote are honoured. Features whose use a write cannot honour (a
 * CHECK constraint, row tracking) are refused at open, by name; an append-only table
 * refuses the rewrite.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { TableError } from "../../src/core/delta/errors.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { type DeltaWorker, type ReadEngine, startDeltaWorker } from "../helpers/delta_worker.ts";

/** Spark's `DESCRIBE DETAIL` protocol columns. */
async function protocolOf(worker: DeltaWorker, dir: string) {
  const res = await worker.request({ op: "sql", sql: `DESCRIBE DETAIL delta.\`${dir}\`` });
  const row = res.rows[0]!;
  return { reader: row.minReaderVersion, writer: row.minWriterVersion, features: [...((row.tableFeatures as string[] | null) ?? [])].sort() };
}

describe("tables with table features, created by Spark", () => {
  let worker: DeltaWorker;
  let root: string;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "ds-features-"));
    worker = await startDeltaWorker();
    // Trino's JVM starts while Spark does; the second start_trino waits until it serves
    await worker.request({ op: "start_trino", wait: false });
    await worker.request({ op: "start_spark" });
    await worker.request({ op: "start_trino" });
  });
  after(async () => {
    await worker?.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  /** Creates `dir` with Spark (id BIGINT, name STRING, at TIMESTAMP) and two rows. */
  async function sparkTable(dir: string, properties: Record<string, string>, extraColumns = ""): Promise<void> {
    const props = Object.entries(properties).map(([k, v]) => `'${k}' = '${v}'`).join(", ");
    await worker.request({ op: "sql", sql: `CREATE TABLE delta.\`${dir}\` (id BIGINT, name STRING, at TIMESTAMP${extraColumns}) USING delta TBLPROPERTIES (${props})` });
    await worker.request({ op: "sql", sql: `INSERT INTO delta.\`${dir}\` (id, name, at) VALUES (1, 'one', TIMESTAMP '2024-01-01 00:00:00'), (2, 'two', TIMESTAMP '2024-01-02 00:00:00')` });
  }

  async function idsAndNames(engine: ReadEngine, dir: string): Promise<string[]> {
    const res = await worker.request({ op: "read", engine, path: dir });
    return res.rows.map((r) => `${r.id}:${r.name}`).sort();
  }

  /** Title, table properties, and whether delta-rs (1.6) reads such a table at all. */
  const writable: [string, Record<string, string>, boolean][] = [
    [
      "writer 7 / reader 3: timestampNtz, checkConstraints, invariants, generatedColumns, changeDataFeed (unused)",
      {
        "delta.feature.timestampNtz": "supported",
        "delta.feature.checkConstraints": "supported",
        "delta.feature.invariants": "supported",
        "delta.feature.generatedColumns": "supported",
        "delta.feature.changeDataFeed": "supported",
        // Our append is version 2: we write the checkpoint Spark and delta-rs then start from.
        "delta.checkpointInterval": "2",
      },
      true,
    ],
    [
      "writer 7: inCommitTimestamp (enabled) and domainMetadata",
      { "delta.enableInCommitTimestamps": "true", "delta.feature.domainMetadata": "supported", "delta.checkpointInterval": "2" },
      true,
    ],
    // delta-rs refuses to read it ("Unsupported table features required: [VacuumProtocolCheck]").
    ["writer 7 / reader 3: vacuumProtocolCheck", { "delta.feature.vacuumProtocolCheck": "supported" }, false],
    ["legacy writer 4 (constraints, generated columns and change data feed, unused)", { "delta.minReaderVersion": "1", "delta.minWriterVersion": "4", "delta.checkpointInterval": "2" }, true],
  ];
  for (const [title, properties, deltaRsReads] of writable) {
    test(`${title}: appended to and rewritten, read by Spark${deltaRsReads ? ", delta-rs" : ""}, DuckDB and Trino, protocol unchanged`, async () => {
      const dir = path.join(root, title.replace(/[^a-z0-9]+/gi, "-").slice(0, 40));
      await sparkTable(dir, properties);
      const before = await protocolOf(worker, dir);
      const table = await DeltaTable.open(new LocalStore(dir));
      await table.append([{ id: 3, name: "three", at: "2024-01-03T00:00:00Z" }, { id: 4, name: "four", at: null }]);
      // The MERGE's primitive: read every live file, write its rows again with one changed.
      const files = [...table.snapshot.files.values()];
      const rows = await table.readRows(files);
      await table.rewrite(files, rows.map((r) => (Number(r.id) === 2 ? { ...r, name: "TWO" } : r)));
      if (properties["delta.checkpointInterval"]) {
        assert.ok((await fs.readdir(path.join(dir, "_delta_log"))).includes("00000000000000000002.checkpoint.parquet"), "our checkpoint of the feature table");
      }
      const expected = ["1:one", "2:TWO", "3:three", "4:four"];
      assert.deepEqual(await idsAndNames("spark", dir), expected);
      if (deltaRsReads) assert.deepEqual(await idsAndNames("deltalake", dir), expected);
      assert.deepEqual(await idsAndNames("duckdb", dir), expected);
      assert.deepEqual(await idsAndNames("trino", dir), expected);
      assert.deepEqual(await protocolOf(worker, dir), before, "the protocol as Spark left it");
      const history = await worker.request({ op: "sql", sql: `DESCRIBE HISTORY delta.\`${dir}\`` });
      assert.deepEqual(history.rows.map((r) => r.operation).slice(0, 2), ["MERGE", "WRITE"]);
      if (properties["delta.enableInCommitTimestamps"]) {
        // Spark takes each version's time from its in-commit timestamp: newest first, strictly later.
        const times = history.rows.map((r) => Date.parse(String(r.timestamp)));
        for (let i = 1; i < times.length; i++) assert.ok(times[i - 1]! > times[i]!, `version ${history.rows[i - 1]!.version} is later than ${history.rows[i]!.version}: ${JSON.stringify(history.rows.map((r) => r.timestamp))}`);
      }
    });
  }

  test("an append-only table (writer 7, appendOnly) takes appends and refuses the rewrite, naming the property", async () => {
    const dir = path.join(root, "append-only");
    await sparkTable(dir, { "delta.appendOnly": "true", "delta.minWriterVersion": "7", "delta.minReaderVersion": "1" });
    const before = await protocolOf(worker, dir);
    assert.ok(before.features.includes("appendOnly"), JSON.stringify(before));
    const table = await DeltaTable.open(new LocalStore(dir));
    await table.append([{ id: 3, name: "three", at: null }]);
    const files = [...table.snapshot.files.values()];
    await assert.rejects(table.rewrite(files, await table.readRows(files)), /append-only \('delta\.appendOnly' is true\)/);
    for (const engine of ["spark", "deltalake", "duckdb", "trino"] as const) assert.deepEqual(await idsAndNames(engine, dir), ["1:one", "2:two", "3:three"], engine);
    assert.deepEqual(await protocolOf(worker, dir), before);
  });

  test("deletion vectors Spark wrote (a DELETE) are honoured: our reads leave the rows out, our rewrite removes the file with its vector, the deleted rows stay deleted in Spark, delta-rs, DuckDB and Trino", async () => {
    const dir = path.join(root, "deletion-vectors");
    await sparkTable(dir, { "delta.enableDeletionVectors": "true" });
    await worker.request({ op: "sql", sql: `INSERT INTO delta.\`${dir}\` (id, name) VALUES (3, 'three'), (4, 'four'), (5, 'five'), (6, 'six')` });
    await worker.request({ op: "sql", sql: `DELETE FROM delta.\`${dir}\` WHERE id IN (2, 5)` });
    const before = await protocolOf(worker, dir);
    assert.ok(before.features.includes("deletionVectors"), JSON.stringify(before));
    const table = await DeltaTable.open(new LocalStore(dir));
    const withVector = [...table.snapshot.files.values()].filter((f) => f.deletionVector);
    assert.ok(withVector.length > 0, "Spark's DELETE wrote deletion vectors, not new files");
    const rows = await table.readRows();
    assert.deepEqual(rows.map((r) => Number(r.id)).sort(), [1, 3, 4, 6], "our read leaves the deleted rows out");
    await table.append([{ id: 7, name: "seven", at: null }]);
    const files = [...table.snapshot.files.values()];
    await table.rewrite(files, (await table.readRows(files)).map((r) => (Number(r.id) === 1 ? { ...r, name: "ONE" } : r)));
    const log = await fs.readFile(path.join(dir, "_delta_log", `${String(table.version).padStart(20, "0")}.json`), "utf8");
    const removes = log.split("\n").filter((l) => l.includes('"remove"')).map((l) => JSON.parse(l).remove as { path: string; deletionVector?: unknown });
    for (const f of withVector) assert.deepEqual(removes.find((r) => r.path === f.path)?.deletionVector, f.deletionVector, `the remove of ${f.path} names its vector`);
    const expected = ["1:ONE", "3:three", "4:four", "6:six", "7:seven"];
    assert.deepEqual(await idsAndNames("spark", dir), expected);
    assert.deepEqual(await idsAndNames("deltalake", dir), expected);
    assert.deepEqual(await idsAndNames("duckdb", dir), expected);
    assert.deepEqual(await idsAndNames("trino", dir), expected);
    assert.deepEqual(await protocolOf(worker, dir), before, "the protocol as Spark left it");
  });

  test("row tracking: our appended rows get the ids after Spark's and our version as their commit version; our rewrite keeps every row's id", async () => {
    const dir = path.join(root, "row-tracking");
    await sparkTable(dir, { "delta.enableRowTracking": "true" });
    const before = await protocolOf(worker, dir);
    const table = await DeltaTable.open(new LocalStore(dir));
    await table.append([{ id: 3, name: "three", at: null }, { id: 4, name: "four", at: null }]);
    const ours = table.version;
    const res = await worker.request({ op: "sql", sql: `SELECT id, _metadata.row_id AS row_id, _metadata.row_commit_version AS v FROM delta.\`${dir}\` ORDER BY id` });
    const ids = res.rows.map((r) => Number(r.row_id));
    assert.equal(new Set(ids).size, 4, `every row its own id: ${JSON.stringify(res.rows)}`);
    const spark = res.rows.filter((r) => Number(r.id) <= 2).map((r) => Number(r.row_id));
    const mine = res.rows.filter((r) => Number(r.id) > 2);
    assert.deepEqual(mine.map((r) => Number(r.row_id)), [Math.max(...spark) + 1, Math.max(...spark) + 2], "ours follow the high-water mark");
    assert.deepEqual(mine.map((r) => Number(r.v)), [ours, ours]);
    // A rewrite (the MERGE's) keeps every row's id, and the commit version of the rows it leaves unchanged.
    const files = [...table.snapshot.files.values()];
    await table.rewrite(files, (await table.readRows(files)).map((r) => (Number(r.id) === 1 ? { ...r, name: "ONE" } : r)));
    const after = await worker.request({ op: "sql", sql: `SELECT id, _metadata.row_id AS row_id, _metadata.row_commit_version AS v FROM delta.\`${dir}\` ORDER BY id` });
    assert.deepEqual(after.rows.map((r) => Number(r.row_id)), ids, "the same ids after the rewrite");
    assert.deepEqual(after.rows.map((r) => Number(r.v)), [table.version, ...res.rows.slice(1).map((r) => Number(r.v))], "the changed row at the rewrite's version, the others as they were");
    for (const engine of ["spark", "deltalake", "duckdb", "trino"] as const) assert.deepEqual(await idsAndNames(engine, dir), ["1:ONE", "2:two", "3:three", "4:four"], engine);
    assert.deepEqual(await protocolOf(worker, dir), before);
  });

  test("column mapping (name mode), a column renamed by Spark: appended to and rewritten under its new name, read by Spark, delta-rs, DuckDB and Trino", async () => {
    const dir = path.join(root, "column-mapping");
    await sparkTable(dir, { "delta.columnMapping.mode": "name", "delta.minReaderVersion": "2", "delta.minWriterVersion": "5", "delta.checkpointInterval": "3" });
    await worker.request({ op: "sql", sql: `ALTER TABLE delta.\`${dir}\` RENAME COLUMN name TO title` });
    const before = await protocolOf(worker, dir);
    const table = await DeltaTable.open(new LocalStore(dir));
    assert.deepEqual(table.snapshot.schema.fields.map((f) => f.name), ["id", "title", "at"]);
    await table.append([{ id: 3, title: "three", at: "2024-01-03T00:00:00Z" }]); // version 3: our checkpoint
    const files = [...table.snapshot.files.values()];
    await table.rewrite(files, (await table.readRows(files)).map((r) => (Number(r.id) === 2 ? { ...r, title: "TWO" } : r)));
    const expected = ["1:one", "2:TWO", "3:three"];
    for (const engine of ["spark", "deltalake", "duckdb", "trino"] as const) {
      const res = await worker.request({ op: "read", engine, path: dir });
      assert.deepEqual(res.rows.map((r) => `${r.id}:${r.title}`).sort(), expected, engine);
    }
    const filtered = await worker.request({ op: "read", engine: "spark", path: dir, filter: "title = 'three'" });
    assert.deepEqual(filtered.rows.map((r) => Number(r.id)), [3], "Spark's filter on the renamed column, by our stats");
    const trino = await worker.request({ op: "read", engine: "trino", path: dir, filter: "title = 'three'" });
    assert.deepEqual(trino.rows.map((r) => Number(r.id)), [3], "Trino's filter on the renamed column, by our stats");
    assert.deepEqual(await protocolOf(worker, dir), before);
  });

  test("v2 checkpoints: Spark's UUID-named checkpoint (and its sidecars) is read; ours, classic-named in the V2 spec, is what Spark, delta-rs, DuckDB and Trino start from", async () => {
    const dir = path.join(root, "v2-checkpoint");
    const log = path.join(dir, "_delta_log");
    await sparkTable(dir, { "delta.checkpointPolicy": "v2", "delta.checkpointInterval": "2" });
    await worker.request({ op: "sql", sql: `INSERT INTO delta.\`${dir}\` (id, name) VALUES (3, 'three')` }); // version 2: Spark's checkpoint
    const theirs = (await fs.readdir(log)).filter((n) => /^0{19}2\.checkpoint\.[0-9a-f-]{36}\.(json|parquet)$/.test(n));
    assert.equal(theirs.length, 1, `Spark wrote a UUID-named checkpoint: ${(await fs.readdir(log)).join(" ")}`);
    for (let v = 0; v < 2; v++) await fs.rm(path.join(log, `${String(v).padStart(20, "0")}.json`));
    const before = await protocolOf(worker, dir);
    const table = await DeltaTable.open(new LocalStore(dir));
    assert.deepEqual((await table.readRows()).map((r) => Number(r.id)).sort(), [1, 2, 3], "read from Spark's checkpoint alone");
    await table.append([{ id: 4, name: "four", at: null }]);
    await table.append([{ id: 5, name: "five", at: null }]); // version 4: our checkpoint
    assert.ok((await fs.readdir(log)).includes("00000000000000000004.checkpoint.parquet"));
    for (let v = 2; v < 4; v++) await fs.rm(path.join(log, `${String(v).padStart(20, "0")}.json`));
    const expected = ["1:one", "2:two", "3:three", "4:four", "5:five"];
    for (const engine of ["spark", "deltalake", "duckdb", "trino"] as const) assert.deepEqual(await idsAndNames(engine, dir), expected, engine);
    assert.deepEqual(await protocolOf(worker, dir), before);
    assert.deepEqual((await DeltaTable.open(new LocalStore(dir))).version, 4);
  });

  test("timestampNtz with a TIMESTAMP_NTZ column: our wall-clock times read back unchanged by Spark and Trino; delta-rs and DuckDB read every row", async () => {
    const dir = path.join(root, "timestamp-ntz");
    await sparkTable(dir, { "delta.checkpointInterval": "2" }, ", wall TIMESTAMP_NTZ");
    const before = await protocolOf(worker, dir);
    assert.ok(before.features.includes("timestampNtz"), JSON.stringify(before));
    const table = await DeltaTable.open(new LocalStore(dir));
    await table.append([{ id: 3, name: "three", at: null, wall: "2024-05-01 10:30:00.123456" }, { id: 4, name: "four", at: null, wall: null }]);
    const res = await worker.request({ op: "sql", sql: `SELECT id, CAST(wall AS STRING) AS wall FROM delta.\`${dir}\` WHERE id > 2 ORDER BY id` });
    assert.deepEqual(res.rows.map((r) => [Number(r.id), r.wall]), [[3, "2024-05-01 10:30:00.123456"], [4, null]]);
    const ours = await DeltaTable.open(new LocalStore(dir));
    const walls = (await ours.readRows(undefined, { timestamps: "micros" })).filter((r) => r.wall != null).map((r) => r.wall);
    assert.deepEqual(walls, [BigInt(Date.UTC(2024, 4, 1, 10, 30)) * 1000n + 123456n]);
    // Trino reads timestamp_ntz as timestamp(6): the wall-clock time to the microsecond
    const trino = await worker.request({ op: "read", engine: "trino", path: dir, filter: "id > 2" });
    assert.deepEqual(trino.rows.map((r) => [Number(r.id), r.wall]).sort(), [[3, "2024-05-01T10:30:00.123456"], [4, null]]);
    for (const engine of ["spark", "deltalake", "duckdb", "trino"] as const) assert.deepEqual(await idsAndNames(engine, dir), ["1:one", "2:two", "3:three", "4:four"], engine);
    assert.deepEqual(await protocolOf(worker, dir), before);
  });

  test("a CHECK constraint in use and a feature not understood are refused at open, by name", async () => {
    const constrained = path.join(root, "constrained");
    await sparkTable(constrained, { "delta.minWriterVersion": "7", "delta.minReaderVersion": "1" });
    await worker.request({ op: "sql", sql: `ALTER TABLE delta.\`${constrained}\` ADD CONSTRAINT positive_id CHECK (id > 0)` });
    await assert.rejects(DeltaTable.open(new LocalStore(constrained)), (err: unknown) => {
      assert.ok(err instanceof TableError);
      assert.match(err.message, /CHECK constraints positive_id \(id > 0\)/);
      return true;
    });

    const widening = path.join(root, "type-widening");
    await sparkTable(widening, { "delta.enableTypeWidening": "true" });
    await assert.rejects(DeltaTable.open(new LocalStore(widening)), /writer feature typeWidening/);
  });
});
