/**
 * Test helper: drives `tests/interop/py/delta_worker.py`, a long-running Python
 * process that reads and writes Delta tables with delta-rs (`deltalake`) and with
 * Spark + delta-spark, so the interop tests can check our tables with both
 * reference engines and read theirs back. Runs under Bun and Deno.
 *
 * ```ts
 * const w = await startDeltaWorker();
 * const r = await w.request({ op: "read", engine: "spark", path: dir });
 * expect(r.rows).toEqual(canonicalRows(ourRows, r.schema));
 * await w.close();
 * ```
 *
 * Python comes from `DS_PYTHON` (the Makefile exports it), else `<repo>/.venv/bin/python`
 * (`make .venv/.installed` creates it). The Spark session starts lazily on the first
 * request that needs it (~10 s, ~20 s the very first time on a machine while Ivy
 * downloads the Delta jars from Maven Central into ~/.ivy2.5.2); delta-rs-only use
 * never starts a JVM. Send `{op: "start_spark"}` from a `beforeAll` with a long
 * timeout to pay that cost up front. The worker's stderr (Python and Spark logs)
 * is kept (last 64 KiB, shown when the worker dies); set `DS_WORKER_LOG=1` to
 * stream it to this process's stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// ---------------------------------------------------------------- protocol types

/** delta-rs storage options (for s3:// paths), e.g. AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP: "true". */
export type StorageOptions = Record<string, string>;

export type Engine = "deltalake" | "spark";

export interface ReadRequest {
  op: "read";
  engine: Engine;
  /** Local path or s3:// URI (spark reads an s3:// table from a temp copy made with boto3). */
  path: string;
  /** SQL predicate; both engines (deltalake runs it through delta-rs' DataFusion). */
  filter?: string;
  /** deltalake only: delta-rs/pyarrow DNF filters, e.g. `[["part", "=", "a/b"]]` (read via pyarrow). */
  filters?: [string, string, unknown][];
  /** deltalake only: "datafusion" (default, delta-rs' own parquet reader) or "pyarrow". */
  reader?: "datafusion" | "pyarrow";
  /** Time travel. */
  version?: number;
  /** false: skip returning rows (count/version/numFiles only). */
  rows?: boolean;
  storage?: StorageOptions;
}

export interface WriteRequest {
  op: "write";
  engine: Engine;
  /** Must not exist yet (or be an empty directory). */
  path: string;
  /**
   * - `all_types`: every Delta type (string, long, integer, short, byte, double, float, boolean,
   *   date, timestamp, decimal(10,2), binary, struct<a:int,b:string>, array<string>,
   *   map<string,int>) plus an `id` integer, 7 rows with nulls at every level and edge values;
   *   Spark writes its timestamps as INT96.
   * - `partitioned`: (id long, part string, v string) partitioned by `part`, whose values are
   *   `a/b`, `%`, `x=y`, `sp ace`, `é`, `😀`, null, `plain`, `a%20b` (2 rows each).
   * - `many_commits`: (id long, v string), 25 appends of 2 rows (versions 0..24), with
   *   `delta.checkpoint.writeStatsAsStruct=true` and `delta.checkpoint.writeStatsAsJson=false`
   *   (checkpoints carry `stats_parsed` only). Spark checkpoints at versions 10 and 20;
   *   delta-rs (`delta.checkpointInterval=10`) at 9 and 19.
   */
  case: "all_types" | "partitioned" | "many_commits";
  storage?: StorageOptions;
}

export interface SqlRequest {
  op: "sql";
  /** Default spark. deltalake runs DataFusion SQL over `tables` (name → path). */
  engine?: Engine;
  sql: string;
  tables?: Record<string, string>;
  storage?: StorageOptions;
  /** Sort rows canonically (otherwise query order). */
  sort?: boolean;
}

export type DeltaRequest =
  | ReadRequest
  | WriteRequest
  | SqlRequest
  | { op: "ping" }
  | { op: "start_spark" };

/** A Delta schema type as JSON (the `schemaString` format). */
export type DeltaType =
  | string
  | { type: "struct"; fields: DeltaField[] }
  | { type: "array"; elementType: DeltaType; containsNull: boolean }
  | { type: "map"; keyType: DeltaType; valueType: DeltaType; valueContainsNull: boolean };
export interface DeltaField {
  name: string;
  type: DeltaType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}
