"""Reading Delta tables with DuckDB's delta extension (`delta_scan`, built on
delta-kernel-rs): a third reader of our tables, independent of delta-rs' and
Spark's Delta code, with one connection for the worker's life (opened on the
first request that needs it, closed on exit).

The extension comes from PyPI as the `duckdb-ext-delta` wheel (DuckDB cannot
download extensions here); its binary must be built for exactly the installed
DuckDB, so tests/interop/requirements.txt pins the two together.

Local tables only: delta_scan reads s3:// through DuckDB's httpfs extension and
a secret, neither of which is set up here (the S3 table is checked by delta-rs).
"""
from __future__ import annotations

from worker_common import arrow_rows, is_s3, local_abs, log, sql_literal

_con = None
# delta_list_files' `cardinality` (a UBIGINT) when the kernel has no numRecords for a file
_UNKNOWN_CARDINALITY = 2**64 - 1


def _extension_path() -> str:
    """The delta.duckdb_extension file the duckdb-ext-delta wheel installed."""
    from importlib.metadata import PackageNotFoundError, distribution
    try:
        dist = distribution("duckdb-ext-delta")
    except PackageNotFoundError as e:
        raise RuntimeError("duckdb-ext-delta is not installed: pip install -r tests/interop/requirements.txt") from e
    files = [f for f in dist.files or [] if f.name == "delta.duckdb_extension"]
    if len(files) != 1:
        raise RuntimeError(f"duckdb-ext-delta ships {len(files)} delta.duckdb_extension files, expected 1")
    return str(files[0].locate())


def connection():
    """The DuckDB connection, with the delta extension loaded and the session in UTC."""
    global _con
    if _con is not None:
        return _con
    import duckdb
    con = duckdb.connect(config={
        # never reach for the network: the extension is loaded from the wheel, by path
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    })
    path = _extension_path()
    try:
        con.execute(f"LOAD {sql_literal(path)}")  # the wheel's binary is signed: no allow_unsigned_extensions
    except Exception as e:
        con.close()
        raise RuntimeError(f"DuckDB {duckdb.__version__} cannot load {path} (the wheel must be built for this DuckDB): {e}") from e
    # TIMESTAMP literals in filters (and timestamptz values) are read in UTC, as Spark's session is
    con.execute("SET TimeZone = 'UTC'")
    _con = con
    log(f"DuckDB {duckdb.__version__} ready with the delta extension from {path}")
    return con


def close() -> None:
    global _con
    if _con is not None:
        try:
            _con.close()
        except Exception:
            pass
        _con = None


# DuckDB's type (as delta_scan maps the table's Delta type) -> the Delta type name
_PRIMITIVES = {
    "varchar": "string", "bigint": "long", "integer": "integer", "smallint": "short", "tinyint": "byte",
    "double": "double", "float": "float", "boolean": "boolean", "date": "date", "blob": "binary",
    "timestamp with time zone": "timestamp", "timestamp": "timestamp_ntz",
}


def delta_type(t) -> object:
    """The Delta schema JSON of a DuckDBPyType. DuckDB has no nullability in its
    types: every field and element is reported nullable."""
    tid = t.id
    if tid in _PRIMITIVES:
        return _PRIMITIVES[tid]
    children = dict(t.children) if tid in ("decimal", "list", "map") else None
    if tid == "decimal":
        return f"decimal({children['precision']},{children['scale']})"
    if tid == "list":
        return {"type": "array", "elementType": delta_type(children["child"]), "containsNull": True}
    if tid == "map":
        return {"type": "map", "keyType": delta_type(children["key"]), "valueType": delta_type(children["value"]),
                "valueContainsNull": True}
    if tid == "struct":
        return {"type": "struct", "fields": [{"name": n, "type": delta_type(ct), "nullable": True, "metadata": {}}
                                             for n, ct in t.children]}
    raise TypeError(f"no Delta type for DuckDB type {t}")


def read(req: dict) -> dict:
    """The `read` request with engine "duckdb": `SELECT * FROM delta_scan(path)`
    [WHERE filter]; count is DuckDB's COUNT(*), numFiles and statsCount come from
    delta_list_files (the kernel's scan: its files and their numRecords)."""
    path = req["path"]
    if is_s3(path):
        raise ValueError("engine duckdb reads local tables only")
    for unsupported in ("version", "filters", "reader", "storage"):
        if req.get(unsupported) is not None:
            raise ValueError(f"engine duckdb does not take {unsupported!r}")
    con = connection()
    scan = f"delta_scan({sql_literal(local_abs(path))})"
    rel = con.sql(f"SELECT * FROM {scan}")
    schema = {"type": "struct", "fields": [{"name": n, "type": delta_type(t), "nullable": True, "metadata": {}}
                                           for n, t in zip(rel.columns, rel.types)]}
    out: dict = {"ok": True, "schema": schema}
    if req.get("rows", True):
        where = f" WHERE {req['filter']}" if req.get("filter") else ""
        # through Arrow, as the other readers: to_pylist gives the values the wire form knows
        out["rows"] = arrow_rows(con.execute(f"SELECT * FROM {scan}{where}").fetch_arrow_table())
    out["count"] = int(con.execute(f"SELECT COUNT(*) FROM {scan}").fetchone()[0])
    files = con.execute(f"SELECT cardinality FROM delta_list_files({sql_literal(local_abs(path))})").fetchall()
    out["numFiles"] = len(files)
    known = [c for (c,) in files if c is not None and c != _UNKNOWN_CARDINALITY]
    out["statsCount"] = sum(known) if len(known) == len(files) else None
    out["version"] = None  # delta_scan does not report the version it read
    return out
