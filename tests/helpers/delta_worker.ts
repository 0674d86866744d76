/**
 * Test helper: drives `tests/interop/py/delta_worker.py`, a long-running Python
 * process that reads and writes Delta tables with delta-rs (`deltalake`) and with
 * Spark + delta-spark, and reads them with DuckDB's delta extension and with Trino 476
 * (the engine behind Athena), so the interop tests can check our tables with four
 * independent readers and read the tables the two reference writers wrote. Runs under
 * Bun and Deno.
 *
 * ```ts
 * const w = await startDeltaWorker();
 * const r = await w.request({ op: "read", engine: "spark", path: dir });
 * assert.deepEqual(r.rows, canonicalRows(ourRows, r.schema));
 * await w.close();
 * ```
 *
 * The worker sends rows in its wire form (raw values, see `worker_common.py`); `request`
 * hands them back canonical (`canonical_rows.ts`, the one definition of that form), so
 * rows from the engines and rows this library reads are compared in the same form.
 *
 * Python comes from `DS_PYTHON` (the Makefile exports it), else `<repo>/.venv/bin/python`
 * (`make .venv/.installed` creates it). The Spark session starts lazily on the first
 * request that needs it (~10 s, ~20 s the very first time on a machine while Ivy
 * downloads the Delta jars from Maven Central into ~/.ivy2.5.2); delta-rs-only use
 * never starts a JVM. Send `{op: "start_spark"}` from a `beforeAll` with a long
 * timeout to pay that cost up front. Trino too starts on first use, or on `{op: "start_trino"}`:
 * the first time on a machine the worker fetches its server tarball with Maven (~820 MB,
 * into ~/.m2/repository) and unpacks it into `${XDG_CACHE_HOME:-~/.cache}/data-subscriber`;
 * after that a start is ~15-25 s (`tests/interop/py/trino_reader.py`). `{op: "start_trino",
 * wait: false}` returns once its JVM is launched, so Spark can start meanwhile; the next
 * `start_trino` or Trino read waits for it. The worker's stderr (Python and Spark logs)
 * is kept (last 64 KiB, shown when the worker dies); set `DS_WORKER_LOG=1` to
 * stream it to this process's stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type CanonicalRow, canonicalRows, canonicalValue, type DeltaStructType } from "./canonical_rows.ts";

// ---------------------------------------------------------------- protocol types

/** delta-rs storage options (for s3:// paths), e.g. AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP: "true". */
export type StorageOptions = Record<string, string>;

/** The engines that write reference tables and run SQL. */
export type Engine = "deltalake" | "spark";
/** The engines that read tables: the writers, DuckDB (`delta_scan`) and Trino 476 (its Delta Lake
 * connector, reading `timestamp` at millisecond precision); the last two local paths only. */
export type ReadEngine = Engine | "duckdb" | "trino";

export interface ReadRequest {
  op: "read";
  engine: ReadEngine;
  /** Local path or s3:// URI (spark reads an s3:// table from a temp copy made with boto3;
   * duckdb and trino read local paths only). */
  path: string;
  /** SQL predicate; every engine (deltalake runs it through delta-rs' DataFusion). */
  filter?: string;
  /** deltalake only: delta-rs/pyarrow DNF filters, e.g. `[["part", "=", "a/b"]]` (read via pyarrow). */
  filters?: [string, string, unknown][];
  /** deltalake only: "datafusion" (default, delta-rs' own parquet reader) or "pyarrow". */
  reader?: "datafusion" | "pyarrow";
  /** Time travel (not duckdb; trino: `FOR VERSION AS OF`). */
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
  /** Sort the canonical rows (otherwise query order). Done here, not by the worker. */
  sort?: boolean;
}

/**
 * The tables the original PySpark jobs left under `root` (`orders/delta/bronze/{events,orders,
 * orders_items}` by streaming appends of `orders` in `batches` micro-batches, with the stock
 * MERGE per micro-batch; `orders/gold/package_table` by the landing job's overwrite of
 * `packages` with stock 1000): see `tests/interop/py/original_job.py`.
 */
export interface OriginalJobRequest {
  op: "original_job";
  root: string;
  orders: Record<string, unknown>[];
  packages: Record<string, unknown>[];
  batches?: number;
}

export type DeltaRequest =
  | ReadRequest
  | WriteRequest
  | SqlRequest
  | OriginalJobRequest
  | { op: "ping" }
  | { op: "start_spark" }
  | StartTrinoRequest;

/** Installs (first time on a machine) and starts the worker's Trino server. */
export interface StartTrinoRequest {
  op: "start_trino";
  /** false: return once the JVM is launched (the next Trino request waits for it). Default true. */
  wait?: boolean;
}

export interface ReadResponse {
  ok: true;
  /** The table schema as the engine sees it. */
  schema: DeltaStructType;
  /** Canonical rows (`canonical_rows.ts`), sorted (absent with `rows: false`). */
  rows: CanonicalRow[];
  /** spark: `SELECT COUNT(*)` (answered from stats when they are there); deltalake, duckdb, trino: exact. */
  count: number;
  /** The version read; null from duckdb (delta_scan does not report it). */
  version: number | null;
  /** The files read (trino: the files that hold a live row, `COUNT(DISTINCT "$path")`). */
  numFiles: number;
  /** deltalake, duckdb: sum of `numRecords` over the files' stats, null if any file has none; trino: null. */
  statsCount?: number | null;
  ms: number;
}
export interface WriteResponse {
  ok: true;
  /** The schema of the table written, as the writing engine reads it. */
  schema: DeltaStructType;
  /** The rows written, read back by the writing engine: canonical, sorted. */
  rows: CanonicalRow[];
  version: number;
  ms: number;
}
export interface SqlResponse {
  ok: true;
  /** The result's schema. */
  schema: DeltaStructType;
  /** Canonical rows, in query order unless the request asked to `sort`. */
  rows: CanonicalRow[];
  ms: number;
}

type ResponseFor<R> = R extends ReadRequest ? ReadResponse
  : R extends WriteRequest ? WriteResponse
  : R extends SqlRequest ? SqlResponse
  : R extends OriginalJobRequest ? { ok: true; ms: number; versions: Record<string, number> }
  : R extends StartTrinoRequest ? { ok: true; ms: number; startMs?: number; downloadMs?: number; unpackMs?: number; version: string }
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
    return canonicalResponse(req, res);
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

/** A response with its rows, sent in the worker's wire form, made canonical by its schema. */
function canonicalResponse(req: DeltaRequest, res: any): any {
  if (!Array.isArray(res.rows)) return res;
  const schema = res.schema as DeltaStructType;
  if (req.op === "sql" && !req.sort) return { ...res, rows: res.rows.map((r: unknown) => canonicalValue(r, schema)) };
  return { ...res, rows: canonicalRows(res.rows, schema) };
}
