import assert from "node:assert/strict";
import { test } from "node:test";
import * as arrow from "apache-arrow";
import { arrowSchemaKey, parquetRowCount, readParquet, readParquetBatches, writeParquet, writeParquetStream } from "./parquet.ts";

const SCHEMA = new arrow.Schema([new arrow.Field("a", new arrow.Int32(), true)]);
const ints = (n: number, from = 0) => new arrow.RecordBatch(SCHEMA, arrow.makeData({ type: new arrow.Struct(SCHEMA.fields), length: n, children: [arrow.makeData({ type: new arrow.Int32(), data: Int32Array.from({ length: n }, (_, i) => from + i) })] }));
const strings = (values: string[]) => arrow.tableFromArrays({ a: values }).batches[0]!;

async function* batches(...items: (arrow.RecordBatch | Error)[]): AsyncGenerator<arrow.RecordBatch> {
  for (const b of items) {
    if (b instanceof Error) throw b;
    yield b;
  }
}

// parquet-wasm's stream encoder turns an input that errors before its first batch into
// "Dyn casting error", and skips one that errors later, closing a file without those rows.
test("a failing input fails the streamed write with its own error, before the first batch and after it", async () => {
  const first = new Error("GET part-1.parquet failed");
  await assert.rejects(writeParquetStream(batches(first, ints(3))), (e) => e === first);
  const later = new Error("GET part-7.parquet failed");
  await assert.rejects(writeParquetStream(batches(ints(10), ints(10, 10), later, ints(5))), (e) => e === later);
});

test("a batch of another schema than the first is refused, not dropped from the file", async () => {
  await assert.rejects(writeParquetStream(batches(ints(10), strings(["x", "y"]), ints(5))), TypeError);
});

test("batches of one schema, in JavaScript or read by parquet-wasm, are written whole, in order", async () => {
  const file = writeParquet([ints(4, 100)]);
  const wasm = readParquetBatches(file);
  assert.equal(wasm.numRows, 4);
  assert.deepEqual(wasm.schemaKey(), arrowSchemaKey(SCHEMA));
  async function* mixed() {
    yield ints(3);
    yield wasm;
    yield ints(0);
    yield ints(2, 3);
  }
  const out = await writeParquetStream(mixed());
  assert.deepEqual([...readParquet(out).getChild("a")!].map(Number), [0, 1, 2, 100, 101, 102, 103, 3, 4]);
  assert.throws(() => wasm.take(), /already handed on/);
});

test("the row count is read from the footer", () => {
  assert.equal(parquetRowCount(writeParquet([ints(0)])), 0);
  assert.equal(parquetRowCount(writeParquet([ints(3000), ints(7)], { rowGroupSize: 1000 })), 3007);
  assert.equal(parquetRowCount(writeParquet([strings(["é", "", "x".repeat(300)])])), 3);
  const wide = arrow.tableFromArrays({ id: BigInt64Array.from([1n, 2n]), at: [new Date(0), new Date(1)], s: ["a", "b"] });
  assert.equal(parquetRowCount(writeParquet(wide.batches)), 2);
  assert.throws(() => parquetRowCount(new TextEncoder().encode("not parquet at all")), /not a Parquet file/);
});
