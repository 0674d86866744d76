/**
 * OPTIMIZE (bin-packing compaction), as Spark's `OPTIMIZE` and delta-rs' `optimize.compact()`
 * do it: the small live files of each partition are packed into bins of about the target
 * size, each bin's rows are written into one new file, and one commit removes the old files
 * and adds the new ones, all with `dataChange` false (the table's rows do not change; streaming
 * readers skip the commit), with Spark's commitInfo (`OPTIMIZE`, `SnapshotIsolation`, its
 * parameters and metrics).
 *
 * Beside writers: the commit reads only the files it removes, so a blind append never
 * conflicts with it (the commit goes to the next version). When a concurrent commit removed
 * one of a bin's files (a MERGE rewrote it, another OPTIMIZE compacted it), that bin is
 * dropped (its new file deleted, never committed) and the others are committed; a MERGE
 * that meets this commit's removals computes itself again (`ConcurrentDeleteReadError`).
 *
 * Memory: one bin at a time, its files read one after another and converted in chunks of
 * rows that the Parquet encoder takes as they come (row groups encoded when full); what is
 * held is a chunk, the row group being encoded and the new file (about the target size).
 * @module
 */
import type * as arrow from "apache-arrow";
import { dataValues } from "../arrow/arrow_to_rows.ts";
import { columnsToArrow, type ColumnStats, type LeafStats, type StructStats } from "../arrow/rows_to_arrow.ts";
import { arrowSchemaKey, CODEC_SUFFIX, type Codec, readParquetBatches, type WasmBatches, writeParquetStream } from "../parquet/parquet.ts";
import type { DataType, StructType } from "../schema/schema.ts";
import { compareUtf8 } from "../../util/utf8_order.ts";
import type { Add, Remove } from "./actions.ts";
import { CommitConflictError, ConcurrentDeleteReadError, TableError, VersionRaceLostError } from "./errors.ts";
import { RetryExhaustedError } from "../retry/retry.ts";
import { actionPathToKey, keyToActionPath, partitionFolder } from "./partitions.ts";
import { unsupportedForOptimize } from "./protocol_support.ts";
import { statsJson } from "./stats.ts";
import { mergeStatsJson } from "./stats_merge.ts";
import type { DeltaTable } from "./table.ts";
import { DATA_SKIPPING_NUM_INDEXED_COLS } from "./table_properties.ts";
import { UnsupportedFeaturesError } from "./vacuum.ts";

/** The default target size of a compacted file: 128 MiB. */
export const DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024;

/** Partition values a compaction is limited to: column → value as the log writes it (null: the null partition). */
export type PartitionFilter = Readonly<Record<string, string | null>>;

/** How to compact. */
export interface OptimizeOptions {
  /** Files below this size are compacted, into files of about this size. @default 128 MiB */
  targetFileSize?: number;
  /** A partition is compacted only when it holds at least this many small files. @default 2 */
  minFiles?: number;
  /** Only the partitions with these values. @default every partition */
  partitionFilter?: PartitionFilter;
  /** commitInfo `operationParameters.auto`: true for the daemon's auto-compaction. @default false */
  auto?: boolean;
  /** Wall clock, ms (tombstones, file times). @default Date.now */
  now?: () => number;
  /** @default "zstd" */
  codec?: Codec;
  /** Rows converted and handed to the Parquet encoder at a time. @default 65_536 */
  chunkRows?: number;
  /** Commits tried again after a conflict that dropped some bins. @default 5 */
  maxConflictRetries?: number;
  /** Stops between files (the new files written so far are left for vacuum). */
  signal?: AbortSignal;
  /** Awaited before each file is decoded: the daemon's auto-compaction waits there while a batch is being committed. */
  beforeFile?: () => Promise<void>;
  /** Called after each bin is written. */
  onBin?: (bin: CompactionBin, add: Add) => void;
  /**
   * Chooses the bins instead of {@link planCompaction} (the daemon's auto-compaction passes
   * {@link planTieredCompaction}); `targetFileSize`, `minFiles` and `partitionFilter` are then its business.
   */
  plan?: (files: Iterable<Add>, partitionColumns: readonly string[]) => CompactionBin[];
}

/** Small files of one partition that go into one new file. */
export interface CompactionBin {
  partitionValues: Record<string, string | null>;
  files: Add[];
  bytes: number;
}

