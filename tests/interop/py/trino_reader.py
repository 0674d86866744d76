"""Reading Delta tables with Trino 476 (the engine behind Athena): a fourth reader of
our tables, with its own Delta Lake connector (Java, independent of delta-rs, Spark
and delta-kernel-rs). One single-node Trino server for the worker's life: started on
the first request that needs it (or by `start_trino`), stopped on exit.

Where Trino comes from, once per machine:
  - the server tarball io.trino:trino-server:476 (tar.gz, ~820 MB) is fetched from
    Maven Central by Maven itself (`mvn dependency:get`), into Maven's local
    repository (~/.m2/repository, or DS_TRINO_M2_REPO), which Maven fills atomically
    and never downloads twice;
  - it is checked against the SHA-256 pinned below and unpacked once into
    ${DS_TRINO_CACHE:-${XDG_CACHE_HOME:-~/.cache}/data-subscriber}/trino-server-476
    (unpacked beside it under a temporary name, then renamed: a half-unpacked
    server is never taken for a whole one, and two workers unpacking at once agree).
    A server already there is used as is: no Maven, no network.
Trino 476 needs Java 24 or newer: DS_TRINO_JAVA_HOME, else the first JDK >= 24 in
/usr/lib/jvm (the machine's Temurin 25), else JAVA_HOME if it is new enough.

Each worker's server has its own temporary folder (etc/, data/, the file metastore,
the log): one catalog `delta` (the delta_lake connector, a file metastore, the native
local file system rooted at /, register_table enabled), on a free loopback port,
the JVM's output in server.log (its tail is in the error when the server does not
come up). The JVM gets SIGTERM when the worker dies (setpriv --pdeathsig, where the
machine has it), so a killed worker leaves no server behind.

A `read` registers the table's folder under a fresh name (CALL
delta.system.register_table; the table's files are not touched: the metastore keeps
only the name and the location), queries it over Trino's REST protocol (POST
/v1/statement, following nextUri; plain urllib, no client library), and unregisters
it. Values come back as Trino's JSON encodes them and are decoded by their Trino
type into what the wire form knows (worker_common.py): timestamp text into
datetimes, decimals into Decimal, varbinary from base64, rows (positional arrays)
into objects by field name, maps into (key, value) pairs.

Trino's own limits, seen in its Delta Lake connector (476):
  - a Delta `timestamp` is read as timestamp(3) with time zone: values are rounded
    (half up) to the millisecond, so microseconds cannot be compared (timestamp_ntz
    is timestamp(6), exact);
  - column and field names come back in lower case (Trino folds identifiers: a
    column `camelCase` is `camelcase`), so a table with upper-case names is not
    compared as it is;
  - local tables only here (the S3 table is checked by delta-rs).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timezone
from decimal import Decimal

from worker_common import is_s3, local_abs, log, sql_literal, to_wire

TRINO_VERSION = "476"
# sha256 of io.trino:trino-server:476:tar.gz as published on Maven Central
TARBALL_SHA256 = "cfd5accde17e8ebd251eeeb78aed1f490e77bb3a164d95a0f454bf8a7c1cbd3f"
_ARTIFACT = f"io.trino:trino-server:{TRINO_VERSION}:tar.gz"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_MIN_JAVA = 24
_HEAP = "2G"
_START_TIMEOUT_S = 300  # a start takes ~10-25 s here (2 cores, often busy)

_server: "_Server | None" = None
_names = itertools.count(1)


# --- install: the tarball (Maven) and the unpacked server (our cache) ------------------

def cache_dir() -> str:
    if os.environ.get("DS_TRINO_CACHE"):
        return os.path.abspath(os.environ["DS_TRINO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "data-subscriber")


def _m2_repo() -> str:
    return os.path.abspath(os.environ.get("DS_TRINO_M2_REPO") or os.path.join(os.path.expanduser("~"), ".m2", "repository"))


def _tarball_path() -> str:
    return os.path.join(_m2_repo(), "io", "trino", "trino-server", TRINO_VERSION, f"trino-server-{TRINO_VERSION}.tar.gz")


def _fetch_tarball(timings: dict) -> str:
    """The server tarball in Maven's local repository, fetched by Maven if not there yet."""
    path = _tarball_path()
    if os.path.isfile(path):
        return path
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError(f"Trino {TRINO_VERSION} is not in {cache_dir()} and Maven (mvn) is not on PATH to fetch {_ARTIFACT}")
    cmd = [mvn, "-B", "-q", "-C", f"-Dmaven.repo.local={_m2_repo()}", f"{_DEPENDENCY_PLUGIN}:get",
           f"-Dartifact={_ARTIFACT}", "-Dtransitive=false"]
    log(f"fetching {_ARTIFACT} with Maven into {_m2_repo()} ...")
    t0 = time.time()
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timings["downloadMs"] = round((time.time() - t0) * 1000)
    if res.returncode != 0 or not os.path.isfile(path):
        raise RuntimeError(f"mvn could not fetch {_ARTIFACT} (exit {res.returncode}): {res.stdout[-2000:]}")
    log(f"fetched {os.path.getsize(path)} bytes in {timings['downloadMs']} ms")
    return path


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def install(timings: dict | None = None) -> str:
    """The unpacked Trino server (its folder, holding lib/ and plugin/), fetched and
    unpacked on first use."""
    timings = timings if timings is not None else {}
    home = os.path.join(cache_dir(), f"trino-server-{TRINO_VERSION}")
    if os.path.isdir(os.path.join(home, "lib")):
        return home
    tarball = _fetch_tarball(timings)
    t0 = time.time()
    digest = _sha256(tarball)
    if digest != TARBALL_SHA256:
        raise RuntimeError(f"{tarball} has sha256 {digest}, not {TARBALL_SHA256}: delete it and run again")
    os.makedirs(cache_dir(), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".trino-server-{TRINO_VERSION}.", dir=cache_dir())
    try:
        with tarfile.open(tarball, "r:gz") as tf:
            tf.extractall(tmp, filter="data")
        unpacked = os.path.join(tmp, f"trino-server-{TRINO_VERSION}")
        if not os.path.isdir(os.path.join(unpacked, "lib")):
            raise RuntimeError(f"{tarball} has no trino-server-{TRINO_VERSION}/lib")
        try:
            os.rename(unpacked, home)
        except OSError:
            if not os.path.isdir(os.path.join(home, "lib")):  # not another worker's finished unpack
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    timings["unpackMs"] = round((time.time() - t0) * 1000)
    log(f"unpacked Trino {TRINO_VERSION} into {home} in {timings['unpackMs']} ms")
    return home


