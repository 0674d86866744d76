/**
 * Test helper process: appends COUNT one-row commits to the table at URL.
 * Usage: append_worker.ts <url> <writerId> <count> [startAtMs]; S3 settings from
 * DS_TEST_S3 (JSON). Waits until `startAtMs` so that several workers start together.
 */
import { openStore } from "../../src/adapters/open_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { field, struct } from "../../src/core/schema/schema.ts";

const [url, writer, count, startAt] = process.argv.slice(2);
if (!url || !writer || !count) throw new Error("usage: append_worker.ts <url> <writerId> <count>");
const s3 = process.env.DS_TEST_S3 ? JSON.parse(process.env.DS_TEST_S3) : {};
const store = openStore(url, s3);
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt ?? 0) - Date.now())));
let retries = 0;
const table = await DeltaTable.openOrCreate(
  store,
  { schema: struct(field("writer", "string"), field("seq", "integer")) },
  { onRetry: () => retries++ },
);
for (let i = 0; i < Number(count); i++) {
  await table.append([{ writer, seq: i }]);
}
console.log(JSON.stringify({ writer, retries, version: table.version }));