/** What an OPTIMIZE did. */
export interface OptimizeResult {
  /** The version committed, or null when there was nothing to compact (no commit, as Spark). */
  version: number | null;
  /** The version the plan was made on. */
  readVersion: number;
  /** Live files (in the filter's partitions) before and after. */
  filesBefore: number;
  filesAfter: number;
  /** Bins planned; bins dropped because a concurrent commit removed one of their files. */
  bins: number;
  binsSkipped: number;
  partitionsOptimized: number;
  numRemovedFiles: number;
  numAddedFiles: number;
  numRemovedBytes: number;
  numAddedBytes: number;
  /** Rows rewritten. */
  rows: number;
}

/**
 * Which files a compaction packs: per partition (in `filter`'s partitions), the live files
 * below the target size, when there are at least `minFiles` of them, smallest first, into
 * bins of at most the target size (a file that would overflow a bin starts the next one); a
 * bin of one file is left alone. Files with deletion vectors or absolute paths are not taken.
 */
export function planCompaction(files: Iterable<Add>, partitionColumns: readonly string[], options: Pick<OptimizeOptions, "targetFileSize" | "minFiles" | "partitionFilter"> = {}): CompactionBin[] {
  const target = options.targetFileSize ?? DEFAULT_TARGET_FILE_SIZE;
  const minFiles = Math.max(2, options.minFiles ?? 2);
  const filter = options.partitionFilter ?? {};
  const groups = new Map<string, Add[]>();
  for (const f of files) {
    if (f.size >= target || f.deletionVector != null || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(f.path)) continue;
    if (!matchesFilter(f.partitionValues, filter)) continue;
    const key = JSON.stringify(partitionColumns.map((c) => f.partitionValues[c] ?? null));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(f);
  }
  const bins: CompactionBin[] = [];
  for (const group of groups.values()) {
    if (group.length < minFiles) continue;
    group.sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    let bin: CompactionBin | undefined;
    const close = () => {
      if (bin && bin.files.length > 1) bins.push(bin);
      bin = undefined;
    };
    for (const f of group) {
      if (bin && bin.bytes + f.size > target) close();
      bin ??= { partitionValues: { ...f.partitionValues }, files: [], bytes: 0 };
      bin.files.push(f);
      bin.bytes += f.size;
    }
    close();
  }
  return bins;
}

/** How {@link planTieredCompaction} picks. */
export interface TieredOptions {
  /** Files of one tier compacted together, at least. @default 10 */
  minFiles?: number;
  /** Bytes one compaction reads at most; files of half this size or more are left alone. @default 64 MiB */
  maxBytes?: number;
}

/** Tier 0 ends at this size × the factor (80 KiB with 10): what is rewritten more than once in it is little. */
const TIER_BASE = 8 * 1024;

/**
 * The tier of a file of `size` bytes, with `factor` files of a tier making about one file of
 * the next: 0 below 8 KiB × factor, 1 below 8 KiB × factor², and so on.
 */
export function sizeTier(size: number, factor: number): number {
  let tier = 0;
  for (let bound = TIER_BASE * factor; size >= bound; bound *= factor) tier++;
  return tier;
}

/**
 * At most one bin, for the daemon's auto-compaction, chosen so that repeated compactions
 * converge instead of rewriting the same rows again and again: files are sorted into size
 * tiers ({@link sizeTier}, a factor of `minFiles` between tiers); a tier of one partition is
 * compacted once it holds `minFiles` files, smallest first and no more than `maxBytes` in all;
 * files of `maxBytes / 2` or more are never taken. A compaction's output (about `minFiles`
 * files of a tier) lands in a higher tier, so a row is rewritten at most once per tier (about
 * log_minFiles(maxBytes / 8 KiB) times: 4 with the defaults), never once per compaction. The
 * lowest tier that qualifies goes first (the smallest files are the ones readers pay for),
 * then the partition with the most files in it.
 */
