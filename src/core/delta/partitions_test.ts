import assert from "node:assert/strict";
import { test } from "node:test";
import { actionPathToKey, keyToActionPath, NULL_PARTITION, parsePartitionValue, partitionFolder, serializePartitionValue } from "./partitions.ts";

test("partition folders escape Hive's characters and keep spaces and non-ASCII", () => {
  const folder = partitionFolder(["p"], { p: "a/b%c=d e é 😀" });
  assert.equal(folder, "p=a%2Fb%25c%3Dd e é 😀/");
  assert.equal(partitionFolder(["p", "q"], { p: null, q: "x" }), `p=${NULL_PARTITION}/q=x/`);
});

test("an action path is the URI-encoded key and decodes back to it", () => {
  const key = "p=a%2Fb%25c%3Dd e é 😀/part-00000-x.c000.zstd.parquet";
  const path = keyToActionPath(key);
  assert.ok(path.startsWith("p=a%252Fb%2525c%253Dd%20e%20"), path);
  assert.equal(actionPathToKey(path), key);
});

test("partition values serialise as Spark writes them and parse back", () => {
  assert.equal(serializePartitionValue("string", "", "p"), null, "the empty string is stored as null");
  assert.equal(serializePartitionValue("integer", 42, "p"), "42");
  assert.equal(serializePartitionValue("date", "2024-02-29", "p"), "2024-02-29");
  assert.equal(serializePartitionValue("timestamp", 1_700_000_000_123_456n, "p"), "2023-11-14T22:13:20.123456Z");
  assert.equal(parsePartitionValue("long", "9007199254740993"), 9007199254740993n);
  assert.equal(parsePartitionValue("decimal(10,2)", "1.5"), "1.50");
  assert.throws(() => serializePartitionValue("integer", "x", "p"), /Partition column 'p'/);
});
