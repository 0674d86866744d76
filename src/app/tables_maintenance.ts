/**
 * `tables describe`, `tables history`, `tables optimize` and `tables vacuum`: the tables resolved as `status`
 * resolves them (the order tables under the tables root, or those of the tables file), each
 * read through the same object store adapters as the subscriber.
 * @module
 */
import { openStore } from "../adapters/open_store.ts";
import { s3Config } from "../adapters/aws_clients.ts";
import { UsageError } from "../cli/args.ts";
import type { Settings } from "../config/settings.ts";
import { TableError } from "../core/delta/errors.ts";
import { DeltaTable } from "../core/delta/table.ts";
import { describeTable, type TableDescription } from "../core/delta/table_describe.ts";
import { type HistoryEntry, readHistory } from "../core/delta/table_history.ts";
import { parseInterval } from "../core/delta/table_properties.ts";
import { checkOptimizable, optimize, type OptimizeResult, type PartitionFilter } from "../core/delta/optimize.ts";
import { checkVacuumable, formatDuration, planVacuum, type VacuumPlan, vacuum, VacuumRetentionError, type VacuumResult } from "../core/delta/vacuum.ts";
import { chooseDomain } from "./domains.ts";

/** A table named on the command line: its name and where it is. */
export interface NamedTable {
  name: string;
  url: string;
}

/**
 * The tables a maintenance command works on: those `names` asks for, or (none given) every
 * table of the domain in its order (the order tables, or the tables file's, quarantine
 * included). A name with a `/` or a `:` is taken for a table's location (a folder or URI).
 * @throws {UsageError} naming an unknown table and listing the known ones.
 */
export async function resolveTables(settings: Settings, names: readonly string[]): Promise<NamedTable[]> {
  const locations = (await chooseDomain(settings)).locations;
  if (names.length === 0) return Object.entries(locations).map(([name, url]) => ({ name, url }));
  return names.map((name) => {
    if (Object.hasOwn(locations, name)) return { name, url: locations[name]! };
    if (/[/:]/.test(name)) return { name, url: name };
    const from = settings.tablesFile ? `the tables file '${settings.tablesFile}'` : "the order tables (no --tables file given)";
    throw new UsageError(`Unknown table '${name}': the tables of ${from} are ${Object.keys(locations).map((n) => `'${n}'`).join(", ")}; or give a table's folder or URI`);
  });
}

/**
 * Reads `--retain`: `168h`, `7d`, `30m`, `90s`, `500ms`, `2w`, or Spark's interval form
 * (`interval 7 days`, `7 days 12 hours`).
 * @returns milliseconds.
 * @throws {UsageError} saying what was expected.
 */