export function planTieredCompaction(files: Iterable<Add>, partitionColumns: readonly string[], options: TieredOptions = {}): CompactionBin[] {
  const minFiles = Math.max(2, options.minFiles ?? 10);
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const tiers = new Map<string, Add[]>();
  for (const f of files) {
    if (f.size >= maxBytes / 2 || f.deletionVector != null || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(f.path)) continue;
    const key = JSON.stringify([sizeTier(f.size, minFiles), ...partitionColumns.map((c) => f.partitionValues[c] ?? null)]);
    let g = tiers.get(key);
    if (!g) tiers.set(key, (g = []));
    g.push(f);
  }
  let best: { tier: number; files: Add[] } | undefined;
  for (const [key, group] of tiers) {
    if (group.length < minFiles) continue;
    const tier = (JSON.parse(key) as number[])[0]!;
    if (!best || tier < best.tier || (tier === best.tier && group.length > best.files.length)) best = { tier, files: group };
  }
  if (!best) return [];
  best.files.sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const bin: CompactionBin = { partitionValues: { ...best.files[0]!.partitionValues }, files: [], bytes: 0 };
  for (const f of best.files) {
    if (bin.files.length > 0 && bin.bytes + f.size > maxBytes) break;
    bin.files.push(f);
    bin.bytes += f.size;
  }
  return bin.files.length > 1 ? [bin] : [];
}

/** Whether partition values match a filter (every column it names has that value). */
export function matchesFilter(values: Readonly<Record<string, string | null>>, filter: PartitionFilter): boolean {
  for (const [c, v] of Object.entries(filter)) if ((values[c] ?? null) !== v) return false;
  return true;
}

/**
 * Refuses a table whose protocol has features compaction does not understand.
 * @throws {UnsupportedFeaturesError} naming them.
 */
export function checkOptimizable(table: DeltaTable): void {
  const protocol = table.snapshot.protocol;
  if (!protocol) throw new TableError(`${table.store.url}: the log has no protocol action`);
  const unknown = unsupportedForOptimize(protocol);
  if (unknown.length > 0) {
    throw new UnsupportedFeaturesError(
      `${table.store.url}: cannot optimize a table with ${unknown.length === 1 ? "the feature" : "the features"} ${unknown.map((f) => `'${f}'`).join(", ")} ` +
        `(protocol ${protocol.minReaderVersion}/${protocol.minWriterVersion}): data-subscriber cannot rewrite its files keeping what ${unknown.length === 1 ? "it asks" : "they ask"}; optimize it with Spark`,
      unknown,
    );
  }
}

/**
 * Compacts the table's small files (see the module's description) and commits the result.
 * @throws {UnsupportedFeaturesError} for a table with features compaction does not understand.
 * @throws {TableError} when a partition filter names a column that is not a partition column,
 *   or a file holds another number of rows than its stats say.
 * @throws {MetadataChangedError} when the table's schema or protocol changed meanwhile (nothing is committed).
 */
