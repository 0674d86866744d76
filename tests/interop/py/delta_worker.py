#!/usr/bin/env python3
"""Long-running Delta Lake reference worker for the interop tests.

Protocol: one JSON request per line on stdin, one JSON response per line on
stdout (nothing else is ever written to stdout: the real stdout is kept for
the protocol and fd 1 is pointed at stderr, so the JVM, Ivy and any library
that prints go to stderr). Logs go to stderr. The worker exits on EOF.

Engines: "deltalake" (delta-rs, always available, cheap) and "spark"
(PySpark + delta-spark; the session is created lazily on the first request
that needs it, so delta-rs-only users never start a JVM).

Requests (every request may carry an "id", echoed back in the response):

  {"op":"ping"}                                   -> {"ok":true}
  {"op":"start_spark"}                            -> {"ok":true,"startMs":..}
  {"op":"read","engine":"deltalake"|"spark","path":P,
   "filter":"<SQL predicate>"?,                   (both engines; deltalake runs
                                                   it through delta-rs' DataFusion)
   "filters":[["col","=",v],...]?,                (deltalake only: delta-rs /
                                                   pyarrow DNF filters)
   "reader":"datafusion"|"pyarrow"?,              (deltalake only; default
                                                   datafusion = delta-rs' own
                                                   parquet reader)
   "version":N?,                                  (time travel)
   "rows":false?,                                 (skip returning rows)
   "storage":{AWS_ENDPOINT_URL,..}?}              (delta-rs storage options; for
                                                   spark an s3:// table is first
                                                   mirrored to a temp dir with boto3)
    -> {"ok":true,"schema":<Delta schema JSON as the engine sees it>,
        "rows":[canonical rows, sorted],"count":N,"version":V,"numFiles":F,
        "statsCount":N|null (deltalake: sum of numRecords from stats)}
  {"op":"write","engine":..,"path":P,"case":"all_types"|"partitioned"|"many_commits",
   "storage":{..}?}
    -> {"ok":true,"rows":[canonical rows, sorted],"version":V}
  {"op":"sql","sql":"..."}                        (spark; rows in query order)
  {"op":"sql","engine":"deltalake","sql":"...","tables":{"t":P},"storage":{..}?}
    -> {"ok":true,"schema":..,"rows":[..]}
  On any exception: {"ok":false,"error":"<type>: <message>"}; the worker keeps serving.

Canonical row JSON (identical for both engines for the same data):
  struct -> object in field order; array -> list; map -> list of [key, value]
  pairs sorted by key (numbers numerically, otherwise by the key's JSON text in
  UTF-16 code-unit order); long/int/short/byte -> number; float/double ->
  number (a float column gives the exact double value of the stored float32;
  -0.0 -> 0; NaN -> "NaN"; +-inf -> "Infinity"/"-Infinity"); decimal ->
  string with exactly `scale` fraction digits ("12.30"); date ->
  "YYYY-MM-DD"; timestamp -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC);
  timestamp_ntz -> same without the "Z"; binary -> base64; null -> null.
  Rows are sorted by their JSON text as JavaScript's JSON.stringify would write
  it, compared by UTF-16 code units (JavaScript's default string order), so a
  TypeScript side that builds the same values and sorts by JSON.stringify gets
  the same order.
"""
from __future__ import annotations

import base64
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, localcontext

_PROTO = None  # the real stdout, kept for the protocol only (see main)

os.environ["TZ"] = "UTC"
time.tzset()
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")

UTC = timezone.utc


def log(*a: object) -> None:
    print("[delta_worker]", *a, file=sys.stderr, flush=True)


# --- canonical JSON ----------------------------------------------------------

def _is_num(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def canon_float(x: object) -> object:
    if x is None:
        return None
    x = float(x)  # type: ignore[arg-type]
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return 0
    return x


def canon_ts(v: object, ntz: bool) -> object:
    if v is None:
        return None
    if isinstance(v, (int,)):  # micros since epoch
        v = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=v)
    if not isinstance(v, datetime):
        raise TypeError(f"timestamp value of type {type(v).__name__}")
    if v.tzinfo is not None:
        v = v.astimezone(UTC)
    s = (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
         f"{v.second:02d}.{v.microsecond:06d}")
    return s if ntz else s + "Z"