export interface DeltaStructType {
  type: "struct";
  fields: DeltaField[];
}

export type CanonicalValue = null | boolean | number | string | CanonicalValue[] | { [k: string]: CanonicalValue };
export type CanonicalRow = Record<string, CanonicalValue>;

export interface ReadResponse {
  ok: true;
  /** The table schema as the engine sees it. */
  schema: DeltaStructType;
  /** Canonical rows, sorted (absent with `rows: false`). */
  rows: CanonicalRow[];
  /** spark: `SELECT COUNT(*)` (answered from stats when they are there); deltalake: exact. */
  count: number;
  version: number;
  numFiles: number;
  /** deltalake only: sum of `numRecords` over the files' stats, null if any file has none. */
  statsCount?: number | null;
  ms: number;
}
export interface WriteResponse {
  ok: true;
  rows: CanonicalRow[];
  version: number;
  ms: number;
}
export interface SqlResponse {
  ok: true;
  schema?: DeltaStructType;
  rows: CanonicalRow[];
  ms: number;
}

type ResponseFor<R> = R extends ReadRequest ? ReadResponse
  : R extends WriteRequest ? WriteResponse
  : R extends SqlRequest ? SqlResponse
  : { ok: true; ms: number; startMs?: number };

export interface DeltaWorker {
  /** Sends one request (requests are serialised, one at a time); rejects when the worker
   * answers `ok: false` (the error text is the worker's `"<type>: <message>"`) or dies. */
  request<R extends DeltaRequest>(req: R): Promise<ResponseFor<R>>;
  /** Closes stdin (the worker stops Spark and exits); kills it after `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
  readonly pid: number | undefined;
  /** The last 64 KiB of the worker's stderr. */
  stderrTail(): string;
}

export class DeltaWorkerError extends Error {
  constructor(message: string, readonly response?: unknown) {
    super(message);
    this.name = "DeltaWorkerError";
  }
}

// ---------------------------------------------------------------- process

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../interop/py/delta_worker.py", import.meta.url));
const TAIL = 64 * 1024;

function pythonPath(): string {
  const fromEnv = process.env.DS_PYTHON;
  if (fromEnv) return fromEnv;
  return `${REPO.replace(/\/$/, "")}/.venv/bin/python`;
}

export interface StartOptions {
  /** Overrides DS_PYTHON / .venv. */
  python?: string;
  /** Extra environment for the worker (e.g. DS_SPARK_LOG_LEVEL=WARN, DS_SPARK_IVY=dir). */
  env?: Record<string, string>;
  /** Stream the worker's stderr to ours (default: DS_WORKER_LOG=1). */
  log?: boolean;
}