export function parseRetention(text: string): number {
  const short = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  if (short) return Number(short[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[short[2] as "ms"];
  try {
    return parseInterval(text);
  } catch {
    throw new UsageError(`'--retain' must be a duration like '168h', '7d' or 'interval 7 days' (units: w, d, h, m, s, ms, or week … microsecond spelled out): got '${text}'`);
  }
}

async function openTable(t: NamedTable, settings: Settings): Promise<DeltaTable> {
  return await DeltaTable.open(openStore(t.url, s3Config(settings)), { anyProtocol: true });
}

/** One table of `tables describe --json`. */
export type DescribedTable = NamedTable & ({ state: "ok" } & TableDescription | { state: "missing" } | { state: "error"; error: string });

/** `tables describe`: each table's report; a missing or unreadable table says so. */
export async function describeTables(settings: Settings, names: readonly string[], options: { targetFileSize?: number } = {}): Promise<DescribedTable[]> {
  const out: DescribedTable[] = [];
  for (const t of await resolveTables(settings, names)) {
    let table: DeltaTable;
    try {
      table = await openTable(t, settings);
    } catch (err) {
      if (err instanceof TableError) out.push({ ...t, state: "missing" });
      else out.push({ ...t, state: "error", error: (err as Error).message });
      continue;
    }
    out.push({ ...t, state: "ok", ...(await describeTable(table, options)) });
  }
  return out;
}

/** `tables describe` as text, for people. */
export function formatDescriptions(tables: readonly DescribedTable[]): string {
  const lines: string[] = [];
  for (const t of tables) {
    if (lines.length > 0) lines.push("");
    if (t.state !== "ok") {
      lines.push(`${t.name}  ${t.url}`, `  ${t.state === "missing" ? "missing: no Delta table there" : `error: ${t.error}`}`);
      continue;
    }
    const p = t.protocol;
    const features = [...new Set([...p.readerFeatures, ...p.writerFeatures])];
    const when = (c: { version: number; timestamp: string } | null) => (c ? `version ${c.version} at ${c.timestamp}` : undefined);
    const notFound = t.historySearched.complete ? "never (in the log's history)" : `not in the newest ${t.historySearched.commits} commits`;
    lines.push(
      `${t.name}  ${t.url}`,
      `  version          ${t.version}${t.lastCommit ? ` (${t.lastCommit.operation ?? "no commitInfo"} at ${t.lastCommit.timestamp})` : ""}; the log goes back to version ${t.oldestVersion ?? "?"}`,
      `  protocol         reader ${p.minReaderVersion}, writer ${p.minWriterVersion}${features.length ? `; features ${features.join(", ")}` : ""}`,
      `  partitioned by   ${t.partitionColumns.length ? t.partitionColumns.join(", ") : "nothing"}`,
      `  live files       ${t.liveFiles.count} (${formatBytes(t.liveFiles.bytes)}), ${t.liveFiles.rows ?? "?"} rows`,
      `  small files      ${t.smallFiles.count} below ${formatBytes(t.smallFiles.targetFileSize)} (${formatBytes(t.smallFiles.bytes)}) in ${t.smallFiles.partitions} partition(s)`,
      `  awaiting vacuum  ${t.awaitingVacuum.total.count} removed file(s) (${formatBytes(t.awaitingVacuum.total.bytes)}); ${t.awaitingVacuum.expired.count} (${formatBytes(t.awaitingVacuum.expired.bytes)}) removed more than ${formatDuration(t.properties.deletedFileRetentionMs)} ago`,
      `  last checkpoint  ${t.lastCheckpointVersion ?? "none"}`,
      `  last optimize    ${when(t.lastOptimize) ?? notFound}`,
      `  last vacuum      ${t.lastVacuum ? `${when(t.lastVacuum)} (${t.lastVacuum.operation === "VACUUM END" ? t.lastVacuum.operationParameters.status ?? "ended" : "started, no end recorded"})` : notFound}`,
      `  properties       checkpoint every ${t.properties.checkpointInterval} versions; log kept ${formatDuration(t.properties.logRetentionMs)} ('${t.properties.logRetentionDuration}')` +
        `${t.properties.enableExpiredLogCleanup ? "" : " (cleanup off)"}; removed files kept ${formatDuration(t.properties.deletedFileRetentionMs)} ('${t.properties.deletedFileRetentionDuration}')${t.properties.appendOnly ? "; append-only" : ""}`,
    );
  }
  return lines.join("\n");
}

/** `tables history`: the table's history, newest first, at most `limit` entries. */
export async function tableHistory(settings: Settings, name: string, limit?: number): Promise<NamedTable & { history: HistoryEntry[] }> {
  const [t] = await resolveTables(settings, [name]);
  const table = await openTable(t!, settings);
  return { ...t!, history: await readHistory(table.store, limit !== undefined ? { limit } : {}) };
}

/** `tables history` as text: one line per version, as DESCRIBE HISTORY's main columns. */
export function formatHistory(h: NamedTable & { history: HistoryEntry[] }): string {
  const lines = [`${h.name}  ${h.url}`, `  ${"version".padStart(7)}  ${"timestamp".padEnd(24)}  ${"operation".padEnd(14)}  parameters / metrics`];
  for (const e of h.history) {
    const params = Object.entries(e.operationParameters).map(([k, v]) => `${k}=${v}`).join(" ");
    const metrics = Object.entries(e.operationMetrics ?? {}).map(([k, v]) => `${k}=${v}`).join(" ");
    lines.push(`  ${String(e.version).padStart(7)}  ${e.timestamp.padEnd(24)}  ${(e.operation ?? "-").padEnd(14)}  ${[params, metrics && `[${metrics}]`].filter(Boolean).join(" ")}`);
  }
  return lines.join("\n");
}

/** One table's part of `tables vacuum`. */
export type VacuumReport = NamedTable & { dryRun: boolean } & (VacuumPlan | VacuumResult);

/**
 * `tables vacuum`: every table is opened and checked (its features, the retention against its
 * own) before any is vacuumed, so a refusal deletes nothing anywhere. A named table that is
 * missing is an error; of all tables (none named), missing ones are skipped.
 * @throws {UsageError} (exit 2) for a retention shorter than a table's own without `force`.
 */
export async function vacuumTables(
  settings: Settings,
  names: readonly string[],
  options: { retentionMs?: number; dryRun: boolean; force: boolean; now?: number },
  onTable: (report: VacuumReport) => void = () => {},
): Promise<VacuumReport[]> {
  const opened: { t: NamedTable; table: DeltaTable }[] = [];
  for (const t of await resolveTables(settings, names)) {
    if (settings.checkpointsRoot.startsWith(`${t.url.replace(/\/+$/, "")}/`)) {
      throw new UsageError(`Cannot vacuum '${t.name}' (${t.url}): the shard checkpoints (${settings.checkpointsRoot}) are inside its folder, and vacuum would take them for orphans`);
    }
    try {
      opened.push({ t, table: await openTable(t, settings) });
    } catch (err) {
      if (err instanceof TableError && names.length === 0) continue;
      throw err;
    }
  }
  const opts = { ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}), force: options.force, ...(options.now !== undefined ? { now: options.now } : {}) };
  const plans = new Map<DeltaTable, VacuumPlan>();
  for (const { t, table } of opened) {
    try {
      checkVacuumable(table);
      plans.set(table, await planVacuum(table, opts));
    } catch (err) {
      if (err instanceof VacuumRetentionError) throw new UsageError(`Cannot vacuum '${t.name}': ${err.message}`, { cause: err });
      throw err;
    }
  }
  const out: VacuumReport[] = [];
  for (const { t, table } of opened) {
    const report: VacuumReport = options.dryRun ? { ...t, dryRun: true, ...plans.get(table)! } : { ...t, dryRun: false, ...(await vacuum(table, opts)) };
    onTable(report);
    out.push(report);
  }
  return out;
}

