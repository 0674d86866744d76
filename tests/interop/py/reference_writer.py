"""The reference tables the worker writes for the reverse direction (this
library reads what delta-rs and Spark wrote), with delta-rs or with Spark:

  all_types     every Delta type, 7 rows with nulls at every level and edge values
                (Spark writes its timestamps as INT96)
  partitioned   (id, part, v) partitioned by part, whose values need escaping
  many_commits  25 appends of 2 rows, checkpoints carrying stats_parsed only

Each write answers with the rows read back by the same engine, in the wire form.
"""
from __future__ import annotations

import shutil
import tempfile
from datetime import date, datetime, timezone
from decimal import Decimal

import deltalake_reader
import spark_reader
from worker_common import ensure_absent, is_s3, local_abs, s3_upload

UTC = timezone.utc

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


def write_spark(req: dict) -> dict:
    """The `write` request with engine "spark"."""
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
    s = spark_reader.session()
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
        got = spark_reader.read({"path": target})
        if tmp:
            s3_upload(tmp, path, req.get("storage") or {})
        return {"ok": True, "schema": got["schema"], "rows": got["rows"], "version": got["version"]}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def write_deltalake(req: dict) -> dict:
    """The `write` request with engine "deltalake"."""
    import pyarrow as pa
    from deltalake import write_deltalake as delta_rs_write
    path = req["path"]
    case = req["case"]
    ensure_absent(path)
    uri = path if is_s3(path) else local_abs(path)
    so = req.get("storage") or None
    if case == "all_types":
        tbl = pa.Table.from_pylist(all_types_data(), schema=_pa_all_types_schema())
        delta_rs_write(uri, tbl, storage_options=so)
    elif case == "partitioned":
        sch = pa.schema([("id", pa.int64()), ("part", pa.string()), ("v", pa.string())])
        delta_rs_write(uri, pa.Table.from_pylist(partitioned_data(), schema=sch),
                        partition_by=["part"], storage_options=so)
    elif case == "many_commits":
        sch = pa.schema([("id", pa.int64()), ("v", pa.string())])
        for i, batch in enumerate(many_commits_batches()):
            delta_rs_write(uri, pa.Table.from_pylist(batch, schema=sch), mode="append",
                            storage_options=so,
                            configuration=({**MANY_COMMITS_PROPS, "delta.checkpointInterval": "10"}
                                           if i == 0 else None))
    else:
        raise ValueError(f"unknown case {case!r}")
    got = deltalake_reader.read({"path": path, "storage": req.get("storage")})
    return {"ok": True, "schema": got["schema"], "rows": got["rows"], "version": got["version"]}
