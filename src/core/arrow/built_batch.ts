/**
 * A record batch with its statistics: what `rows_to_arrow.ts` and the column builders make
 * and the Delta writer takes.
 * @module
 */
import type * as arrow from "apache-arrow";

/**
 * Statistics of one column of a batch, shaped like the schema: a struct has per-field
 * statistics, every other column one `nullCount` and, for orderable types, `min`/`max`.
 *
 * `min`/`max` hold raw values: `number` for integer/short/byte/float/double and date
 * (days since the epoch), `bigint` for long, timestamp (µs since the epoch) and decimal
 * (unscaled), `string` for strings (whole; cutting is the stats writer's job).
 */
export type ColumnStats = LeafStats | StructStats;
export interface LeafStats {
  kind: "leaf";
  nullCount: number;
  min?: number | bigint | string;
  max?: number | bigint | string;
}
export interface StructStats {
  kind: "struct";
  fields: Map<string, ColumnStats>;
}

export interface BuiltBatch {
  batch: arrow.RecordBatch;
  stats: StructStats;
  numRows: number;
}
