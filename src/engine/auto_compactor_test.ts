import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStore } from "../adapters/memory/memory_store.ts";
import { readCommit } from "../core/delta/snapshot.ts";
import { DeltaTable } from "../core/delta/table.ts";
import { field, struct } from "../core/schema/schema.ts";
import { systemClock } from "../ports/clock.ts";
import { AutoCompactor } from "./auto_compactor.ts";

const SCHEMA = struct(field("id", "long"), field("day", "string"), field("name", "string"));
const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => ({ id: from + k, day: `d${(from + k) % 2}`, name: `n${from + k}` }));

test("auto-compaction after commits: rows unchanged, tiers of minFiles files compacted one at a time with auto=true, the file count bounded", async () => {
  const store = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(store, { schema: SCHEMA, partitionColumns: ["day"] });
  const results: string[] = [];
  const compactor = new AutoCompactor({ clock: systemClock, minFiles: 4, events: { compactionDone: (_t, result, _ms, _res, err) => results.push(err ? `${result}: ${err}` : result) } });
  let maxFiles = 0;
  for (let b = 0; b < 40; b++) {
    await table.append(rows(b * 10, 10));
    compactor.noteCommit("t", table);
    await compactor.idle();
    await table.refresh();
    maxFiles = Math.max(maxFiles, table.snapshot.files.size);
  }
  await compactor.close();
  assert.ok(results.length > 0 && results.every((r) => r === "compacted"), results.join(", "));
  const fresh = await DeltaTable.open(store);
  assert.deepEqual((await fresh.readRows()).map((r) => Number(r.id)).sort((a, b) => a - b), rows(0, 400).map((r) => r.id));
  // Two partitions of tiers of 4: far fewer files than the 80 appended.
  assert.ok(fresh.snapshot.files.size < 16, `${fresh.snapshot.files.size} files`);
  assert.ok(maxFiles < 20, `${maxFiles} files at most`);
  // Every compaction was one bin (one partition), marked auto.
  for (let v = fresh.version; v >= 0; v--) {
    const info = (await readCommit(store, v))?.[0]?.commitInfo;
    if (info?.operation !== "OPTIMIZE") continue;
    assert.equal((info.operationParameters as Record<string, unknown>).auto, true);
    assert.equal((info.operationMetrics as Record<string, string>).numAddedFiles, "1");
  }
});

test("noteCommit never waits, and close stops what is queued", async () => {
  const store = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(store, { schema: SCHEMA });
  for (let b = 0; b < 4; b++) await table.append(rows(b * 10, 10));
  const compactor = new AutoCompactor({ clock: systemClock, minFiles: 4 });
  assert.equal(compactor.needsCompaction(table), true);
  compactor.noteCommit("t", table);
  assert.equal(compactor.busy, true, "the compaction runs in the background");
  await compactor.close();
  compactor.noteCommit("t", table);
  assert.equal(compactor.busy, false, "nothing starts after close");
});

test("a compaction waits between files while a batch is in progress, and goes on when it ends", async () => {
  const store = new MemoryStore("t");
  const table = await DeltaTable.openOrCreate(store, { schema: SCHEMA });
  for (let b = 0; b < 4; b++) await table.append(rows(b * 10, 10));
  const version = table.version;
  const compactor = new AutoCompactor({ clock: systemClock, minFiles: 4 });
  const batchDone = compactor.batchStarted();
  compactor.noteCommit("t", table);
  // Event loop turns enough for the whole compaction on the memory store, were it not waiting.
  for (let i = 0; i < 200; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(compactor.busy, true);
  assert.equal((await DeltaTable.open(store)).version, version, "nothing committed during the batch");
  batchDone();
  await compactor.idle();
  assert.equal((await DeltaTable.open(store)).snapshot.files.size, 1);
  await compactor.close();
});
