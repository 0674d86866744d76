import assert from "node:assert/strict";
import { test } from "node:test";
import { field, struct } from "../schema/schema.ts";
import { DoubleColumn, finishBatch, IntColumn, StringColumn, TimestampColumn } from "./column_builders.ts";
import { type BuiltBatch, rowsToArrow } from "./rows_to_arrow.ts";
import { tableToRows } from "./arrow_to_rows.ts";
import * as arrow from "apache-arrow";
import { compareUtf8 } from "../../util/utf8_order.ts";

const SCHEMA = struct(field("s", "string"), field("d", "double"), field("i", "integer"), field("t", "timestamp"), field("n", "string", false));

const STRINGS = ["a", "b", "", "Café", "zürich", "ÿ", "\u{10000}", "\uffff", "\ud800", "日本", "🎄 tree", "PENDING", "PROCESSING", null];

/** Rows of every kind of value the builders take, nulls and strings beyond U+D800 included. */
function rows(count: number, seed: number): Record<string, unknown>[] {
  let x = seed;
  const r = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: count }, (_, k) => ({
    s: STRINGS[Math.floor(r() * STRINGS.length)]! === null ? null : `${STRINGS[Math.floor(r() * STRINGS.length)] ?? ""}${k % 3 === 0 ? "x" : ""}`,
    d: r() < 0.1 ? null : (r() - 0.5) * 1e6,
    i: r() < 0.1 ? null : Math.floor((r() - 0.5) * 4e9) | 0,
    t: r() < 0.1 ? null : BigInt(Math.floor((r() - 0.5) * 1e16)) * (r() < 0.05 ? 100000n : 1n),
    n: `n${k}`,
  }));
}

function build(rs: Record<string, unknown>[], capacity: number): BuiltBatch {
  const cols = [new StringColumn(capacity), new DoubleColumn(capacity), new IntColumn(capacity), new TimestampColumn(capacity), new StringColumn(capacity, 1)] as const;
  for (const row of rs) {
    cols[0].push(row.s as string | null);
    cols[1].push(row.d as number | null);
    cols[2].push(row.i as number | null);
    const t = row.t as bigint | null;
    // Safe microseconds go in as numbers, the others as bigints: both must give the same column.
    cols[3].push(t !== null && t >= -9007199254740991n && t <= 9007199254740991n && t % 2n === 0n ? Number(t) : t);
    cols[4].push(row.n as string);
  }
  return finishBatch(SCHEMA, cols);
}

for (const [count, capacity] of [[0, 4], [1, 1], [7, 2], [1000, 1], [1000, 4096]] as const) {
  test(`builders give rowsToArrow's values and statistics (${count} rows, buffers grown from ${capacity})`, () => {
    const rs = rows(count, count + 1);
    const want = rowsToArrow(SCHEMA, rs);
    const got = build(rs, capacity);
    assert.equal(got.numRows, want.numRows);
    assert.deepEqual(got.stats, want.stats);
    // Strings: min and max in UTF-8 order, from a sort of every value.
    const sorted = rs.map((r) => r.s).filter((s): s is string => s != null).sort(compareUtf8);
    const s = got.stats.fields.get("s") as { min?: string; max?: string };
    assert.deepEqual([s.min, s.max], [sorted[0], sorted.at(-1)]);
    const read = (b: BuiltBatch) => tableToRows(new arrow.Table([b.batch]), { timestamps: "micros" });
    assert.deepEqual(read(got), read(want));
    for (const [k, c] of want.batch.data.children.entries()) {
      assert.equal(got.batch.data.children[k]!.nullCount, c.nullCount, SCHEMA.fields[k]!.name);
    }
  });
}

test("a null in a column that is not nullable is refused at finish, naming the column", () => {
  const cols = [new StringColumn(), new DoubleColumn(), new IntColumn(), new TimestampColumn(), new StringColumn()];
  for (const c of cols) (c as StringColumn).push(null);
  assert.throws(() => finishBatch(SCHEMA, cols), /Column 'n' is not nullable but 1 value\(s\) are null/);
});

test("columns of different lengths are refused", () => {
  const a = new StringColumn();
  a.push("x");
  assert.throws(() => finishBatch(struct(field("a", "string"), field("b", "string")), [a, new StringColumn()]), /Column 'b' has 0 values, expected 1/);
});