def canon_date(v: object) -> object:
    if v is None:
        return None
    if isinstance(v, datetime):
        v = v.date()
    if isinstance(v, int):
        v = date(1970, 1, 1) + timedelta(days=v)
    if not isinstance(v, date):
        raise TypeError(f"date value of type {type(v).__name__}")
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"


def canon_decimal(v: object, scale: int) -> object:
    if v is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 200
        d = v if isinstance(v, Decimal) else Decimal(str(v))
        q = d.quantize(Decimal(1).scaleb(-scale))
        if q == 0:
            q = abs(q)
        return format(q, "f")


def canon_binary(v: object) -> object:
    if v is None:
        return None
    return base64.b64encode(bytes(v)).decode("ascii")  # type: ignore[arg-type]


def _fields_of(v: object) -> dict:
    if isinstance(v, dict):
        return v
    if hasattr(v, "asDict"):  # pyspark Row
        return v.asDict(recursive=False)  # type: ignore[union-attr]
    raise TypeError(f"struct value of type {type(v).__name__}")


def _map_pairs(v: object) -> list:
    if isinstance(v, dict):
        return list(v.items())
    return [tuple(p) if not isinstance(p, dict) else (p["key"], p["value"]) for p in v]  # type: ignore[union-attr]


def _utf16_key(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


def _map_sort_key(pair: list) -> tuple:
    k = pair[0]
    if _is_num(k):
        return (0, float(k), b"")
    return (1, 0.0, _utf16_key(js_json(k)))


def canon(v: object, t: object) -> object:
    """Canonical JSON value of `v` whose Delta type (schema JSON) is `t`."""
    if v is None:
        return None
    if isinstance(t, str):
        if t == "string":
            return str(v)
        if t in ("long", "integer", "short", "byte"):
            return int(v)  # type: ignore[arg-type]
        if t in ("float", "double"):
            return canon_float(v)
        if t == "boolean":
            return bool(v)
        if t == "date":
            return canon_date(v)
        if t == "timestamp":
            return canon_ts(v, False)
        if t == "timestamp_ntz":
            return canon_ts(v, True)
        if t.startswith("decimal"):
            scale = int(t[t.index(",") + 1:t.index(")")]) if "," in t else 0
            return canon_decimal(v, scale)
        if t == "binary":
            return canon_binary(v)
        return canon_any(v)
    if isinstance(t, dict):
        kind = t.get("type")
        if kind == "struct":
            d = _fields_of(v)
            return {f["name"]: canon(d.get(f["name"]), f["type"]) for f in t["fields"]}
        if kind == "array":
            return [canon(x, t["elementType"]) for x in v]  # type: ignore[union-attr]
        if kind == "map":
            pairs = [[canon(k, t["keyType"]), canon(x, t["valueType"])] for k, x in _map_pairs(v)]
            pairs.sort(key=_map_sort_key)
            return pairs
    return canon_any(v)


def canon_any(v: object) -> object:
    """Best effort for values without a known type."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return canon_float(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, datetime):
        return canon_ts(v, v.tzinfo is None)
    if isinstance(v, date):
        return canon_date(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return canon_binary(v)
    if isinstance(v, dict):
        return {str(k): canon_any(x) for k, x in v.items()}
    if hasattr(v, "asDict"):
        return {k: canon_any(x) for k, x in v.asDict(recursive=False).items()}  # type: ignore[union-attr]
    if isinstance(v, (list, tuple)):
        return [canon_any(x) for x in v]
    return str(v)


def js_number(x: float | int) -> str:
    """Number -> text exactly as JavaScript's Number#toString writes it."""
    if isinstance(x, int) and abs(x) <= 2**53:
        return str(x)
    x = float(x)
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    sign, digits, exp = Decimal(repr(x)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    exp += len(digits) - len(ds)  # type: ignore[operator]
    k = len(ds)
    n = k + exp  # type: ignore[operator]
    if k <= n <= 21:
        return ds + "0" * (n - k)
    if 0 < n <= 21:
        return ds[:n] + "." + ds[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + ds
    e = n - 1
    es = ("+" if e >= 0 else "-") + str(abs(e))
    return (ds if k == 1 else ds[0] + "." + ds[1:]) + "e" + es


def js_json(v: object) -> str:
    """JSON text exactly as JavaScript's JSON.stringify writes it (after the
    value has gone through JSON.parse, i.e. integers beyond 2^53 rounded)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            return "null"
        return js_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + js_json(x)
                              for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(js_json(x) for x in v) + "]"
    raise TypeError(f"not JSON: {type(v).__name__}")


def sort_rows(rows: list) -> list:
    return sorted(rows, key=lambda r: _utf16_key(js_json(r)))


def arrow_rows(tbl, schema: dict) -> list:
    fields = schema["fields"]
    out = []
    for r in tbl.to_pylist():
        out.append({f["name"]: canon(r.get(f["name"]), f["type"]) for f in fields})
    return out


# --- storage helpers ---------------------------------------------------------

def is_s3(path: str) -> bool:
    return path.startswith("s3://") or path.startswith("s3a://")


def _opt(storage: dict, *names: str) -> str | None:
    low = {k.lower(): v for k, v in (storage or {}).items()}
    for n in names:
        if n.lower() in low:
            return low[n.lower()]
    return None


def s3_client(storage: dict):
    import boto3  # shipped with moto
    from botocore.config import Config
    return boto3.client(
        "s3",
        endpoint_url=_opt(storage, "AWS_ENDPOINT_URL", "AWS_ENDPOINT", "endpoint"),
        aws_access_key_id=_opt(storage, "AWS_ACCESS_KEY_ID", "access_key_id"),
        aws_secret_access_key=_opt(storage, "AWS_SECRET_ACCESS_KEY", "secret_access_key"),
        aws_session_token=_opt(storage, "AWS_SESSION_TOKEN", "session_token"),
        region_name=_opt(storage, "AWS_REGION", "AWS_DEFAULT_REGION", "region") or "us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def _split_s3(path: str) -> tuple[str, str]:
    rest = path.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


def s3_download(path: str, storage: dict, dest: str) -> None:
    bucket, prefix = _split_s3(path)
    c = s3_client(storage)
    n = 0
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            rel = o["Key"][len(prefix) + 1:]
            local = os.path.join(dest, *rel.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            c.download_file(bucket, o["Key"], local)
            n += 1
    if n == 0:
        raise FileNotFoundError(f"no objects under {path}")


def s3_upload(src: str, path: str, storage: dict) -> None:
    bucket, prefix = _split_s3(path)
    c = s3_client(storage)
    for root, _dirs, files in os.walk(src):
        for f in files:
            if f.startswith(".") and f.endswith(".crc"):  # Hadoop checksum files
                continue
            local = os.path.join(root, f)
            rel = os.path.relpath(local, src).replace(os.sep, "/")
            c.upload_file(local, bucket, f"{prefix}/{rel}" if prefix else rel)


def local_abs(path: str) -> str:
    if path.startswith("file://"):
        path = path[len("file://"):]
    return os.path.abspath(path)


def ensure_absent(path: str) -> None:
    if not is_s3(path) and os.path.exists(local_abs(path)) and os.listdir(local_abs(path)):
        raise FileExistsError(f"refusing to write a reference table into non-empty {path}")


# --- Spark -------------------------------------------------------------------

_spark = None
_spark_start_ms: float | None = None
_spark_tmp: str | None = None  # warehouse + spark.local.dir, removed on exit


def spark():
    global _spark, _spark_start_ms, _spark_tmp
    if _spark is not None:
        return _spark
    t0 = time.time()
    log("starting Spark session ...")
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    tmp = _spark_tmp = tempfile.mkdtemp(prefix="delta_worker_spark_")
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
    _spark_start_ms = round((time.time() - t0) * 1000)
    log(f"Spark {s.version} ready in {_spark_start_ms} ms")
    return s


def sql_path(path: str) -> str:
    return "delta.`" + path.replace("`", "``") + "`"


def spark_df_rows(df) -> list:
    schema = df.schema.jsonValue()
    try:
        tbl = df.toArrow()
        return arrow_rows(tbl, schema)
    except Exception as e:  # pragma: no cover - fallback
        log(f"toArrow failed ({type(e).__name__}: {e}); falling back to collect()")
        return [{f["name"]: canon(r[f["name"]], f["type"]) for f in schema["fields"]} for r in df.collect()]


def spark_read(req: dict) -> dict:
    path = req["path"]
    tmp = None
    try:
        if is_s3(path):
            tmp = tempfile.mkdtemp(prefix="delta_worker_s3_")
            s3_download(path, req.get("storage") or {}, tmp)
            path = tmp
        else:
            path = local_abs(path)
        s = spark()
        reader = s.read.format("delta")
        if req.get("version") is not None:
            reader = reader.option("versionAsOf", int(req["version"]))
        df = reader.load(path)
        schema = df.schema.jsonValue()
        if req.get("filter"):
            df = df.where(req["filter"])
        out: dict = {"ok": True, "schema": schema}
        if req.get("rows", True):
            out["rows"] = sort_rows(spark_df_rows(df))
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


def spark_sql(req: dict) -> dict:
    df = spark().sql(req["sql"])
    rows = spark_df_rows(df)
    if req.get("sort"):
        rows = sort_rows(rows)
    return {"ok": True, "schema": df.schema.jsonValue(), "rows": rows}


# --- delta-rs ----------------------------------------------------------------

def dl_table(path: str, storage: dict | None, version: int | None = None):
    from deltalake import DeltaTable
    return DeltaTable(path if is_s3(path) else local_abs(path), version=version,
                      storage_options=storage or None)


def _to_pa(obj):
    import pyarrow as pa
    if isinstance(obj, pa.Table):
        return obj
    return pa.table(obj)


def dl_read(req: dict) -> dict:
    from deltalake import QueryBuilder
    dt = dl_table(req["path"], req.get("storage"), req.get("version"))
    schema = json.loads(dt.schema().to_json())
    out: dict = {"ok": True, "schema": schema}
    filters = req.get("filters")
    if filters is not None:
        filters = [tuple(f) for f in filters]

    def query(sql: str):
        return _to_pa(QueryBuilder().register("t", dt).execute(sql).read_all())

    if req.get("rows", True):
        if filters is not None or req.get("reader") == "pyarrow":
            if req.get("filter"):
                raise ValueError("'filter' (SQL) cannot be combined with 'filters' / reader=pyarrow")
            tbl = dt.to_pyarrow_table(filters=filters)
        else:
            where = f" WHERE {req['filter']}" if req.get("filter") else ""
            tbl = query(f"SELECT * FROM t{where}")
        out["rows"] = sort_rows(arrow_rows(tbl, schema))
    out["count"] = int(query("SELECT COUNT(*) AS n FROM t").column(0)[0].as_py())
    adds = _to_pa(dt.get_add_actions(flatten=True))
    out["numFiles"] = adds.num_rows
    nr = adds.column("num_records").to_pylist() if "num_records" in adds.column_names else []
    out["statsCount"] = sum(nr) if nr and all(x is not None for x in nr) else (0 if adds.num_rows == 0 else None)
    out["version"] = dt.version()
    return out


def dl_sql(req: dict) -> dict:
    from deltalake import QueryBuilder
    qb = QueryBuilder()
    for name, path in (req.get("tables") or {}).items():
        qb.register(name, dl_table(path, req.get("storage")))
    tbl = _to_pa(qb.execute(req["sql"]).read_all())
    rows = [{k: canon_any(v) for k, v in r.items()} for r in tbl.to_pylist()]
    if req.get("sort"):
        rows = sort_rows(rows)
    return {"ok": True, "rows": rows}


# --- reference data ----------------------------------------------------------

def all_types_data() -> list[dict]:
    def ts(*a):
        return datetime(*a, tzinfo=UTC)
    rows = [
        dict(id=1, s="hello", l=1, i=1, sh=1, b=1, d=1.5, f=1.1, bo=True, dt=date(2024, 1, 2),
             ts=ts(2024, 1, 2, 3, 4, 5, 123456), dec=Decimal("12.30"), bin=b"\x00\x01\xff",
             st={"a": 1, "b": "x"}, arr=["a", None, "c"], m={"k2": None, "k1": 1}),
        # every top-level value null
        dict(id=2, s=None, l=None, i=None, sh=None, b=None, d=None, f=None, bo=None, dt=None, ts=None,
             dec=None, bin=None, st=None, arr=None, m=None),
        # nulls / empties one level down
        dict(id=3, s="", l=0, i=0, sh=0, b=0, d=-0.0, f=0.0, bo=False, dt=date(1970, 1, 1),
             ts=ts(1970, 1, 1), dec=Decimal("0.00"), bin=b"", st={"a": None, "b": None}, arr=[],
             m={}),
        # maxima and specials
        dict(id=4, s="é😀\n\"\\\t", l=2**63 - 1, i=2**31 - 1, sh=2**15 - 1, b=2**7 - 1,
             d=float("nan"), f=float("inf"), bo=True, dt=date(9999, 12, 31),
             ts=ts(2262, 4, 11, 23, 47, 16, 854775), dec=Decimal("99999999.99"), bin=bytes(range(256)),
             st={"a": 2**31 - 1, "b": "😀"}, arr=[None], m={"z": -1}),
        # minima and specials
        dict(id=5, s="zzz", l=-(2**63), i=-(2**31), sh=-(2**15), b=-(2**7), d=float("-inf"),
             f=3.4028234663852886e38, bo=False, dt=date(1969, 12, 31),
             ts=ts(1969, 12, 31, 23, 59, 59, 999999), dec=Decimal("-99999999.99"), bin=b"\x80",
             st={"a": -1, "b": None}, arr=["", "x y"], m={"b": 2, "a": 1, "😀": 3, "é": None}),
        dict(id=6, s="plain", l=1234567890123, i=-7, sh=-300, b=-5, d=-1e300, f=-1.5e-45,
             bo=None, dt=date(2000, 2, 29), ts=ts(2000, 2, 29, 12, 0, 0, 1), dec=Decimal("-0.01"),
             bin=None, st=None, arr=None, m=None),
        dict(id=7, s="x", l=-1, i=None, sh=None, b=None, d=1e-300, f=float("nan"), bo=True,
             dt=date(1900, 1, 1), ts=ts(1900, 1, 1, 0, 0, 0, 500000), dec=Decimal("1.05"),
             bin=b"abc", st={"a": None, "b": "only b"}, arr=["only"], m={"only": None}),
    ]
    return rows


def _spark_all_types_schema():
    from pyspark.sql import types as T
    return T.StructType([
        T.StructField("id", T.IntegerType()),
        T.StructField("s", T.StringType()), T.StructField("l", T.LongType()),
        T.StructField("i", T.IntegerType()), T.StructField("sh", T.ShortType()),
        T.StructField("b", T.ByteType()), T.StructField("d", T.DoubleType()),
        T.StructField("f", T.FloatType()), T.StructField("bo", T.BooleanType()),
        T.StructField("dt", T.DateType()), T.StructField("ts", T.TimestampType()),
        T.StructField("dec", T.DecimalType(10, 2)), T.StructField("bin", T.BinaryType()),
        T.StructField("st", T.StructType([T.StructField("a", T.IntegerType()),
                                          T.StructField("b", T.StringType())])),
        T.StructField("arr", T.ArrayType(T.StringType(), True)),
        T.StructField("m", T.MapType(T.StringType(), T.IntegerType(), True)),
    ])


def _pa_all_types_schema():
    import pyarrow as pa
    return pa.schema([
        ("id", pa.int32()), ("s", pa.string()), ("l", pa.int64()), ("i", pa.int32()),
        ("sh", pa.int16()), ("b", pa.int8()), ("d", pa.float64()), ("f", pa.float32()),
        ("bo", pa.bool_()), ("dt", pa.date32()), ("ts", pa.timestamp("us", tz="UTC")),
        ("dec", pa.decimal128(10, 2)), ("bin", pa.binary()),
        ("st", pa.struct([("a", pa.int32()), ("b", pa.string())])),
        ("arr", pa.list_(pa.string())), ("m", pa.map_(pa.string(), pa.int32())),
    ])


PART_VALUES = ["a/b", "%", "x=y", "sp ace", "é", "😀", None, "plain", "a%20b"]


def partitioned_data() -> list[dict]:
    rows = []
    n = 0
    for p in PART_VALUES:
        for k in range(2):
            n += 1
            rows.append(dict(id=n, part=p, v=f"v{n}"))
    return rows


def many_commits_batches() -> list[list[dict]]:
    return [[dict(id=2 * c, v=f"c{c}"), dict(id=2 * c + 1, v=f"c{c}")] for c in range(25)]


MANY_COMMITS_PROPS = {
    "delta.checkpoint.writeStatsAsStruct": "true",
    "delta.checkpoint.writeStatsAsJson": "false",
}


def spark_write(req: dict) -> dict:
    from pyspark.sql import types as T
    path = req["path"]
    case = req["case"]
    ensure_absent(path)
    tmp = None
    target = path
    if is_s3(path):
        tmp = tempfile.mkdtemp(prefix="delta_worker_s3w_")
        target = tmp
    else:
        target = local_abs(path)
    s = spark()
    try:
        if case == "all_types":
            schema = _spark_all_types_schema()
            df = s.createDataFrame(all_types_data(), schema)
            old = s.conf.get("spark.sql.parquet.outputTimestampType")
            s.conf.set("spark.sql.parquet.outputTimestampType", "INT96")
            try:
                df.write.format("delta").save(target)
            finally:
                s.conf.set("spark.sql.parquet.outputTimestampType", old)
        elif case == "partitioned":
            schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("part", T.StringType()),
                                   T.StructField("v", T.StringType())])
            s.createDataFrame(partitioned_data(), schema).write.format("delta") \
                .partitionBy("part").save(target)
        elif case == "many_commits":
            schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("v", T.StringType())])
            for i, batch in enumerate(many_commits_batches()):
                w = s.createDataFrame(batch, schema).coalesce(1).write.format("delta").mode("append")
                if i == 0:
                    for k, v in MANY_COMMITS_PROPS.items():
                        s.conf.set("spark.databricks.delta.properties.defaults." + k[len("delta."):], v)
                    try:
                        w.save(target)
                    finally:
                        for k in MANY_COMMITS_PROPS:
                            s.conf.unset("spark.databricks.delta.properties.defaults." + k[len("delta."):])
                else:
                    w.save(target)
        else:
            raise ValueError(f"unknown case {case!r}")
        got = spark_read({"path": target})
        if tmp:
            s3_upload(tmp, path, req.get("storage") or {})
        return {"ok": True, "rows": got["rows"], "version": got["version"]}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def dl_write(req: dict) -> dict:
    import pyarrow as pa
    from deltalake import write_deltalake
    path = req["path"]
    case = req["case"]
    ensure_absent(path)
    uri = path if is_s3(path) else local_abs(path)
    so = req.get("storage") or None
    if case == "all_types":
        tbl = pa.Table.from_pylist(all_types_data(), schema=_pa_all_types_schema())
        write_deltalake(uri, tbl, storage_options=so)
    elif case == "partitioned":
        sch = pa.schema([("id", pa.int64()), ("part", pa.string()), ("v", pa.string())])
        write_deltalake(uri, pa.Table.from_pylist(partitioned_data(), schema=sch),
                        partition_by=["part"], storage_options=so)
    elif case == "many_commits":
        sch = pa.schema([("id", pa.int64()), ("v", pa.string())])
        for i, batch in enumerate(many_commits_batches()):
            write_deltalake(uri, pa.Table.from_pylist(batch, schema=sch), mode="append",
                            storage_options=so,
                            configuration=({**MANY_COMMITS_PROPS, "delta.checkpointInterval": "10"}
                                           if i == 0 else None))
    else:
        raise ValueError(f"unknown case {case!r}")
    got = dl_read({"path": path, "storage": req.get("storage")})
    return {"ok": True, "rows": got["rows"], "version": got["version"]}


# --- dispatch ----------------------------------------------------------------

def handle(req: dict) -> dict:
    op = req.get("op")
    engine = req.get("engine", "spark" if op == "sql" else "deltalake")
    if engine not in ("spark", "deltalake"):
        raise ValueError(f"unknown engine {engine!r}")
    if op == "ping":
        return {"ok": True}
    if op == "start_spark":
        spark()
        return {"ok": True, "startMs": _spark_start_ms}
    if op == "read":
        return spark_read(req) if engine == "spark" else dl_read(req)
    if op == "write":
        return spark_write(req) if engine == "spark" else dl_write(req)
    if op == "sql":
        return spark_sql(req) if engine == "spark" else dl_sql(req)
    raise ValueError(f"unknown op {op!r}")


def _error_text(e: BaseException) -> str:
    msg = str(e)
    desc = getattr(e, "desc", None)  # py4j / pyspark captured exceptions
    if desc and desc not in msg:
        msg = f"{msg} {desc}"
    if len(msg) > 4000:
        msg = msg[:4000] + " …"
    return f"{type(e).__name__}: {msg}"


def _json_default(o: object):
    if isinstance(o, Decimal):
        return format(o, "f")
    return str(o)


def respond(obj: dict) -> None:
    _PROTO.write(json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n")
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
    if _spark is not None:
        try:
            _spark.stop()
        except Exception:
            pass
    if _spark_tmp:
        shutil.rmtree(_spark_tmp, ignore_errors=True)
    log("bye")


if __name__ == "__main__":
    main()