export async function startDeltaWorker(options: StartOptions = {}): Promise<DeltaWorker> {
  const python = options.python ?? pythonPath();
  if (python.includes("/") && !existsSync(python)) {
    throw new DeltaWorkerError(
      `python not found at ${python}: run \`make .venv/.installed\` or set DS_PYTHON`,
    );
  }
  const log = options.log ?? process.env.DS_WORKER_LOG === "1";
  const child: ChildProcess = spawn(python, ["-u", SCRIPT], {
    cwd: REPO,
    env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });

  let stderr = "";
  let exited: { code: number | null; signal: string | null } | null = null;
  let spawnError: Error | null = null;
  let buffer = "";
  const lines: string[] = [];
  let waiter: { resolve: (line: string) => void; reject: (e: Error) => void } | null = null;

  const deathError = () =>
    new DeltaWorkerError(
      `delta_worker exited (${spawnError ? spawnError.message : `code ${exited?.code}, signal ${exited?.signal}`})` +
        (stderr ? `; stderr tail:\n${stderr.slice(-4000)}` : ""),
    );

  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-TAIL);
    if (log) process.stderr.write(chunk);
  });
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() === "") continue;
      if (waiter) {
        const w = waiter;
        waiter = null;
        w.resolve(line);
      } else lines.push(line);
    }
  });
  const exitPromise = new Promise<void>((resolve) => {
    child.on("error", (e: Error) => {
      spawnError = e;
      exited ??= { code: null, signal: null };
      waiter?.reject(deathError());
      waiter = null;
      resolve();
    });
    child.on("exit", (code: number | null, signal: string | null) => {
      exited = { code, signal };
      // let buffered stdout drain before failing the pending request
      setTimeout(() => {
        waiter?.reject(deathError());
        waiter = null;
      }, 50);
      resolve();
    });
  });
  // an EPIPE on a dead worker is reported through the pending request instead
  child.stdin!.on("error", () => {});

  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const l = lines.shift();
      if (l !== undefined) return resolve(l);
      if (exited) return reject(deathError());
      waiter = { resolve, reject };
    });

  let queue: Promise<unknown> = Promise.resolve();
  let closing = false;

  const send = async (req: DeltaRequest): Promise<any> => {
    if (exited) throw deathError();
    child.stdin!.write(JSON.stringify(req) + "\n");
    const line = await nextLine();
    let res: any;
    try {
      res = JSON.parse(line);
    } catch {
      throw new DeltaWorkerError(`delta_worker wrote a non-JSON line: ${line.slice(0, 500)}`);
    }
    if (res?.ok !== true) throw new DeltaWorkerError(`delta_worker: ${res?.error ?? line}`, res);
    return res;
  };

  const worker: DeltaWorker = {
    get pid() {
      return child.pid;
    },
    stderrTail: () => stderr,
    request<R extends DeltaRequest>(req: R): Promise<ResponseFor<R>> {
      if (closing) return Promise.reject(new DeltaWorkerError("delta_worker is closed"));
      const p = queue.then(() => send(req));
      queue = p.catch(() => {});
      return p;
    },
    async close(timeoutMs = 30_000) {
      closing = true;
      await queue;
      if (!exited) {
        child.stdin!.end();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            if (!exited) child.kill("SIGKILL");
            resolve();
          }, timeoutMs);
        });
        await Promise.race([exitPromise, killed]);
        clearTimeout(timer);
        await exitPromise;
      }
    },
  };

  try {
    await worker.request({ op: "ping" });
  } catch (e) {
    await worker.close(1000).catch(() => {});
    throw e;
  }
  return worker;
}

// ---------------------------------------------------------------- canonical rows

/**
 * Canonical rows: the JSON form in which the worker returns rows, identical for
 * both engines for the same data, and what this function builds from our own
 * rows so the two can be compared with `toEqual`.
 *
 * Per Delta type:
 * - struct → object with the fields in schema order
 * - array → array
 * - map → array of `[key, value]` pairs sorted by key (numbers numerically,
 *   otherwise by the key's JSON text in UTF-16 code-unit order)
 * - long / integer / short / byte → number (long beyond 2^53 loses precision,
 *   exactly as JSON.parse of the worker's output does)
 * - float / double → number; a `float` is the exact double value of the stored
 *   float32 (`Math.fround`); -0 → 0; NaN → "NaN"; ±∞ → "Infinity" / "-Infinity"
 * - decimal(p,s) → string with exactly `s` fraction digits ("12.30", "-0.01", "0.00")
 * - date → "YYYY-MM-DD"
 * - timestamp → UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" (6 fraction digits);
 *   timestamp_ntz → the same without "Z"
 * - binary → base64
 * - null → null
 *
 * Rows are sorted by `JSON.stringify(row)` compared with `<` (UTF-16 code units);
 * the worker sorts the same way (it renders numbers as JavaScript does).
 *
 * Accepted inputs (what `tableToRows` produces, and more): bigint or number for
 * integers; number for floats; string / number / bigint for decimals; `Date`,
 * "YYYY-MM-DD" or days-since-epoch number for dates; `Date` (µs become 000),
 * bigint µs since the epoch, or an already canonical string for timestamps;
 * `Uint8Array` for binary; `Map`, `[k, v][]` or plain object for maps.
 */
export function canonicalRows(rows: readonly Record<string, unknown>[], schema: DeltaStructType): CanonicalRow[] {
  return sortCanonicalRows(rows.map((r) => canonicalValue(r, schema) as CanonicalRow));
}

