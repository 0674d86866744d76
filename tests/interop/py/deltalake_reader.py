"""Reading Delta tables with delta-rs (the `deltalake` package): rows through its
DataFusion engine or through pyarrow, counts, file statistics, and SQL."""
from __future__ import annotations

import json

from worker_common import arrow_rows, is_s3, local_abs


def table(path: str, storage: dict | None, version: int | None = None):
    from deltalake import DeltaTable
    return DeltaTable(path if is_s3(path) else local_abs(path), version=version,
                      storage_options=storage or None)


def _to_pa(obj):
    import pyarrow as pa
    if isinstance(obj, pa.Table):
        return obj
    return pa.table(obj)


def read(req: dict) -> dict:
    """The `read` request with engine "deltalake"."""
    from deltalake import QueryBuilder
    dt = table(req["path"], req.get("storage"), req.get("version"))
    out: dict = {"ok": True, "schema": json.loads(dt.schema().to_json())}
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
        out["rows"] = arrow_rows(tbl)
    out["count"] = int(query("SELECT COUNT(*) AS n FROM t").column(0)[0].as_py())
    adds = _to_pa(dt.get_add_actions(flatten=True))
    out["numFiles"] = adds.num_rows
    nr = adds.column("num_records").to_pylist() if "num_records" in adds.column_names else []
    out["statsCount"] = sum(nr) if nr and all(x is not None for x in nr) else (0 if adds.num_rows == 0 else None)
    out["version"] = dt.version()
    return out


def sql(req: dict) -> dict:
    """The `sql` request with engine "deltalake": DataFusion SQL over `tables`
    (name -> path); rows in query order, with the result's schema as Delta JSON."""
    from deltalake import QueryBuilder, Schema
    qb = QueryBuilder()
    for name, path in (req.get("tables") or {}).items():
        qb.register(name, table(path, req.get("storage")))
    tbl = _to_pa(qb.execute(req["sql"]).read_all())
    return {"ok": True, "schema": json.loads(Schema.from_arrow(tbl.schema).to_json()), "rows": arrow_rows(tbl)}