def _java_major(java_home: str) -> int | None:
    try:
        with open(os.path.join(java_home, "release"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("JAVA_VERSION="):
                    v = line.split("=", 1)[1].strip().strip('"')
                    return int(v.split(".")[0].split("-")[0].split("+")[0])
    except (OSError, ValueError):
        return None
    return None


def java_home() -> str:
    """A JDK that runs Trino (Java >= 24)."""
    if os.environ.get("DS_TRINO_JAVA_HOME"):
        return os.environ["DS_TRINO_JAVA_HOME"]
    candidates = []
    if os.path.isdir("/usr/lib/jvm"):
        candidates += sorted((os.path.join("/usr/lib/jvm", d) for d in os.listdir("/usr/lib/jvm")),
                             key=lambda p: ("temurin" not in p, p))
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.environ["JAVA_HOME"])
    for c in candidates:
        major = _java_major(c)
        if major is not None and major >= _MIN_JAVA and os.access(os.path.join(c, "bin", "java"), os.X_OK):
            return c
    raise RuntimeError(f"Trino {TRINO_VERSION} needs Java {_MIN_JAVA}+: none in /usr/lib/jvm or JAVA_HOME; set DS_TRINO_JAVA_HOME")


# --- the server -------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


class _NoNodes(RuntimeError):
    pass


class _Server:
    def __init__(self, home: str, timings: dict):
        self.home = home
        self.timings = timings
        self.java_home = java_home()
        self.tmp = tempfile.mkdtemp(prefix="delta_worker_trino_")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.tmp, "server.log")
        etc, data, meta, plugins = (os.path.join(self.tmp, d) for d in ("etc", "data", "metastore", "plugin"))
        for d in (os.path.join(etc, "catalog"), data, meta, plugins):
            os.makedirs(d)
        # only the Delta Lake plugin is loaded: the other ~55 add 1-3 s to every start here
        os.symlink(os.path.join(home, "plugin", "delta-lake"), os.path.join(plugins, "delta-lake"))
        node = ["node.environment=test", f"node.id=delta-worker-{os.getpid()}", f"node.data-dir={data}",
                "node.internal-address=127.0.0.1", "node.bind-ip=127.0.0.1"]  # loopback only
        _write(os.path.join(etc, "node.properties"), node)
        jvm = [  # the flags of Trino's own image, with a small heap
            "-server", f"-Xmx{_HEAP}", "-XX:G1HeapRegionSize=32M", "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError", "-XX:-OmitStackTraceInFastThrow", "-XX:ReservedCodeCacheSize=256M",
            "-XX:PerMethodRecompilationCutoff=10000", "-XX:PerBytecodeRecompilationCutoff=10000",
            "-Djdk.attach.allowAttachSelf=true", "-Djdk.nio.maxCachedBufferSize=2000000", "-Dfile.encoding=UTF-8",
            "-XX:+EnableDynamicAgentLoading", "-XX:+UnlockDiagnosticVMOptions", "-XX:G1NumCollectionsKeepPinned=10000000",
            "--enable-native-access=ALL-UNNAMED", "-Duser.timezone=UTC",
            # a test server lives for a few minutes of small queries: C1 alone starts it ~15%
            # sooner and runs the suite's reads ~25% faster than tiered C2 on two cores
            "-XX:TieredStopAtLevel=1",
        ]
        _write(os.path.join(etc, "jvm.config"), jvm)  # for reading; the command below passes them
        _write(os.path.join(etc, "config.properties"), [
            "coordinator=true", "node-scheduler.include-coordinator=true",
            f"http-server.http.port={self.port}", f"discovery.uri={self.url}",
            "http-server.log.enabled=false", f"catalog.config-dir={os.path.join(etc, 'catalog')}",
            f"plugin.dir={plugins}", "query.max-memory=1GB", "query.max-memory-per-node=1GB",
        ])
        _write(os.path.join(etc, "log.properties"), ["io.trino=WARN", "io.airlift=WARN"])
        _write(os.path.join(etc, "catalog", "delta.properties"), [
            "connector.name=delta_lake",
            "hive.metastore=file",
            f"hive.metastore.catalog.dir=local://{meta}",
            "fs.native-local.enabled=true",
            # local://<absolute path> is that path: the tables live wherever the tests put them
            "local.location=/",
            "delta.register-table-procedure.enabled=true",
            # every read sees the table as it is now, never a cached older version of its metadata
            "delta.metadata.cache-ttl=0s",
        ])
        java = os.path.join(self.java_home, "bin", "java")
        # what bin/launcher run does, without its per-platform binary
        cmd = [java, "-cp", os.path.join(home, "lib", "*"), *jvm, f"-Dconfig={os.path.join(etc, 'config.properties')}",
               f"-Dlog.levels-file={os.path.join(etc, 'log.properties')}", *(f"-D{p}" for p in node), "io.trino.server.TrinoServer"]
        setpriv = shutil.which("setpriv")
        if setpriv and subprocess.run([setpriv, "--help"], capture_output=True, text=True).stdout.find("--pdeathsig") >= 0:
            cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
        self.t0 = time.time()
        self.log_file = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(cmd, cwd=data, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                         stderr=subprocess.STDOUT, env={**os.environ, "JAVA_HOME": self.java_home})
        except BaseException:
            self.log_file.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.ready = False
        log(f"starting Trino {TRINO_VERSION} (pid {self.proc.pid}, port {self.port}, {self.java_home}) ...")

    def log_tail(self, n: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_ready(self) -> None:
        if self.ready:
            return
        deadline = self.t0 + _START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Trino exited with {self.proc.returncode} while starting; server.log tail:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/info", timeout=5) as r:
                    if json.load(r).get("starting") is False:
                        break
            except (OSError, ValueError):
                pass
            if time.time() > deadline:
                raise RuntimeError(f"Trino did not start in {_START_TIMEOUT_S} s; server.log tail:\n{self.log_tail()}")
            time.sleep(0.2)
        self.query("SELECT 1")
        self.timings["startMs"] = round((time.time() - self.t0) * 1000)
        self.ready = True
        self.query("CREATE SCHEMA IF NOT EXISTS delta.s")
        log(f"Trino ready in {self.timings['startMs']} ms")

    def query(self, sql: str) -> tuple[list, list]:
        """(columns, rows) of `sql`, over the REST protocol. /v1/info says "started" a
        little before the server schedules table scans on itself: for the first seconds a
        query that reads a table can fail with NO_NODES_AVAILABLE (seen here), and is
        sent again."""
        deadline = time.time() + 60
        while True:
            try:
                return self._query(sql)
            except _NoNodes:
                if time.time() > deadline:
                    raise
                log("Trino has no worker node yet (NO_NODES_AVAILABLE): sending the query again in 0.5 s")
                time.sleep(0.5)

    def _query(self, sql: str) -> tuple[list, list]:
        headers = {
            "X-Trino-User": "delta_worker", "X-Trino-Catalog": "delta", "X-Trino-Schema": "s",
            "X-Trino-Time-Zone": "UTC",
            # without it Trino rounds every timestamp to milliseconds for old clients
            "X-Trino-Client-Capabilities": "PARAMETRIC_DATETIME",
        }
        req = urllib.request.Request(f"{self.url}/v1/statement", data=sql.encode("utf-8"), headers=headers, method="POST")
        res = self._get(req)
        columns: list | None = None
        rows: list = []
        while True:
            if res.get("error"):
                e = res["error"]
                if e.get("errorName") == "NO_NODES_AVAILABLE":
                    raise _NoNodes(e.get("message"))
                raise RuntimeError(f"Trino {e.get('errorName')}: {e.get('message')} (query: {sql[:500]})")
            if columns is None and res.get("columns") is not None:
                columns = res["columns"]
            rows.extend(res.get("data") or [])
            nxt = res.get("nextUri")
            if not nxt:
                break
            res = self._get(urllib.request.Request(nxt, headers={"X-Trino-User": "delta_worker"}))
        return columns or [], rows

    @staticmethod
    def _get(req: urllib.request.Request) -> dict:
        for attempt in range(50):
            try:
                with urllib.request.urlopen(req, timeout=300) as r:
                    return json.load(r)
            except urllib.error.HTTPError as e:
                if e.code in (502, 503, 504) and attempt < 49:  # the protocol's "try again"
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _launched() -> _Server:
    """The worker's server, installed and its JVM launched on first use."""
    global _server
    if _server is None:
        timings: dict = {}
        home = install(timings)
        _server = _Server(home, timings)
    return _server


def server() -> _Server:
    """The worker's server, once it serves."""
    srv = _launched()
    srv.wait_ready()
    return srv


def start(req: dict) -> dict:
    """The `start_trino` request: installs and starts the server now. With "wait": false
    it returns once the JVM is launched (install included), so the worker can start
    Spark while Trino starts; the next Trino request waits for it."""
    srv = _launched()
    if req.get("wait", True):
        srv.wait_ready()
    return {"ok": True, **srv.timings, "version": TRINO_VERSION}


def stop() -> None:
    global _server
    if _server is not None:
        try:
            _server.stop()
        except Exception:
            pass
        _server = None


# --- Trino's types and values -----------------------------------------------------------

def _args(sig: dict) -> list:
    return sig.get("arguments") or []


def delta_type(sig: dict) -> object:
    """The Delta schema JSON of a Trino type signature (every field reported nullable:
    Trino's columns carry no nullability)."""
    raw = sig["rawType"]
    simple = {"bigint": "long", "integer": "integer", "smallint": "short", "tinyint": "byte", "real": "float",
              "double": "double", "boolean": "boolean", "varchar": "string", "varbinary": "binary", "date": "date",
              "timestamp with time zone": "timestamp", "timestamp": "timestamp_ntz"}
    if raw in simple:
        return simple[raw]
    a = _args(sig)
    if raw == "decimal":
        return f"decimal({a[0]['value']},{a[1]['value']})"
    if raw == "array":
        return {"type": "array", "elementType": delta_type(a[0]["value"]), "containsNull": True}
    if raw == "map":
        return {"type": "map", "keyType": delta_type(a[0]["value"]), "valueType": delta_type(a[1]["value"]),
                "valueContainsNull": True}
    if raw == "row":
        return {"type": "struct", "fields": [
            {"name": f["value"]["fieldName"]["name"], "type": delta_type(f["value"]["typeSignature"]), "nullable": True, "metadata": {}}
            for f in a]}
    raise TypeError(f"no Delta type for Trino type {raw}")


_FLOAT_WORDS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _timestamp(text: str, with_zone: bool) -> datetime:
    """Trino's timestamp text ("2024-01-02 03:04:05.123456", "... UTC" with a zone)."""
    if with_zone:
        body, _, zone = text.rpartition(" ")
        if zone != "UTC":  # the session's zone is UTC (X-Trino-Time-Zone)
            raise ValueError(f"timestamp with a zone other than UTC: {text!r}")
        return datetime.fromisoformat(body).replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(text)


def value(v: object, sig: dict) -> object:
    """A value as Trino's JSON gives it, decoded by its type into what to_wire knows."""
    if v is None:
        return None
    raw = sig["rawType"]
    if raw in ("bigint", "integer", "smallint", "tinyint", "boolean", "varchar"):
        return v
    if raw in ("real", "double"):
        return _FLOAT_WORDS[v] if isinstance(v, str) else float(v)
    if raw == "decimal":
        return Decimal(v)
    if raw == "date":
        return date.fromisoformat(v)
    if raw in ("timestamp", "timestamp with time zone"):
        return _timestamp(v, raw != "timestamp")
    if raw == "varbinary":
        return base64.b64decode(v)
    a = _args(sig)
    if raw == "array":
        return [value(x, a[0]["value"]) for x in v]
    if raw == "map":  # a JSON object: keys are text, decoded by the key type
        key_sig = a[0]["value"]
        textual = key_sig["rawType"] not in ("bigint", "integer", "smallint", "tinyint", "real", "double", "boolean")
        return [(value(k if textual else json.loads(k), key_sig), value(x, a[1]["value"])) for k, x in v.items()]
    if raw == "row":  # positional
        return {f["value"]["fieldName"]["name"]: value(x, f["value"]["typeSignature"]) for f, x in zip(a, v)}
    raise TypeError(f"no wire form for Trino type {raw}")


# --- the read ---------------------------------------------------------------------------

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _listing(path: str) -> set[str]:
    return {os.path.relpath(os.path.join(r, f), path) for r, _d, fs in os.walk(path) for f in fs}


def read(req: dict) -> dict:
    """The `read` request with engine "trino": the table registered under a fresh name,
    `SELECT *` [WHERE filter] [FOR VERSION AS OF v], COUNT(*) and the files that hold
    rows ("$path"), the version from "$history", then unregistered."""
    path = req["path"]
    if is_s3(path):
        raise ValueError("engine trino reads local tables only")
    for unsupported in ("filters", "reader", "storage"):
        if req.get(unsupported) is not None:
            raise ValueError(f"engine trino does not take {unsupported!r}")
    path = local_abs(path)
    srv = server()
    before = _listing(path)
    name = f"t{next(_names)}"
    srv.query(f"CALL delta.system.register_table(schema_name => 's', table_name => {sql_literal(name)}, "
              f"table_location => {sql_literal('local://' + path)})")
    try:
        table = _ident(name)
        at = f" FOR VERSION AS OF {int(req['version'])}" if req.get("version") is not None else ""
        where = f" WHERE {req['filter']}" if req.get("filter") else ""
        limit = "" if req.get("rows", True) else " LIMIT 0"
        columns, data = srv.query(f"SELECT * FROM {table}{at}{where}{limit}")
        sigs = [c["typeSignature"] for c in columns]
        out: dict = {"ok": True, "schema": {"type": "struct", "fields": [
            {"name": c["name"], "type": delta_type(s), "nullable": True, "metadata": {}} for c, s in zip(columns, sigs)]}}
        if req.get("rows", True):
            out["rows"] = [{c["name"]: to_wire(value(x, s)) for c, s, x in zip(columns, sigs, row)} for row in data]
        _, counts = srv.query(f'SELECT COUNT(*), COUNT(DISTINCT "$path") FROM {table}{at}')
        out["count"], out["numFiles"] = int(counts[0][0]), int(counts[0][1])  # numFiles: files with a live row
        out["statsCount"] = None  # Trino does not show the files' numRecords
        if req.get("version") is not None:
            out["version"] = int(req["version"])
        else:
            _, hist = srv.query(f'SELECT max(version) FROM {_ident(name + "$history")}')
            out["version"] = int(hist[0][0])
    finally:
        srv.query(f"CALL delta.system.unregister_table(schema_name => 's', table_name => {sql_literal(name)})")
    added = _listing(path) - before
    if added:  # a judge must not change what it judges
        raise AssertionError(f"Trino left files in {path}: {sorted(added)}")
    return out