/** Sorts canonical rows the way the worker does (by JSON.stringify, UTF-16 order). */
export function sortCanonicalRows<T>(rows: readonly T[]): T[] {
  return rows
    .map((r) => [JSON.stringify(r), r] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((x) => x[1]);
}

/** The canonical JSON value of `v`, whose Delta type is `t`. */
export function canonicalValue(v: unknown, t: DeltaType): CanonicalValue {
  if (v === null || v === undefined) return null;
  if (typeof t === "string") {
    if (t === "string") return String(v);
    if (t === "long" || t === "integer" || t === "short" || t === "byte") return Number(v as number | bigint);
    if (t === "double") return canonicalFloat(Number(v));
    if (t === "float") return canonicalFloat(Math.fround(Number(v)));
    if (t === "boolean") return Boolean(v);
    if (t === "date") return canonicalDate(v);
    if (t === "timestamp") return canonicalTimestamp(v, false);
    if (t === "timestamp_ntz") return canonicalTimestamp(v, true);
    if (t.startsWith("decimal")) {
      const m = /decimal\(\s*\d+\s*,\s*(\d+)\s*\)/.exec(t);
      return canonicalDecimal(v, m ? Number(m[1]) : 0);
    }
    if (t === "binary") return base64(v as Uint8Array);
    throw new Error(`canonicalValue: unsupported type ${t}`);
  }
  if (t.type === "struct") {
    const o = v as Record<string, unknown>;
    const out: Record<string, CanonicalValue> = {};
    for (const f of t.fields) out[f.name] = canonicalValue(o[f.name], f.type);
    return out;
  }
  if (t.type === "array") return Array.from(v as Iterable<unknown>, (x) => canonicalValue(x, t.elementType));
  if (t.type === "map") {
    const entries: [unknown, unknown][] = v instanceof Map
      ? [...v.entries()]
      : Array.isArray(v)
      ? (v as [unknown, unknown][])
      : Object.entries(v as object);
    const pairs = entries.map(([k, x]) => [canonicalValue(k, t.keyType), canonicalValue(x, t.valueType)]);
    return pairs.sort((a, b) => compareKeys(a[0]!, b[0]!));
  }
  throw new Error(`canonicalValue: unsupported type ${JSON.stringify(t)}`);
}

function compareKeys(a: CanonicalValue, b: CanonicalValue): number {
  const an = typeof a === "number", bn = typeof b === "number";
  if (an && bn) return (a as number) - (b as number);
  if (an !== bn) return an ? -1 : 1;
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function canonicalFloat(x: number): CanonicalValue {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return x === 0 ? 0 : x;
}

const pad = (n: number | bigint, w: number) => String(n).padStart(w, "0");

function canonicalDate(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === "number" || typeof v === "bigint") {
    return new Date(Number(v) * 86_400_000).toISOString().slice(0, 10);
  }
  throw new Error(`canonicalValue: bad date ${String(v)}`);
}

function canonicalTimestamp(v: unknown, ntz: boolean): string {
  if (typeof v === "string") return v;
  let ms: number, micros: number;
  if (v instanceof Date) {
    ms = v.getTime();
    micros = 0;
  } else if (typeof v === "bigint") {
    const msB = v >= 0n ? v / 1000n : -((-v + 999n) / 1000n); // floor division
    ms = Number(msB);
    micros = Number(v - msB * 1000n);
  } else if (typeof v === "number") {
    ms = Math.floor(v);
    micros = 0;
  } else throw new Error(`canonicalValue: bad timestamp ${String(v)}`);
  const d = new Date(ms);
  const s = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.` +
    `${pad(d.getUTCMilliseconds(), 3)}${pad(micros, 3)}`;
  return ntz ? s : s + "Z";
}

function canonicalDecimal(v: unknown, scale: number): string {
  if (typeof v === "number") v = v.toFixed(scale);
  if (typeof v === "bigint") v = v.toString();
  if (typeof v !== "string") throw new Error(`canonicalValue: bad decimal ${String(v)}`);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
  if (!m) return v;
  let [, sign, int, frac = ""] = m;
  int = (int ?? "").replace(/^0+(?=\d)/, "") || "0";
  if (frac.length < scale) frac = frac.padEnd(scale, "0");
  else if (frac.length > scale && /^0*$/.test(frac.slice(scale))) frac = frac.slice(0, scale);
  const zero = /^0*$/.test(int + frac);
  return `${sign === "-" && !zero ? "-" : ""}${int}${scale > 0 || frac ? "." + frac : ""}`;
}

function base64(v: Uint8Array): string {
  let s = "";
  for (let i = 0; i < v.length; i += 0x8000) s += String.fromCharCode(...v.subarray(i, i + 0x8000));
  return btoa(s);
}