export async function optimize(table: DeltaTable, options: OptimizeOptions = {}): Promise<OptimizeResult> {
  const now = options.now ?? Date.now;
  await table.refresh();
  checkOptimizable(table);
  const snap = table.snapshot;
  const partitionColumns = snap.partitionColumns;
  const filter = options.partitionFilter ?? {};
  for (const c of Object.keys(filter)) {
    if (!partitionColumns.includes(c)) {
      throw new TableError(`${table.store.url}: '${c}' is not a partition column (${partitionColumns.length ? `they are ${partitionColumns.join(", ")}` : "the table is not partitioned"}); OPTIMIZE can only be limited to partitions`);
    }
  }
  const readVersion = snap.version;
  const inScope = () => [...table.snapshot.files.values()].filter((f) => matchesFilter(f.partitionValues, filter)).length;
  const filesBefore = inScope();
  const bins = options.plan ? options.plan(snap.files.values(), partitionColumns) : planCompaction(snap.files.values(), partitionColumns, options);
  const written: { bin: CompactionBin; add: Add; rows: number }[] = [];
  const tableSchemaKey = arrowSchemaKey(columnsToArrow(table.dataSchema, table.dataSchema.fields.map(() => []), 0).batch.schema);
  try {
    for (const bin of bins) {
      options.signal?.throwIfAborted();
      const { add, rows } = await writeBin(table, bin, options, tableSchemaKey);
      written.push({ bin, add, rows });
      options.onBin?.(bin, add);
    }
  } catch (err) {
    // Never committed: the files written so far go (vacuum would take them otherwise).
    await deleteQuietly(table, written.map((w) => w.add));
    throw err;
  }
  let pending = written;
  let skipped = 0;
  let version: number | undefined;
  const retries = options.maxConflictRetries ?? 5;
  for (let attempt = 0; pending.length > 0; attempt++) {
    await table.refresh();
    // A bin whose files are not all live any more was overtaken by another commit.
    const lost = pending.filter((w) => !w.bin.files.every((f) => table.snapshot.files.has(f.path)));
    if (lost.length > 0) {
      skipped += lost.length;
      await deleteQuietly(table, lost.map((w) => w.add));
      pending = pending.filter((w) => !lost.includes(w));
      if (pending.length === 0) break;
    }
    const deletionTimestamp = now();
    const adds = pending.map((w) => w.add);
    const removes: Remove[] = pending.flatMap((w) => w.bin.files.map((f) => removeOf(f, deletionTimestamp)));
    try {
      version = (await table.commitFiles(adds, removes, {
        operation: "OPTIMIZE",
        operationParameters: { predicate: sparkPredicate(filter), zOrderBy: "[]", clusterBy: "[]", auto: options.auto ?? false },
        operationMetrics: optimizeMetrics(adds, removes),
        isolationLevel: "SnapshotIsolation",
      })).version;
      break;
    } catch (err) {
      if (err instanceof ConcurrentDeleteReadError && attempt < retries) continue;
      // The new files go only when the commit certainly did not happen. Any other failure
      // (the log entry's write answered with an error after it was applied, say) may have
      // committed them: they stay, and vacuum deletes them if no commit names them.
      if (certainlyNotCommitted(err)) await deleteQuietly(table, adds);
      throw err;
    }
  }
  const committed = version === undefined ? [] : pending;
  return {
    version: version ?? null,
    readVersion,
    filesBefore,
    filesAfter: inScope(),
    bins: bins.length,
    binsSkipped: skipped,
    partitionsOptimized: new Set(committed.map((w) => JSON.stringify(w.bin.partitionValues))).size,
    numRemovedFiles: committed.reduce((n, w) => n + w.bin.files.length, 0),
    numAddedFiles: committed.length,
    numRemovedBytes: committed.reduce((n, w) => n + w.bin.bytes, 0),
    numAddedBytes: committed.reduce((n, w) => n + w.add.size, 0),
    rows: committed.reduce((n, w) => n + w.rows, 0),
  };
}

/** The remove of a compacted file, as Spark writes it: `dataChange` false, extended metadata, `{"numRecords":n}`. */
function removeOf(f: Add, deletionTimestamp: number): Remove {
  const rows = numRecords(f);
  return {
    path: f.path,
    deletionTimestamp,
    dataChange: false,
    extendedFileMetadata: true,
    partitionValues: f.partitionValues,
    size: f.size,
    ...(rows !== undefined ? { stats: JSON.stringify({ numRecords: rows }) } : {}),
    ...(f.tags ? { tags: f.tags } : {}),
  };
}

/** OPTIMIZE's `predicate` parameter as Spark writes it: a JSON array of its (unresolved) conditions. */
function sparkPredicate(filter: PartitionFilter): string {
  return JSON.stringify(Object.entries(filter).map(([c, v]) => (v === null ? `isnull('${c})` : `('${c} = ${v})`)));
}

/** Spark's OPTIMIZE metrics: files and bytes removed and added, and the added files' size distribution. */
function optimizeMetrics(adds: readonly Add[], removes: readonly Remove[]): Record<string, string> {
  const sizes = adds.map((a) => a.size).sort((a, b) => a - b);
  const at = (q: number) => String(sizes.length ? sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))]! : 0);
  return {
    numRemovedFiles: String(removes.length),
    numRemovedBytes: String(removes.reduce((n, r) => n + (r.size ?? 0), 0)),
    p25FileSize: at(0.25),
    numDeletionVectorsRemoved: "0",
    minFileSize: String(sizes[0] ?? 0),
    p75FileSize: at(0.75),
    p50FileSize: at(0.5),
    numAddedBytes: String(adds.reduce((n, a) => n + a.size, 0)),
    numAddedFiles: String(adds.length),
    maxFileSize: String(sizes[sizes.length - 1] ?? 0),
  };
}

