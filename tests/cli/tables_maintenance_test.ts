/**
 * `tables describe`, `tables history` and `tables vacuum` as users meet them (the compiled
 * binary when DS_BIN names one, else src/main.ts), on a local table with a known history:
 * files removed inside and outside the retention, orphans old and recent, hidden files, file
 * times set with utimes. delta-rs judges time travel before and after the vacuum; Spark's
 * DESCRIBE HISTORY shows the VACUUM START / END commits.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { encodeCommit } from "../../src/core/delta/actions.ts";
import { commitKey } from "../../src/core/delta/log_paths.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { field, struct } from "../../src/core/schema/schema.ts";
import { runCli } from "../helpers/cli.ts";
import { type DeltaWorker, startDeltaWorker } from "../helpers/delta_worker.ts";

const DAY = 86_400_000;
const SCHEMA = struct(field("id", "long"), field("v", "string"));

interface Fixture {
  root: string;
  /** The table at the order tables' `events` location under `root`. */
  dir: string;
  now: number;
  /** Keys of the data files, by role. */
  keys: Record<"a1" | "b1" | "a2" | "b2" | "c1" | "orphanOld" | "orphanRecent" | "hiddenDir" | "hiddenFile", string>;
  sizes: Map<string, number>;
}

/**
 * Versions: 0 create, 1 append a1, 2 append b1 (20 days ago); 3 a1 → a2 (10 days ago: a1's
 * tombstone is outside the 7-day retention); 4 b1 → b2 (2 days ago: b1's is inside); 5
 * append c1 (1 day ago). Orphans no commit names: one 9 days old, one 30 minutes old; old
 * files under `_hidden/` and named `.hidden` are never touched.
 */
async function makeFixture(): Promise<Fixture> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "ds-maint-"));
  const dir = path.join(root, "orders/delta/bronze/events");
  const now = Date.now();
  let clock = now - 20 * DAY;
  const store = new LocalStore(dir);
  const table = await DeltaTable.openOrCreate(store, { schema: SCHEMA }, { now: () => clock });
  const a1 = (await table.append([{ id: 1, v: "a" }, { id: 2, v: "a" }])).adds[0]!.path;
  const b1 = (await table.append([{ id: 3, v: "b" }])).adds[0]!.path;
  clock = now - 10 * DAY;
  const a2 = (await table.rewrite([table.snapshot.files.get(a1)!], [{ id: 1, v: "a2" }, { id: 2, v: "a2" }])).adds[0]!.path;
  clock = now - 2 * DAY;
  const b2 = (await table.rewrite([table.snapshot.files.get(b1)!], [{ id: 3, v: "b2" }])).adds[0]!.path;
  clock = now - 1 * DAY;
  const c1 = (await table.append([{ id: 4, v: "c" }])).adds[0]!.path;
  const orphan = new Uint8Array(1000).fill(7);
  const keys = { a1, b1, a2, b2, c1, orphanOld: "part-00000-orphan-old-c000.zstd.parquet", orphanRecent: "part-00000-orphan-recent-c000.zstd.parquet", hiddenDir: "_hidden/old.parquet", hiddenFile: ".hidden-old.parquet" };
  for (const k of [keys.orphanOld, keys.orphanRecent, keys.hiddenDir, keys.hiddenFile]) await store.put(k, orphan);
  const times: [string, number][] = [
    [a1, now - 20 * DAY], [b1, now - 20 * DAY], [a2, now - 10 * DAY], [b2, now - 2 * DAY], [c1, now - DAY],
    [keys.orphanOld, now - 9 * DAY], [keys.orphanRecent, now - 30 * 60_000], [keys.hiddenDir, now - 30 * DAY], [keys.hiddenFile, now - 30 * DAY],
    [commitKey(0), now - 20 * DAY], [commitKey(1), now - 20 * DAY], [commitKey(2), now - 20 * DAY], [commitKey(3), now - 10 * DAY], [commitKey(4), now - 2 * DAY], [commitKey(5), now - DAY],
  ];
  for (const [k, t] of times) await fs.utimes(path.join(dir, k), new Date(t), new Date(t));
  const sizes = new Map<string, number>();
  for (const [k] of times) sizes.set(k, (await fs.stat(path.join(dir, k))).size);
  return { root, dir, now, keys, sizes };
}

async function exists(dir: string, key: string): Promise<boolean> {
  return await fs.stat(path.join(dir, key)).then(() => true, () => false);
}

