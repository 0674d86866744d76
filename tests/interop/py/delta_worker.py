#!/usr/bin/env python3
"""Long-running Delta Lake reference worker for the interop tests: the protocol
and the dispatch to the modules beside it.

  deltalake_reader.py  read tables and run SQL with delta-rs
  spark_reader.py      read tables and run SQL with Spark (+ the Spark session)
  duckdb_reader.py     read tables with DuckDB's delta extension (+ its connection)
  trino_reader.py      read tables with Trino 476 (+ its server: fetched, unpacked, started)
  reference_writer.py  write reference tables with delta-rs or Spark
  original_job.py      the tables the original PySpark jobs left, made their way
  worker_common.py     logging, the wire form of values, local and S3 locations

Protocol: one JSON request per line on stdin, one JSON response per line on
stdout (nothing else is ever written to stdout: the real stdout is kept for
the protocol and fd 1 is pointed at stderr, so the JVM, Ivy and any library
that prints go to stderr). Logs go to stderr. The worker exits on EOF.

Engines: "deltalake" (delta-rs, always available, cheap), "spark"
(PySpark + delta-spark; the session is created lazily on the first request
that needs it, so delta-rs-only users never start a JVM), "duckdb" (DuckDB's
delta extension, for `read` of local tables only; its connection too is opened
on first use) and "trino" (a Trino 476 server, the engine behind Athena, for
`read` of local tables only; installed into a cache outside the clone and
started on first use, or by `start_trino`, and stopped on exit).

Requests (every request may carry an "id", echoed back in the response):

  {"op":"ping"}                                   -> {"ok":true}
  {"op":"start_spark"}                            -> {"ok":true,"startMs":..}
  {"op":"start_trino","wait":false?}              -> {"ok":true,"startMs":..?,
                                                      "downloadMs":..?,"unpackMs":..?}
                                                  (wait false: returns once the JVM is
                                                   launched; the next trino request waits)
  {"op":"read","engine":"deltalake"|"spark"|"duckdb"|"trino","path":P,
   "filter":"<SQL predicate>"?,                   (every engine; deltalake runs
                                                   it through delta-rs' DataFusion)
   "filters":[["col","=",v],...]?,                (deltalake only: delta-rs /
                                                   pyarrow DNF filters)
   "reader":"datafusion"|"pyarrow"?,              (deltalake only; default
                                                   datafusion = delta-rs' own
                                                   parquet reader)
   "version":N?,                                  (time travel; not duckdb)
   "rows":false?,                                 (skip returning rows)
   "storage":{AWS_ENDPOINT_URL,..}?}              (delta-rs storage options; for
                                                   spark an s3:// table is first
                                                   mirrored to a temp dir with boto3;
                                                   not duckdb, trino: local paths only)
    -> {"ok":true,"schema":<Delta schema JSON as the engine sees it>,
        "rows":[rows in the wire form, in the engine's order],"count":N,
        "version":V (duckdb: null, delta_scan does not report it),"numFiles":F
        (trino: the files holding a live row),
        "statsCount":N|null (deltalake, duckdb: sum of numRecords from stats,
                             null when a file has none; trino: null)}
  {"op":"write","engine":..,"path":P,"case":"all_types"|"partitioned"|"many_commits",
   "storage":{..}?}
    -> {"ok":true,"schema":..,"rows":[rows read back, wire form],"version":V}
  {"op":"original_job","root":R,"orders":[..],"packages":[..],"batches":N}
    -> {"ok":true,"versions":{table: version}}   (spark: the tables the original
                                                   jobs left, see original_job.py)
  {"op":"sql","sql":"..."}                        (spark)
  {"op":"sql","engine":"deltalake","sql":"...","tables":{"t":P},"storage":{..}?}
    -> {"ok":true,"schema":..,"rows":[rows in query order, wire form]}
  On any exception: {"ok":false,"error":"<type>: <message>"}; the worker keeps serving.

Rows come back as the engine gave them, in the wire form described in
worker_common.py; the worker neither normalises nor sorts them. The
TypeScript side (tests/helpers/canonical_rows.ts) canonicalises and sorts them
by the schema in the response, as it does the rows this library reads.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ beside the sibling modules
os.environ["TZ"] = "UTC"
time.tzset()
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

import deltalake_reader  # noqa: E402
import duckdb_reader  # noqa: E402
import original_job  # noqa: E402
import reference_writer  # noqa: E402
import spark_reader  # noqa: E402
import trino_reader  # noqa: E402
from worker_common import log  # noqa: E402

_PROTO = None  # the real stdout, kept for the protocol only (see main)


# op -> engine -> handler; "ping", "start_spark", "start_trino" and "original_job" take no engine
_BY_ENGINE = {
    "read": {"deltalake": deltalake_reader.read, "spark": spark_reader.read, "duckdb": duckdb_reader.read,
             "trino": trino_reader.read},
    "write": {"deltalake": reference_writer.write_deltalake, "spark": reference_writer.write_spark},
    "sql": {"deltalake": deltalake_reader.sql, "spark": spark_reader.sql},
}


def handle(req: dict) -> dict:
    op = req.get("op")
    if op == "ping":
        return {"ok": True}
    if op == "start_spark":
        return spark_reader.start()
    if op == "start_trino":
        return trino_reader.start(req)
    if op == "original_job":
        return original_job.write(req)
    if op not in _BY_ENGINE:
        raise ValueError(f"unknown op {op!r}")
    engine = req.get("engine", "spark" if op == "sql" else "deltalake")
    if engine not in _BY_ENGINE[op]:
        raise ValueError(f"unknown engine {engine!r} for op {op!r} (one of {', '.join(_BY_ENGINE[op])})")
    return _BY_ENGINE[op][engine](req)


def _error_text(e: BaseException) -> str:
    msg = str(e)
    desc = getattr(e, "desc", None)  # py4j / pyspark captured exceptions
    if desc and desc not in msg:
        msg = f"{msg} {desc}"
    if len(msg) > 4000:
        msg = msg[:4000] + " …"
    return f"{type(e).__name__}: {msg}"


def respond(obj: dict) -> None:
    _PROTO.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")
    _PROTO.flush()


def main() -> None:
    global _PROTO
    # stdout hygiene: keep the real stdout for the protocol and point fd 1 at
    # stderr, so whatever the JVM, Ivy or a library prints cannot corrupt it
    _PROTO = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    log(f"ready (pid {os.getpid()}, python {sys.version.split()[0]})")
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        req: dict = {}
        t0 = time.time()
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("request must be a JSON object")
            res = handle(req)
        except BaseException as e:  # keep serving whatever happens
            if isinstance(e, KeyboardInterrupt):
                break
            log(f"request failed: {line[:300]!r}\n{traceback.format_exc()}")
            res = {"ok": False, "error": _error_text(e)}
        res["ms"] = round((time.time() - t0) * 1000)
        if "id" in req:
            res["id"] = req["id"]
        try:
            respond(res)
        except Exception as e:  # e.g. a value JSON cannot carry
            respond({"ok": False, "error": _error_text(e), **({"id": req["id"]} if "id" in req else {})})
    duckdb_reader.close()
    trino_reader.stop()
    spark_reader.stop()
    log("bye")


if __name__ == "__main__":
    main()
