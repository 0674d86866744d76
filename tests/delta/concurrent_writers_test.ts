import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { openStore } from "../../src/adapters/open_store.ts";
import { decodeCommit } from "../../src/core/delta/actions.ts";
import { LOG_DIR, parseLogKey } from "../../src/core/delta/log_paths.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import type { ObjectStore } from "../../src/ports/object_store.ts";
import { runScript } from "../helpers/runtime.ts";
import { REPO, startMoto, type Moto } from "../helpers/servers.ts";

const WORKER = path.join(REPO, "tests/helpers/append_worker.ts");
const COMMITS = 50;

async function twoWriters(url: string, s3: object, store: ObjectStore): Promise<void> {
  const env = { ...process.env, DS_TEST_S3: JSON.stringify(s3) };
  const startAt = String(Date.now() + 1500);
  const results = await Promise.all(["A", "B"].map((w) => runScript(WORKER, [url, w, String(COMMITS), startAt], { env })));
  for (const r of results) assert.equal(r.code, 0, `writer failed: ${r.stderr}`);
  const retries = results.map((r) => JSON.parse(r.stdout.trim().split("\n").pop()!).retries as number);

  // Versions are contiguous: 0 (create) and one per append, whoever won each.
  const versions: number[] = [];
  for await (const m of store.list(LOG_DIR)) {
    const f = parseLogKey(m.key);
    if (f.kind === "commit") versions.push(f.version);
  }
  assert.deepEqual(versions, Array.from({ length: 2 * COMMITS + 1 }, (_, i) => i));
  let adds = 0;
  for (const v of versions) adds += decodeCommit(await store.get(`${LOG_DIR}${String(v).padStart(20, "0")}.json`)).filter((a) => a.add).length;
  assert.equal(adds, 2 * COMMITS, "every commit adds its one file, none twice");

  const table = await DeltaTable.open(store);
  const rows = await table.readRows();
  const seen = rows.map((r) => `${r.writer}:${r.seq}`).sort();
  const expected = ["A", "B"].flatMap((w) => Array.from({ length: COMMITS }, (_, i) => `${w}:${i}`)).sort();
  assert.deepEqual(seen, expected, "each row exactly once");
  assert.ok(retries[0]! + retries[1]! > 0, "the writers raced for versions (else this test proves nothing)");
}

describe("two writer processes appending to one table", () => {
  let root: string;
  let moto: Moto;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "ds-conc-"));
    moto = await startMoto();
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
    await moto.stop();
  });

  test("on a local folder, every commit lands at contiguous versions", async () => {
    const url = path.join(root, "table");
    await twoWriters(url, {}, openStore(url));
  });

  test("on S3 (moto), every commit lands at contiguous versions", async () => {
    const url = `s3://${await moto.bucket()}/tables/t`;
    await twoWriters(url, moto.s3, openStore(url, moto.s3));
  });
});