function numRecords(f: Add): number | undefined {
  if (!f.stats) return undefined;
  try {
    const n = (JSON.parse(f.stats) as { numRecords?: unknown }).numRecords;
    return typeof n === "number" ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a failed commit certainly wrote no version: a conflict, or every race for a version lost. */
function certainlyNotCommitted(err: unknown): boolean {
  return err instanceof CommitConflictError || (err instanceof RetryExhaustedError && err.cause instanceof VersionRaceLostError);
}

async function deleteQuietly(table: DeltaTable, adds: readonly Add[]): Promise<void> {
  for (const a of adds) await table.store.delete(actionPathToKey(a.path)).catch(() => undefined);
}

/**
 * Writes one bin's rows into one new file. Its files are fetched a few ahead of the one being
 * decoded ({@link readAhead}) and decoded by parquet-wasm. A file whose Arrow schema is the
 * one this writer gives the table's columns (every file it wrote, among others) goes to the
 * encoder as it was decoded, never through JavaScript; any other (columns in another order,
 * missing or of another Arrow type: Spark's INT96 timestamps, say) is read into JavaScript and
 * its columns (by name; a column a file lacks is null) converted to the table's types, in
 * chunks of `chunkRows`. The new file's stats are the files' stats merged
 * ({@link mergeStatsJson}); when they cannot be merged exactly, every file takes the second
 * way and the stats are computed from the rows.
 * @returns the new file's add action (`dataChange` false) and its rows.
 */
async function writeBin(table: DeltaTable, bin: CompactionBin, options: OptimizeOptions, tableSchemaKey: Uint8Array): Promise<{ add: Add; rows: number }> {
  const schema = table.dataSchema;
  const chunkRows = options.chunkRows ?? 65_536;
  const codec = options.codec ?? "zstd";
  const numIndexedCols = table.snapshot.property(DATA_SKIPPING_NUM_INDEXED_COLS);
  const merged = mergeStatsJson(schema, bin.files.map((f) => f.stats), { numIndexedCols });
  const computed = merged === undefined ? new StatsMerger(schema) : undefined;
  let rows = 0;
  async function* chunks(): AsyncGenerator<arrow.RecordBatch | WasmBatches> {
    let columns: unknown[][] = schema.fields.map(() => []);
    let n = 0;
    const flush = () => {
      const built = columnsToArrow(schema, columns, n);
      computed?.add(built.stats, n);
      rows += n;
      columns = schema.fields.map(() => []);
      n = 0;
      return built.batch;
    };
    for await (const { file: f, bytes } of readAhead(table.store, bin.files, options.signal)) {
      if (options.beforeFile) {
        await options.beforeFile();
        options.signal?.throwIfAborted();
      }
      const data = readParquetBatches(bytes);
      const expected = numRecords(f);
      if (expected !== undefined && expected !== data.numRows) {
        data.free();
        throw new TableError(`${table.store.url}: '${f.path}' holds ${data.numRows} rows but its stats say ${expected}; not compacting it`);
      }
      if (!computed && sameBytes(data.schemaKey(), tableSchemaKey)) {
        if (n > 0) yield flush();
        rows += data.numRows;
        yield data;
        continue;
      }
      for (const batch of data.toArrow().batches) {
        const names = batch.schema.fields.map((x) => x.name);
        schema.fields.forEach((field, k) => {
          const i = names.indexOf(field.name);
          const col = columns[k]!;
          if (i < 0) for (let r = 0; r < batch.numRows; r++) col.push(null);
          else for (const v of dataValues(batch.data.children[i]!, { timestamps: "micros" })) col.push(v);
        });
        n += batch.numRows;
      }
      if (n >= chunkRows) yield flush();
    }
    if (n > 0 || rows === 0) yield flush();
  }
  const bytes = await writeParquetStream(chunks(), { codec });
  const key = `${partitionFolder(table.snapshot.partitionColumns, bin.partitionValues)}part-00000-${crypto.randomUUID()}-c000.${CODEC_SUFFIX[codec]}parquet`;
  await table.store.put(key, bytes);
  const add: Add = {
    path: keyToActionPath(key),
    partitionValues: bin.partitionValues,
    size: bytes.length,
    modificationTime: (options.now ?? Date.now)(),
    dataChange: false,
    stats: merged ?? statsJson(schema, computed!.result(), rows, { numIndexedCols }),
  };
  return { add, rows };
}

/** Files fetched ahead of the one being decoded: at most this many at once… */
const READ_AHEAD_FILES = 16;
/** …and this many bytes (one file at least, whatever its size). */
const READ_AHEAD_BYTES = 32 * 1024 * 1024;

/**
 * The files' bytes, in order, with the next ones already being fetched (up to
 * {@link READ_AHEAD_FILES} files and {@link READ_AHEAD_BYTES} bytes in flight): on S3 a GET
 * waits tens of milliseconds, and a bin may have thousands of files.
 */
async function* readAhead(store: DeltaTable["store"], files: readonly Add[], signal: AbortSignal | undefined): AsyncGenerator<{ file: Add; bytes: Uint8Array }> {
  const inFlight: Promise<Uint8Array>[] = [];
  let next = 0;
  let bytesInFlight = 0;
  for (let i = 0; i < files.length; i++) {
    signal?.throwIfAborted();
    while (next < files.length && inFlight.length < READ_AHEAD_FILES && (inFlight.length === 0 || bytesInFlight + files[next]!.size <= READ_AHEAD_BYTES)) {
      const f = files[next++]!;
      bytesInFlight += f.size;
      const p = store.get(actionPathToKey(f.path));
      // Read ahead and then not wanted (an earlier file failed): its failure is nobody's.
      p.catch(() => undefined);
      inFlight.push(p);
    }
    const bytes = await inFlight.shift()!;
    bytesInFlight -= files[i]!.size;
    yield { file: files[i]!, bytes };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Statistics of several chunks of one file merged into the statistics of the whole, as if
 * the file had been written from all its rows at once: null counts add up; min and max are
 * the least and greatest (strings in UTF-8 order), and a chunk with values but no bound (NaN,
 * types without bounds) leaves the column with none.
 */
export class StatsMerger {
  readonly #schema: StructType;
  #acc: StructStats | undefined;
  /** Leaves that lost a bound for good. */
  readonly #noMin = new Set<LeafStats>();
  readonly #noMax = new Set<LeafStats>();

  constructor(schema: StructType) {
    this.#schema = schema;
  }

  /** Adds a chunk's statistics (`rows` rows). */
  add(stats: StructStats, rows: number): void {
    if (!this.#acc) this.#acc = { kind: "struct", fields: new Map() };
    this.#mergeStruct(this.#acc, stats, this.#schema, rows);
  }

  /** The merged statistics. */
  result(): StructStats {
    return this.#acc ? this.#strip(this.#acc) : { kind: "struct", fields: new Map() };
  }

  #mergeStruct(acc: StructStats, s: StructStats, type: StructType, rows: number): void {
    for (const f of type.fields) {
      const cur = s.fields.get(f.name);
      if (!cur) continue;
      const prev = acc.fields.get(f.name);
      if (cur.kind === "struct") {
        const into: StructStats = prev?.kind === "struct" ? prev : { kind: "struct", fields: new Map() };
        acc.fields.set(f.name, into);
        this.#mergeStruct(into, cur, f.type as StructType, rows);
        continue;
      }
      let leaf: LeafStats;
      if (prev?.kind === "leaf") leaf = prev;
      else {
        leaf = { kind: "leaf", nullCount: 0 };
        acc.fields.set(f.name, leaf);
      }
      leaf.nullCount += cur.nullCount;
      if (cur.nullCount >= rows) continue; // only nulls: no bound to merge
      if (cur.min === undefined) this.#noMin.add(leaf);
      else if (leaf.min === undefined || less(f.type, cur.min, leaf.min)) leaf.min = cur.min;
      if (cur.max === undefined) this.#noMax.add(leaf);
      else if (leaf.max === undefined || less(f.type, leaf.max, cur.max)) leaf.max = cur.max;
    }
  }

  #strip(s: StructStats): StructStats {
    const fields = new Map<string, ColumnStats>();
    for (const [name, c] of s.fields) {
      if (c.kind === "struct") fields.set(name, this.#strip(c));
      else {
        const leaf: LeafStats = { kind: "leaf", nullCount: c.nullCount };
        if (c.min !== undefined && !this.#noMin.has(c)) leaf.min = c.min;
        if (c.max !== undefined && !this.#noMax.has(c)) leaf.max = c.max;
        fields.set(name, leaf);
      }
    }
    return { kind: "struct", fields };
  }
}

function less(type: DataType, a: number | bigint | string, b: number | bigint | string): boolean {
  if (type === "string") return compareUtf8(a as string, b as string) < 0;
  return a < b;
}