/** A table whose version 0 has this protocol (and one live file, 10 days old, beside an orphan). */
async function tableWithProtocol(root: string, name: string, protocol: Record<string, unknown>): Promise<string> {
  const dir = path.join(root, name);
  const store = new LocalStore(dir);
  const metaData = { id: crypto.randomUUID(), format: { provider: "parquet", options: {} }, schemaString: JSON.stringify(SCHEMA), partitionColumns: [], configuration: {}, createdTime: 0 };
  await store.putIfAbsent(commitKey(0), encodeCommit([{ commitInfo: { timestamp: 0, operation: "CREATE TABLE", operationParameters: {} } }, { protocol: protocol as never }, { metaData }]));
  await store.put("part-orphan.parquet", new Uint8Array(10));
  const old = new Date(Date.now() - 10 * DAY);
  await fs.utimes(path.join(dir, "part-orphan.parquet"), old, old);
  return dir;
}

const env = { LOG_FILE: "" };

describe("tables describe, history and vacuum on a local table with a known history", () => {
  let fx: Fixture;
  let worker: DeltaWorker;
  const before5: Record<number, unknown> = {};
  const cli = (...args: string[]) => runCli([...args, "--tables-root", fx.root], env);

  before(async () => {
    [fx, worker] = await Promise.all([makeFixture(), startDeltaWorker()]);
  });
  after(async () => {
    await worker?.close();
    await fs.rm(fx.root, { recursive: true, force: true });
  });

  test("describe --json reports version, protocol, live, small and removed files, retention properties", async () => {
    const res = await cli("tables", "describe", "events", "--json");
    assert.equal(res.code, 0, res.stderr);
    const [t] = JSON.parse(res.stdout).tables;
    assert.equal(t.name, "events");
    assert.equal(t.state, "ok");
    assert.equal(t.version, 5);
    assert.deepEqual(t.protocol, { minReaderVersion: 1, minWriterVersion: 2, readerFeatures: [], writerFeatures: ["appendOnly", "invariants"] });
    const live = [fx.keys.a2, fx.keys.b2, fx.keys.c1].reduce((n, k) => n + fx.sizes.get(k)!, 0);
    assert.deepEqual(t.liveFiles, { count: 3, bytes: live, rows: 4 });
    assert.deepEqual(t.smallFiles, { targetFileSize: 128 * 1024 * 1024, count: 3, bytes: live, partitions: 1 });
    assert.deepEqual(t.awaitingVacuum, {
      total: { count: 2, bytes: fx.sizes.get(fx.keys.a1)! + fx.sizes.get(fx.keys.b1)! },
      expired: { count: 1, bytes: fx.sizes.get(fx.keys.a1)! },
    });
    assert.equal(t.lastCheckpointVersion, null);
    assert.equal(t.oldestVersion, 0);
    assert.equal(t.lastOptimize, null);
    assert.equal(t.lastVacuum, null);
    assert.deepEqual(t.historySearched, { commits: 6, complete: true });
    assert.equal(t.properties.checkpointInterval, 10);
    assert.equal(t.properties.deletedFileRetentionMs, 7 * DAY);
    assert.equal(t.properties.deletedFileRetentionDuration, "interval 7 days");
    assert.equal(t.properties.logRetentionMs, 30 * DAY);
    // Against a target just above the smallest live file, only the files of that size are small.
    const smallest = Math.min(...[fx.keys.a2, fx.keys.b2, fx.keys.c1].map((k) => fx.sizes.get(k)!));
    const small = JSON.parse((await cli("tables", "describe", "events", "--json", "--target-size", String(smallest + 1))).stdout).tables[0];
    const expected = [fx.keys.a2, fx.keys.b2, fx.keys.c1].filter((k) => fx.sizes.get(k)! <= smallest);
    assert.deepEqual(small.smallFiles, { targetFileSize: smallest + 1, count: expected.length, bytes: expected.length * smallest, partitions: 1 });
    // Every other order table is missing, and said so.
    const all = JSON.parse((await cli("tables", "describe", "--json")).stdout).tables;
    assert.deepEqual(all.map((x: { name: string; state: string }) => `${x.name}:${x.state}`), ["events:ok", "orders:missing", "orders_items:missing", "quarantine:missing", "package_table:missing"]);
    const text = await cli("tables", "describe", "events");
    assert.match(text.stdout, /awaiting vacuum +2 removed file\(s\) .*; 1 \(.*\) removed more than 7 days ago/);
  });

  test("history --json shows each commit as DESCRIBE HISTORY does, newest first; --limit keeps the newest", async () => {
    const res = await cli("tables", "history", "events", "--json");
    assert.equal(res.code, 0, res.stderr);
    const h = JSON.parse(res.stdout);
    assert.deepEqual(h.history.map((e: { version: number }) => e.version), [5, 4, 3, 2, 1, 0]);
    assert.deepEqual(h.history.map((e: { operation: string }) => e.operation), ["WRITE", "MERGE", "MERGE", "WRITE", "WRITE", "CREATE TABLE"]);
    const v3 = h.history[2];
    assert.equal(Math.abs(Date.parse(v3.timestamp) - (fx.now - 10 * DAY)) < 1000, true, "the commit file's time");
    assert.equal(v3.readVersion, 2);
    assert.equal(v3.isBlindAppend, false);
    assert.equal(v3.operationMetrics.numRemovedFiles, "1");
    assert.equal(h.history[0].isBlindAppend, true);
    assert.deepEqual(h.history[0].operationParameters, { mode: "Append", partitionBy: "[]" });
    assert.match(h.history[0].engineInfo, /^data-subscriber\//);
    const limited = JSON.parse((await cli("tables", "history", "events", "--limit", "2", "--json")).stdout);
    assert.deepEqual(limited.history.map((e: { version: number }) => e.version), [5, 4]);
  });

  test("vacuum --dry-run lists exactly the unreferenced files older than the retention and deletes nothing", async () => {
    const res = await cli("tables", "vacuum", "events", "--dry-run", "--json");
    assert.equal(res.code, 0, res.stderr);
    const [r] = JSON.parse(res.stdout).tables;
    assert.deepEqual(r.files.map((f: { key: string }) => f.key).sort(), [fx.keys.a1, fx.keys.orphanOld].sort());
    assert.equal(r.bytes, fx.sizes.get(fx.keys.a1)! + fx.sizes.get(fx.keys.orphanOld)!);
    assert.equal(r.retentionMs, 7 * DAY);
    for (const k of Object.values(fx.keys)) assert.ok(await exists(fx.dir, k), `${k} is still there`);
    const text = await cli("tables", "vacuum", "events", "--dry-run");
    assert.match(text.stdout, new RegExp(`would delete ${fx.keys.orphanOld.replace(/\./g, "\\.")}`));
    // Nothing was committed.
    assert.ok(!(await exists(fx.dir, commitKey(6))));
    // Forced to 1 hour, the file removed 2 days ago goes too; the 30-minute-old orphan still stays.
    const forced = JSON.parse((await cli("tables", "vacuum", "events", "--dry-run", "--json", "--retain", "1h", "--force")).stdout).tables[0];
    assert.deepEqual(forced.files.map((f: { key: string }) => f.key).sort(), [fx.keys.a1, fx.keys.b1, fx.keys.orphanOld].sort());
  });

  test("bad input is refused with exit 2 naming what was wrong, and changes nothing", async () => {
    const unknown = await cli("tables", "vacuum", "evnts");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown table 'evnts': the tables of the order tables .* are 'events', 'orders'/);
    const badDuration = await cli("tables", "vacuum", "events", "--retain", "7 fortnights");
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /'--retain' must be a duration like '168h', '7d' or 'interval 7 days'.*got '7 fortnights'/);
    const short = await cli("tables", "vacuum", "--retain", "1h");
    assert.equal(short.code, 2);
    assert.match(short.stderr, /Cannot vacuum 'events': .*a retention of 1 hour is shorter than the table's delta\.deletedFileRetentionDuration \(7 days\).*--force/);
    const noTable = await cli("tables", "history");
    assert.equal(noTable.code, 2);
    assert.match(noTable.stderr, /'tables history' needs one table: got none/);
    const badLimit = await cli("tables", "history", "events", "--limit", "0");
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /'--limit' must be a whole number of 1 or more: got '0'/);
    const unknownDescribe = await cli("tables", "describe", "nope");
    assert.equal(unknownDescribe.code, 2);
    assert.match(unknownDescribe.stderr, /Unknown table 'nope'/);
    for (const k of Object.values(fx.keys)) assert.ok(await exists(fx.dir, k), `${k} is still there`);
    assert.ok(!(await exists(fx.dir, commitKey(6))));
  });

  test("vacuum deletes exactly those files, commits VACUUM START and END, and time travel inside the retention reads the same rows", async () => {
    // The version current at the retention's start (3, ten days ago) and every later one.
    for (const v of [3, 4, 5]) before5[v] = (await worker.request({ op: "read", engine: "deltalake", path: fx.dir, version: v })).rows;
    const res = await cli("tables", "vacuum", "events");
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /deleted 2 file\(s\); VACUUM START at version 6, VACUUM END at version 7/);
    assert.ok(!(await exists(fx.dir, fx.keys.a1)) && !(await exists(fx.dir, fx.keys.orphanOld)), "a1 and the old orphan are gone");
    for (const k of [fx.keys.b1, fx.keys.a2, fx.keys.b2, fx.keys.c1, fx.keys.orphanRecent, fx.keys.hiddenDir, fx.keys.hiddenFile]) {
      assert.ok(await exists(fx.dir, k), `${k} is kept`);
    }
    for (const v of [3, 4, 5]) {
      const after = await worker.request({ op: "read", engine: "deltalake", path: fx.dir, version: v });
      assert.deepEqual(after.rows, before5[v], `version ${v}`);
    }
    const latest = await worker.request({ op: "read", engine: "deltalake", path: fx.dir });
    assert.equal(latest.version, 7);
    assert.deepEqual(latest.rows, before5[5]);

    const h = JSON.parse((await cli("tables", "history", "events", "--json", "--limit", "2")).stdout).history;
    assert.equal(h[1].operation, "VACUUM START");
    assert.deepEqual(h[1].operationParameters, { retentionCheckEnabled: "true", defaultRetentionMillis: String(7 * DAY) });
    assert.deepEqual(h[1].operationMetrics, { numFilesToDelete: "2", sizeOfDataToDelete: String(fx.sizes.get(fx.keys.a1)! + fx.sizes.get(fx.keys.orphanOld)!) });
    assert.equal(h[0].operation, "VACUUM END");
    assert.deepEqual(h[0].operationParameters, { status: "COMPLETED" });
    assert.deepEqual(h[0].operationMetrics, { numDeletedFiles: "2", numVacuumedDirectories: "1" });

    const t = JSON.parse((await cli("tables", "describe", "events", "--json")).stdout).tables[0];
    assert.equal(t.version, 7);
    assert.equal(t.lastVacuum.version, 7);
    assert.equal(t.lastVacuum.operation, "VACUUM END");
    assert.equal(t.lastVacuum.operationParameters.status, "COMPLETED");

    // A second run finds nothing more to delete.
    const again = JSON.parse((await cli("tables", "vacuum", "events", "--dry-run", "--json")).stdout).tables[0];
    assert.deepEqual(again.files, []);
  });

  test("Spark's DESCRIBE HISTORY shows the VACUUM START and VACUUM END commits", async () => {
    await worker.request({ op: "start_spark" });
    const res = await worker.request({ op: "sql", sql: `DESCRIBE HISTORY delta.\`${fx.dir}\``, sort: false });
    const byVersion = new Map(res.rows.map((r) => [Number((r as Record<string, unknown>).version), r as Record<string, unknown>]));
    assert.equal(byVersion.get(6)?.operation, "VACUUM START");
    assert.equal(byVersion.get(7)?.operation, "VACUUM END");
    assert.equal(byVersion.get(3)?.operation, "MERGE");
    const params = byVersion.get(7)?.operationParameters;
    assert.equal(JSON.stringify(params).includes("COMPLETED"), true, JSON.stringify(params));
  });

  test("vacuum refuses a table with a feature it does not understand, naming it; honours vacuumProtocolCheck", async () => {
    const dv = await tableWithProtocol(fx.root, "dv", { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["deletionVectors"], writerFeatures: ["deletionVectors"] });
    const refused = await runCli(["tables", "vacuum", dv, "--dry-run", "--tables-root", fx.root], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot vacuum a table with the feature 'deletionVectors' \(protocol 3\/7\)/);
    assert.ok(await exists(dv, "part-orphan.parquet"));
    const described = JSON.parse((await runCli(["tables", "describe", dv, "--json", "--tables-root", fx.root], env)).stdout).tables[0];
    assert.deepEqual(described.protocol, { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["deletionVectors"], writerFeatures: ["deletionVectors"] });
    const vpc = await tableWithProtocol(fx.root, "vpc", { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["vacuumProtocolCheck"], writerFeatures: ["vacuumProtocolCheck", "appendOnly"] });
    const ok = await runCli(["tables", "vacuum", vpc, "--tables-root", fx.root], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(!(await exists(vpc, "part-orphan.parquet")), "the orphan went");
    const h = JSON.parse((await runCli(["tables", "history", vpc, "--json", "--tables-root", fx.root], env)).stdout).history;
    assert.deepEqual(h.map((e: { operation: string }) => e.operation), ["VACUUM END", "VACUUM START", "CREATE TABLE"]);
  });
});
