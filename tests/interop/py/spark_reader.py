"""Reading Delta tables with Spark + delta-spark, and the one Spark session the
worker uses (started on the first request that needs it, stopped on exit)."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

from worker_common import arrow_rows, is_s3, local_abs, log, s3_download, to_wire

_spark = None
_start_ms: float | None = None
_tmp: str | None = None  # warehouse + spark.local.dir, removed by stop()


def session():
    """The Spark session, started on first use (~10 s; ~20 s the first time on a
    machine, while Ivy fetches the Delta jars)."""
    global _spark, _start_ms, _tmp
    if _spark is not None:
        return _spark
    t0 = time.time()
    log("starting Spark session ...")
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    tmp = _tmp = tempfile.mkdtemp(prefix="delta_worker_spark_")
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("delta_worker")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", os.path.join(tmp, "warehouse"))
        .config("spark.local.dir", os.path.join(tmp, "local"))
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
    )
    if os.environ.get("DS_SPARK_IVY"):  # Ivy cache for the Delta jars (default ~/.ivy2.5.2)
        builder = builder.config("spark.jars.ivy", os.environ["DS_SPARK_IVY"])
    s = configure_spark_with_delta_pip(builder).getOrCreate()
    s.sparkContext.setLogLevel(os.environ.get("DS_SPARK_LOG_LEVEL", "ERROR"))
    _spark = s
    _start_ms = round((time.time() - t0) * 1000)
    log(f"Spark {s.version} ready in {_start_ms} ms")
    return s


def start() -> dict:
    """The `start_spark` request: starts the session now rather than on first use."""
    session()
    return {"ok": True, "startMs": _start_ms}


def stop() -> None:
    if _spark is not None:
        try:
            _spark.stop()
        except Exception:
            pass
    if _tmp:
        shutil.rmtree(_tmp, ignore_errors=True)


def sql_path(path: str) -> str:
    return "delta.`" + path.replace("`", "``") + "`"


def df_rows(df) -> list:
    """The rows of a DataFrame in the wire form, in the DataFrame's order."""
    try:
        return arrow_rows(df.toArrow())
    except Exception as e:  # pragma: no cover - fallback
        log(f"toArrow failed ({type(e).__name__}: {e}); falling back to collect()")
        return [to_wire(r) for r in df.collect()]


def read(req: dict) -> dict:
    """The `read` request with engine "spark" (an s3:// table is read from a
    temporary local copy)."""
    path = req["path"]
    tmp = None
    try:
        if is_s3(path):
            tmp = tempfile.mkdtemp(prefix="delta_worker_s3_")
            s3_download(path, req.get("storage") or {}, tmp)
            path = tmp
        else:
            path = local_abs(path)
        s = session()
        reader = s.read.format("delta")
        if req.get("version") is not None:
            reader = reader.option("versionAsOf", int(req["version"]))
        df = reader.load(path)
        schema = df.schema.jsonValue()
        if req.get("filter"):
            df = df.where(req["filter"])
        out: dict = {"ok": True, "schema": schema}
        if req.get("rows", True):
            out["rows"] = df_rows(df)
        if req.get("version") is None:
            out["count"] = s.sql(f"SELECT COUNT(*) FROM {sql_path(path)}").collect()[0][0]
            detail = s.sql(f"DESCRIBE DETAIL {sql_path(path)}").collect()[0].asDict()
            out["numFiles"] = detail.get("numFiles")
            out["version"] = s.sql(f"DESCRIBE HISTORY {sql_path(path)} LIMIT 1").collect()[0]["version"]
        else:
            out["count"] = reader.load(path).count()
            out["version"] = int(req["version"])
            out["numFiles"] = len(reader.load(path).inputFiles())
        return out
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def sql(req: dict) -> dict:
    """The `sql` request with engine "spark": rows in query order."""
    df = session().sql(req["sql"])
    return {"ok": True, "schema": df.schema.jsonValue(), "rows": df_rows(df)}