/** One table's `tables vacuum` as text: the files (each, on a dry run) and what was done. */
export function formatVacuum(r: VacuumReport): string {
  const retention = `${formatDuration(r.retentionMs)}${r.retentionMs === r.tableRetentionMs ? " (the table's)" : ` (the table's is ${formatDuration(r.tableRetentionMs)})`}`;
  const head = `${r.name}  ${r.url}: retention ${retention}; ${r.files.length} of ${r.filesListed} file(s) (${formatBytes(r.bytes)}) unreferenced and older than ${new Date(r.deleteBefore).toISOString()}`;
  if (r.dryRun) return [head, ...r.files.map((f) => `  would delete ${f.key}  ${formatBytes(f.size)}  modified ${new Date(f.lastModified).toISOString()}`)].join("\n");
  const done = r as VacuumResult;
  return `${head}\n  deleted ${done.deleted} file(s); VACUUM START at version ${done.startVersion}, VACUUM END at version ${done.endVersion}`;
}

/**
 * Reads `--where`: partition conditions `col = value` (the value as the log writes it,
 * quoted or not) or `col IS NULL`, joined by AND.
 * @throws {UsageError} saying what was expected.
 */
export function parsePartitionFilter(text: string): PartitionFilter {
  const filter: Record<string, string | null> = {};
  for (const part of text.split(/\s+and\s+/i)) {
    const eq = /^\s*`?([^`=\s]+)`?\s*=\s*(?:'((?:[^']|'')*)'|"([^"]*)"|([^'"\s]+))\s*$/.exec(part);
    const isNull = /^\s*`?([^`=\s]+)`?\s+is\s+null\s*$/i.exec(part);
    if (eq) filter[eq[1]!] = eq[2] !== undefined ? eq[2].replaceAll("''", "'") : (eq[3] ?? eq[4])!;
    else if (isNull) filter[isNull[1]!] = null;
    else throw new UsageError(`'--where' must be partition conditions like "order_date = '2026-01-01'" or "region IS NULL", joined by AND: got '${text}'`);
  }
  return filter;
}

/** One table's part of `tables optimize`. */
export type OptimizeReport = NamedTable & OptimizeResult & { seconds: number };

/**
 * `tables optimize`: every table is opened and its features checked before any is
 * compacted, so a refusal changes nothing anywhere. A named table that is missing is an
 * error; of all tables (none named), missing ones are skipped.
 */
export async function optimizeTables(
  settings: Settings,
  names: readonly string[],
  options: { targetFileSize?: number; minFiles?: number; partitionFilter?: PartitionFilter },
  onTable: (report: OptimizeReport) => void = () => {},
): Promise<OptimizeReport[]> {
  const opened: { t: NamedTable; table: DeltaTable }[] = [];
  for (const t of await resolveTables(settings, names)) {
    try {
      opened.push({ t, table: await openTable(t, settings) });
    } catch (err) {
      if (err instanceof TableError && names.length === 0) continue;
      throw err;
    }
  }
  for (const { t, table } of opened) {
    checkOptimizable(table);
    const partitionColumns = table.snapshot.partitionColumns;
    for (const c of Object.keys(options.partitionFilter ?? {})) {
      if (!partitionColumns.includes(c)) {
        throw new UsageError(`Cannot optimize '${t.name}' with --where: '${c}' is not a partition column (${partitionColumns.length ? `they are ${partitionColumns.join(", ")}` : "the table is not partitioned"}); OPTIMIZE can only be limited to partitions`);
      }
    }
  }
  const out: OptimizeReport[] = [];
  for (const { t, table } of opened) {
    const started = performance.now();
    const res = await optimize(table, options);
    const report = { ...t, ...res, seconds: Math.round(performance.now() - started) / 1000 };
    onTable(report);
    out.push(report);
  }
  return out;
}

/** One table's `tables optimize` as text. */
export function formatOptimize(r: OptimizeReport): string {
  const head = `${r.name}  ${r.url}`;
  if (r.version === null) {
    return `${head}: nothing to compact (${r.filesBefore} live file(s)${r.binsSkipped ? `; ${r.binsSkipped} bin(s) dropped: a concurrent commit removed their files` : ""}) in ${r.seconds} s`;
  }
  return `${head}: ${r.numRemovedFiles} file(s) (${formatBytes(r.numRemovedBytes)}) compacted into ${r.numAddedFiles} (${formatBytes(r.numAddedBytes)}), ${r.rows} rows, ` +
    `in ${r.partitionsOptimized} partition(s); live files ${r.filesBefore} → ${r.filesAfter}; OPTIMIZE at version ${r.version} in ${r.seconds} s` +
    (r.binsSkipped ? `; ${r.binsSkipped} bin(s) dropped: a concurrent commit removed their files (run it again)` : "");
}

/** `1.5 MiB`, `812 B`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
