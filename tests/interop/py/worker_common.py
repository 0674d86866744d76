"""What the Delta worker's modules share: logging, the wire form of values, and
where a table lives (a local folder, or an S3 prefix mirrored with boto3).

The wire form is how the worker writes a value it read so that JSON can carry it,
with no knowledge of Delta types and no normalisation: the TypeScript side
(tests/helpers/canonical_rows.ts) turns it into the canonical form, by the table's
schema, in the one place that defines that form.

  None -> null; bool -> true/false; str -> string
  int -> JSON integer, all its digits
  float -> JSON number (Python's shortest repr, which reads back as the same
           double); NaN, +inf, -inf -> "NaN", "Infinity", "-Infinity"
  Decimal -> string in plain notation, as stored ("12.30", "-0.00")
  datetime -> ISO 8601 text from isoformat(): "YYYY-MM-DDTHH:MM:SS[.ffffff]",
              then "+HH:MM" when the value has a time zone (naive values:
              timestamp_ntz, or Spark's collect() in the UTC session)
  date -> "YYYY-MM-DD"
  bytes -> base64 (standard alphabet, padded)
  dict (an Arrow struct) or pyspark Row -> object
  list, or tuple (an Arrow map is a list of (key, value) tuples) -> array
"""
from __future__ import annotations

import base64
import math
import os
import sys
from datetime import date, datetime
from decimal import Decimal


def log(*a: object) -> None:
    print("[delta_worker]", *a, file=sys.stderr, flush=True)


# --- the wire form of values ---------------------------------------------------

def to_wire(v: object) -> object:
    """`v` (a value as pyarrow's to_pylist or pyspark's collect gives it) in the
    wire form described above."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, datetime):  # before date: a datetime is a date
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, dict):
        return {str(k): to_wire(x) for k, x in v.items()}
    if hasattr(v, "asDict"):  # pyspark Row (a struct)
        return {k: to_wire(x) for k, x in v.asDict(recursive=False).items()}  # type: ignore[union-attr]
    if isinstance(v, (list, tuple)):
        return [to_wire(x) for x in v]
    raise TypeError(f"no wire form for a value of type {type(v).__name__}")


def arrow_rows(tbl) -> list:
    """The rows of a pyarrow Table in the wire form, in table order."""
    return [to_wire(r) for r in tbl.to_pylist()]


# --- where a table lives -------------------------------------------------------

def is_s3(path: str) -> bool:
    return path.startswith("s3://") or path.startswith("s3a://")


def local_abs(path: str) -> str:
    if path.startswith("file://"):
        path = path[len("file://"):]
    return os.path.abspath(path)


def ensure_absent(path: str) -> None:
    if not is_s3(path) and os.path.exists(local_abs(path)) and os.listdir(local_abs(path)):
        raise FileExistsError(f"refusing to write a reference table into non-empty {path}")


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
    """Copies every object under the s3:// table `path` into the folder `dest`."""
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
    """Copies the folder `src` to the s3:// table `path` (without Hadoop's .crc files)."""
    bucket, prefix = _split_s3(path)
    c = s3_client(storage)
    for root, _dirs, files in os.walk(src):
        for f in files:
            if f.startswith(".") and f.endswith(".crc"):  # Hadoop checksum files
                continue
            local = os.path.join(root, f)
            rel = os.path.relpath(local, src).replace(os.sep, "/")
            c.upload_file(local, bucket, f"{prefix}/{rel}" if prefix else rel)


def sql_literal(s: str) -> str:
    """A SQL string literal: quoted, its quotes doubled."""
    return "'" + s.replace("'", "''") + "'"
