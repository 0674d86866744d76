import type { ObjectStore } from "../../ports/object_store.ts";
import { tableToRows } from "../arrow/arrow_to_rows.ts";
import { readParquet } from "../parquet/parquet.ts";
import { type Action, decodeCommit } from "./actions.ts";
import { TableError } from "./errors.ts";
import { SIDECAR_DIR } from "./log_paths.ts";
import { absolutePathToKey } from "./partitions.ts";

const ACTION_COLUMNS = ["txn", "add", "remove", "metaData", "protocol", "domainMetadata", "sidecar", "checkpointMetadata"] as const;

/**
 * Reads the actions of one checkpoint file (or one part of a multi-part checkpoint), as
 * Spark, delta-rs or this library wrote it. Stats written only as `stats_parsed` are turned
 * back into the JSON `stats` string.
 */
export async function readCheckpoint(store: ObjectStore, key: string): Promise<Action[]> {
  // A V2 checkpoint may be JSON, one action per line, like a commit.
  const actions = key.endsWith(".json") ? decodeCommit(await store.get(key), `${store.url}/${key}`) : await readParquetActions(store, key);
  // Its add and remove actions may lie in sidecar files it names.
  const out: Action[] = [];
  for (const a of actions) {
    const sidecar = (a as { sidecar?: { path?: unknown } }).sidecar;
    if (sidecar && typeof sidecar.path === "string") out.push(...(await readParquetActions(store, sidecarKey(store, sidecar.path))));
    else out.push(a);
  }
  return out;
}

/** The store key of a sidecar: a name in `_delta_log/_sidecars/`, or an absolute path inside the table. */
function sidecarKey(store: ObjectStore, path: string): string {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(path) && !path.startsWith("/")) return `${SIDECAR_DIR}${decodeURIComponent(path)}`;
  const key = absolutePathToKey(store.url, path);
  if (key === undefined || !key.startsWith(SIDECAR_DIR)) throw new TableError(`A checkpoint's sidecar '${path}' lies outside ${store.url}/${SIDECAR_DIR}`);
  return key;
}

async function readParquetActions(store: ObjectStore, key: string): Promise<Action[]> {
  const table = readParquet(await store.get(key));
  const present = new Set(table.schema.fields.map((f) => f.name));
  const columns = ACTION_COLUMNS.filter((c) => present.has(c));
  const rows = tableToRows(table.select(columns), { timestamps: "date" });
  const out: Action[] = [];
  for (const row of rows) {
    for (const c of columns) {
      const v = row[c];
      if (v == null) continue;
      const action = plain(v) as Record<string, unknown>;
      if (c === "add") fixAdd(action);
      if (c === "remove" && action.path == null) continue;
      if (c === "add" && action.path == null) continue;
      if (c === "domainMetadata" && action.domain == null) continue;
      if (c === "sidecar" && action.path == null) continue;
      if (c === "checkpointMetadata" && action.version == null) continue;
      out.push({ [c]: action } as Action);
    }
  }
  return out;
}

function fixAdd(add: Record<string, unknown>): void {
  if (add.stats == null && add.stats_parsed != null) add.stats = JSON.stringify(add.stats_parsed);
  delete add.stats_parsed;
  delete add.partitionValues_parsed;
  if (add.stats == null) delete add.stats;
}

/** JS values as JSON-ready plain data: Map → object, bigint → number, Date → ISO. */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = plain(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return v;
  if (typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}
