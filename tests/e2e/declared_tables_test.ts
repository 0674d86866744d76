/**
 * End to end, the declared domain: `data-subscriber run --tables <file>` lands a JSON stream
 * (not order events) in the tables a file declares: nested paths, a quoted odd key, an
 * exploded array, a partition column, a timestamp format, epoch millis, decimals, a struct
 * and an array passed through, required fields, and a table at an absolute s3:// location.
 * On kinesis-local and moto S3, through the binary (DS_BIN) or src/main.ts.
 *
 * The expected rows are computed here from the events alone (an oracle that shares no code
 * with the domain); delta-rs and Spark read the tables. The binary is killed with SIGKILL
 * at every fault point of a batch, then restarted: every record still lands exactly once.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { FAULT_POINTS } from "../../src/engine/fault_point.ts";
import { seededRandom } from "../../src/util/seeded_random.ts";
import { type CanonicalRow, canonicalRows, type DeltaStructType } from "../helpers/canonical_rows.ts";
import { runCli } from "../helpers/cli.ts";
import { cliEnv, enc, putAll, startWorld, storageOptions, type World } from "../helpers/e2e_env.ts";

// ------------------------------------------------------------------ the tables file

/** The tables file, in TOML; `lines` lives at an absolute location in `bucket`. */
function tablesToml(bucket: string): string {
  return `
quarantine = "lake/quarantine"

[tables.visits]
location = "lake/visits"
partition_by = ["visit_day"]

[tables.visits.columns]
event_id   = { path = "$.event_id", type = "string", required = true }
visited_at = { path = "$.meta.ts", type = "timestamp", format = "%d/%m/%Y %H:%M:%S", required = true }
visit_day  = { path = "$.meta.ts", type = "date", format = "%d/%m/%Y %H:%M:%S", required = true }
user_id    = { path = "$.user.id", type = "long", required = true }
referrer   = { path = "$.page['referrer url']", type = "string" }
amount     = { path = "$.order.total", type = "decimal(12,2)" }
screen     = { path = "$.device.screen", type = "struct<w:integer, h:integer>" }
tags       = { path = "$.tags", type = "array<string>" }
first_tag  = { path = "$.tags[0]", type = "string" }
score      = { path = "$.score", type = "double" }

[tables.lines]
location = "s3://${bucket}/elsewhere/lines"

[tables.lines.columns]
event_id = { path = "$.event_id", type = "string", required = true }
user_id  = { path = "$.user.id", type = "long", required = true }
sku      = { path = "$.order.lines[*].sku", type = "string", required = true }
qty      = { path = "$.order.lines[*].qty", type = "integer", required = true }
price    = { path = "$.order.lines[*]['unit price']", type = "decimal(10,2)" }
added_at = { path = "$.order.lines[*].added", type = "timestamp", format = "epoch_millis" }
`;
}

/** The same tables in YAML (the crash runs use it: the parser is chosen by the extension). */
function tablesYaml(bucket: string): string {
  return `
quarantine: lake/quarantine
tables:
  visits:
    location: lake/visits
    partition_by: [visit_day]
    columns:
      event_id:   { path: $.event_id, type: string, required: true }
      visited_at: { path: $.meta.ts, type: timestamp, format: "%d/%m/%Y %H:%M:%S", required: true }
      visit_day:  { path: $.meta.ts, type: date, format: "%d/%m/%Y %H:%M:%S", required: true }
      user_id:    { path: $.user.id, type: long, required: true }
      referrer:   { path: "$.page['referrer url']", type: string }
      amount:     { path: $.order.total, type: "decimal(12,2)" }
      screen:     { path: $.device.screen, type: "struct<w:integer, h:integer>" }
      tags:       { path: $.tags, type: "array<string>" }
      first_tag:  { path: "$.tags[0]", type: string }
      score:      { path: $.score, type: double }
  lines:
    location: s3://${bucket}/elsewhere/lines
    columns:
      event_id: { path: $.event_id, type: string, required: true }
      user_id:  { path: $.user.id, type: long, required: true }
      sku:      { path: "$.order.lines[*].sku", type: string, required: true }
      qty:      { path: "$.order.lines[*].qty", type: integer, required: true }
      price:    { path: "$.order.lines[*]['unit price']", type: "decimal(10,2)" }
      added_at: { path: "$.order.lines[*].added", type: timestamp, format: epoch_millis }
`;
}

/** The schemas the tables must have, written out here rather than taken from the domain. */
const f = (name: string, type: DeltaStructType["fields"][number]["type"]) => ({ name, type, nullable: true, metadata: {} });
const VISITS: DeltaStructType = {
  type: "struct",
  fields: [
    f("event_id", "string"), f("visited_at", "timestamp"), f("visit_day", "date"), f("user_id", "long"), f("referrer", "string"),
    f("amount", "decimal(12,2)"), f("screen", { type: "struct", fields: [f("w", "integer"), f("h", "integer")] }),
    f("tags", { type: "array", elementType: "string", containsNull: true }), f("first_tag", "string"), f("score", "double"),
  ],
};
const LINES: DeltaStructType = {
  type: "struct",
  fields: [f("event_id", "string"), f("user_id", "long"), f("sku", "string"), f("qty", "integer"), f("price", "decimal(10,2)"), f("added_at", "timestamp")],
};

// ------------------------------------------------------------------ the events and the oracle

interface Line { sku: string; qty: number; priceCents: number | null; addedMs: number | null }
interface Visit {
  id: string;
  ms: number;
  /** The user id's digits (some beyond 2^53, written into the JSON as they are). */
  user: string;
  referrer: string | null | undefined;
  totalCents: number | null;
  lines: Line[] | null;
  screen: { w: number; h: number } | null;
  tags: string[] | null;
  score: number;
}

const pad = (n: number) => String(n).padStart(2, "0");
/** `dd/mm/yyyy HH:MM:SS`, the format the file declares. */
const dmy = (ms: number) => {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};
const cents = (c: number) => `${c < 0 ? "-" : ""}${Math.floor(Math.abs(c) / 100)}.${pad(Math.abs(c) % 100)}`;

/** `count` events from a seed, over about three days from 2025-03-01 22:00 UTC. */
function makeVisits(count: number, seed: number): Visit[] {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: count }, (_, i): Visit => {
    const hasOrder = r() < 0.35;
    const lines = !hasOrder || r() < 0.15 ? null : Array.from({ length: Math.floor(r() * 4) }, (): Line => ({
      sku: `sku-${Math.floor(r() * 50)}`,
      qty: 1 + Math.floor(r() * 5),
      priceCents: r() < 0.1 ? null : Math.floor(r() * 100_000),
      addedMs: r() < 0.1 ? null : Date.UTC(2025, 1, 28) + Math.floor(r() * 5 * 86_400_000),
    }));
    return {
      id: `ev-${String(i).padStart(4, "0")}`,
      ms: Date.UTC(2025, 2, 1, 22) + i * 800_000 + Math.floor(r() * 1000) * 1000,
      user: i % 9 === 4 ? String(2n ** 62n + BigInt(i) * 1_000_003n) : String(1 + Math.floor(r() * 1_000_000)),
      referrer: pick([undefined, null, "https://example.org/a?b=c&d", "https://ünïcode.example/ß", "", "direct"]),
      totalCents: hasOrder ? Math.floor(r() * 10_000_000_000) - 1_000 : null,
      lines,
      screen: r() < 0.2 ? null : { w: pick([390, 412, 1920, 2560]), h: pick([844, 915, 1080, 1440]) },
      tags: r() < 0.3 ? null : Array.from({ length: Math.floor(r() * 3) }, () => pick(["new", "promo", "😀", "a b"])),
      score: Math.round(r() * 1e6) / 1e3 - 100,
    };
  });
}

/** An event's JSON text: long user ids written with all their digits. */
function eventText(v: Visit, over: (e: Record<string, unknown>) => void = () => {}): string {
  const e: Record<string, unknown> = {
    event_id: v.id,
    meta: { ts: dmy(v.ms), source: "web" },
    user: { id: "__USER__", name: "x" },
    page: v.referrer === undefined ? { url: "/" } : { url: "/", "referrer url": v.referrer },
    device: v.screen === null ? null : { os: "any", screen: v.screen },
    score: v.score,
  };
  if (v.tags !== null) e.tags = v.tags;
  if (v.totalCents !== null) {
    e.order = {
      total: Number(cents(v.totalCents)),
      ...(v.lines === null ? {} : {
        lines: v.lines.map((l) => ({ sku: l.sku, qty: l.qty, "unit price": l.priceCents === null ? null : cents(l.priceCents), added: l.addedMs, extra: { x: 1 } })),
      }),
    };
  }
  over(e);
  return JSON.stringify(e).replace('"__USER__"', v.user);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The rows the tables must hold, from the events alone. */
function oracle(visits: readonly Visit[]): { visits: Record<string, unknown>[]; lines: Record<string, unknown>[] } {
  return {
    visits: visits.map((v) => ({
      event_id: v.id,
      visited_at: iso(Math.floor(v.ms / 1000) * 1000),
      visit_day: iso(v.ms).slice(0, 10),
      user_id: v.user,
      referrer: v.referrer ?? null,
      amount: v.totalCents === null ? null : cents(v.totalCents),
      screen: v.screen,
      tags: v.tags,
      first_tag: v.tags?.[0] ?? null,
      score: v.score,
    })),
    lines: visits.flatMap((v) => (v.lines ?? []).map((l) => ({
      event_id: v.id,
      user_id: v.user,
      sku: l.sku,
      qty: l.qty,
      price: l.priceCents === null ? null : cents(l.priceCents),
      added_at: l.addedMs === null ? null : iso(l.addedMs),
    }))),
  };
}

/** Records that fit no table, each with the reason it must get. */
function badRecords(v: Visit): { data: Uint8Array; key: string; reason: RegExp }[] {
  const bad = (key: string, text: string, reason: RegExp) => ({ data: enc.encode(text), key, reason });
  const withLines = { ...v, totalCents: 100, lines: [{ sku: "s", qty: 1, priceCents: 1, addedMs: 0 }, { sku: "t", qty: 1, priceCents: 1, addedMs: 0 }] };
  return [
    bad("bad-json", '{"event_id": "ev-cut", "meta": ', /^not JSON \(.+\): expected a JSON object$/),
    bad("bad-missing", eventText(v, (e) => delete (e.user as Record<string, unknown>).id),
      /^visits\.user_id \(\$\.user\.id\): required, but the record has no value there; lines\.user_id \(\$\.user\.id\): required, but the record has no value there$/),
    bad("bad-format", eventText(v, (e) => ((e.meta as Record<string, unknown>).ts = "2025-03-01T10:00:00Z")),
      /^visits\.visited_at \(\$\.meta\.ts\): expected a timestamp in the format '%d\/%m\/%Y %H:%M:%S', got "2025-03-01T10:00:00Z"$/),
    bad("bad-day", eventText(v, (e) => ((e.meta as Record<string, unknown>).ts = "29/02/2025 10:00:00")),
      /^visits\.visited_at \(\$\.meta\.ts\): expected a timestamp in the format '%d\/%m\/%Y %H:%M:%S', got "29\/02\/2025 10:00:00"$/),
    bad("bad-float", eventText(withLines, (e) => (((e.order as { lines: Record<string, unknown>[] }).lines[1]!).qty = 2.5)),
      /^lines\.qty \(\$\.order\.lines\[1\]\.qty\): expected an integer \(a whole number from -2147483648 to 2147483647\), got 2\.5$/),
    bad("bad-string", eventText(v, (e) => (e.score = "high")), /^visits\.score \(\$\.score\): expected a double \(a finite number\), got "high"$/),
    bad("bad-infinity", eventText(v).replace(/"score":[^,}]+/, '"score":1e999'), /^visits\.score \(\$\.score\): expected a double \(a finite number\), got 1e999$/),
    bad("bad-decimal", eventText(withLines).replace(/"total":[^,}]+/, '"total":12345678901.5'),
      /^visits\.amount \(\$\.order\.total\): expected a decimal\(12,2\) \(.*at most 10 digits before the point and 2 after\), got 12345678901\.5$/),
    bad("bad-int-range", eventText(v, (e) => (e.device = { screen: { w: 3_000_000_000, h: 1 } })),
      /^visits\.screen \(\$\.device\.screen\.w\): expected an integer \(a whole number from -2147483648 to 2147483647\), got 3000000000$/),
    bad("bad-long-range", eventText({ ...v, user: "9223372036854775808" }),
      /^visits\.user_id \(\$\.user\.id\): expected a long \(.*\), got 9223372036854775808; lines\.user_id \(\$\.user\.id\): expected a long/),
    bad("bad-explode", eventText(withLines, (e) => ((e.order as Record<string, unknown>).lines = "none")), /^lines explodes \$\.order\.lines: expected an array, got "none"$/),
  ];
}

// ------------------------------------------------------------------ the checks

const byKey = (rows: readonly CanonicalRow[]) => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** delta-rs reads each table; each holds exactly the oracle's rows, and quarantine every bad record once. */
async function assertTables(w: World, bucket: string, expected: ReturnType<typeof oracle>, bad: ReturnType<typeof badRecords>): Promise<void> {
  const read = (p: string) => w.delta.request({ op: "read", engine: "deltalake", path: p, storage: storageOptions(w) });
  const visits = await read(`s3://${bucket}/root/lake/visits`);
  assert.equal(visits.rows.length, expected.visits.length, "every event once in visits");
  assert.deepEqual(byKey(visits.rows), byKey(canonicalRows(expected.visits, VISITS)), "visits hold what the events imply");
  const lines = await read(`s3://${bucket}/elsewhere/lines`);
  assert.equal(lines.rows.length, expected.lines.length, "every order line once in lines");
  assert.deepEqual(byKey(lines.rows), byKey(canonicalRows(expected.lines, LINES)), "lines hold what the events imply");
  const quarantine = await read(`s3://${bucket}/root/lake/quarantine`);
  assert.equal(quarantine.rows.length, bad.length, "every bad record once in quarantine");
  for (const b of bad) {
    const row = quarantine.rows.find((r) => r.partition_key === b.key);
    assert.ok(row, `quarantined ${b.key}`);
    assert.match(String(row.reason), b.reason, `reason of ${b.key}`);
    assert.equal(row.raw_base64, Buffer.from(b.data).toString("base64"), `raw bytes of ${b.key}`);
  }
}

// ------------------------------------------------------------------ the tests

describe("declared tables: any JSON stream into the tables a file declares", () => {
  let w: World;
  const stream = "declared-e2e";
  const visits = makeVisits(320, 2025);
  const expected = oracle(visits);
  const bad = badRecords(visits[3]!);
  const env = (bucket: string, file: string, extra: Record<string, string> = {}) =>
    cliEnv(w, { STREAM_NAME: stream, TABLES_ROOT: `s3://${bucket}/root`, TABLES_FILE: file, MAX_BATCH_RECORDS: "100", MAX_BATCH_AGE: "1s", LEASE_DURATION: "3s", ...extra });
  const writeFile = async (name: string, text: string) => {
    const file = path.join(w.tmp, name);
    await fs.writeFile(file, text);
    return file;
  };

  let sparkReady: Promise<unknown>;
  before(async () => {
    w = await startWorld();
    // Spark takes tens of seconds to start: let it start while the records are put and read.
    sparkReady = w.delta.request({ op: "start_spark" });
    sparkReady.catch(() => {});
    await w.kinesis.createStream(stream, 2);
    const records: { data: Uint8Array; key: string }[] = visits.map((v) => ({ data: enc.encode(eventText(v)), key: v.id }));
    bad.forEach((b, i) => records.splice(29 * i + 11, 0, { data: b.data, key: b.key }));
    await putAll(w, stream, records);
  });
  after(() => w?.stop());

  test("the oracle covers what the test is about", () => {
    assert.equal(new Set(expected.visits.map((r) => r.visit_day)).size >= 3, true, "several days, so several partitions");
    assert.ok(expected.lines.length > 100, `enough exploded lines (${expected.lines.length})`);
    assert.ok(visits.some((v) => v.lines?.length === 0) && visits.some((v) => v.totalCents !== null && v.lines === null), "empty and absent arrays");
    assert.ok(visits.some((v) => BigInt(v.user) > 2n ** 53n), "longs beyond 2^53");
  });

  test("run --once lands every record once; delta-rs and Spark read the tables as the events imply", async () => {
    const bucket = await w.moto.bucket("declared");
    const run = await runCli(["run", "--once"], env(bucket, await writeFile("tables.toml", tablesToml(bucket))));
    assert.equal(run.code, 0, `run --once failed:\n${run.stdout}\n${run.stderr}`);
    const total = visits.length + bad.length;
    assert.match(run.stdout, new RegExp(`: ${total} records committed in \\d+ batches; rows visits=${visits.length} lines=${expected.lines.length} quarantine=${bad.length}`));
    await assertTables(w, bucket, expected, bad);

    // Spark reads the same rows, with the declared schema (partition column included).
    await sparkReady;
    for (const [p, schema, rows] of [[`s3://${bucket}/root/lake/visits`, VISITS, expected.visits], [`s3://${bucket}/elsewhere/lines`, LINES, expected.lines]] as const) {
      const spark = await w.delta.request({ op: "read", engine: "spark", path: p, storage: storageOptions(w) });
      assert.deepEqual(
        [...spark.schema.fields].sort((a, b) => a.name.localeCompare(b.name)).map((x) => [x.name, x.type]),
        [...schema.fields].sort((a, b) => a.name.localeCompare(b.name)).map((x) => [x.name, x.type]),
        `Spark's schema of ${p}`,
      );
      assert.equal(spark.count, rows.length, `Spark's COUNT(*) of ${p} (from the stats)`);
      assert.deepEqual(byKey(spark.rows), byKey(canonicalRows(rows, schema)), `Spark's rows of ${p}`);
    }

    // Longs beyond 2^53 keep every digit (canonical rows go through doubles, so ask for text).
    const ids = await w.delta.request({
      op: "sql", engine: "deltalake", sql: "SELECT event_id, CAST(user_id AS VARCHAR) AS uid FROM visits ORDER BY event_id",
      tables: { visits: `s3://${bucket}/root/lake/visits` }, storage: storageOptions(w),
    });
    assert.deepEqual(ids.rows.map((r) => `${r.event_id}=${r.uid}`), visits.map((v) => `${v.id}=${v.user}`));

    // One folder per day, as Hive and Spark lay out partitions.
    const s3 = new S3Client(w.moto.s3);
    const keys = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "root/lake/visits/" }))).Contents?.map((o) => o.Key!) ?? [];
    s3.destroy();
    const days = new Set(keys.filter((k) => k.endsWith(".parquet")).map((k) => /visit_day=([^/]+)\//.exec(k)?.[1]));
    assert.deepEqual([...days].sort(), [...new Set(expected.visits.map((r) => String(r.visit_day)))].sort());
  });

  // The declared domain has no prepare step, so a batch never passes after-prepare.
  for (const point of FAULT_POINTS.filter((p) => p !== "after-prepare")) {
    test(`killed ${point.replaceAll("-", " ")} and restarted: every record still lands once`, async () => {
      const bucket = await w.moto.bucket(`declared-${point}`);
      const e = env(bucket, await writeFile(`tables-${point}.yaml`, tablesYaml(bucket)));
      const crashed = await runCli(["run", "--once"], { ...e, DS_TEST_FAULT: `${point}:1` });
      assert.equal(crashed.signal, "SIGKILL", `the run was killed at ${point} (exit ${crashed.code}):\n${crashed.stdout}\n${crashed.stderr}`);
      const restarted = await runCli(["run", "--once"], e);
      assert.equal(restarted.code, 0, `restart failed:\n${restarted.stdout}\n${restarted.stderr}`);
      await assertTables(w, bucket, expected, bad);
    });
  }

  test("the README's commands: produce --example clickstream, then run --tables deploy/examples/clickstream.toml", async () => {
    const clicks = "clicks";
    await w.kinesis.createStream(clicks, 1);
    const bucket = await w.moto.bucket("clicks");
    const e = cliEnv(w, { STREAM_NAME: clicks, TABLES_ROOT: `s3://${bucket}` });
    const produced = await runCli(["produce", "--example", "clickstream", "--count", "120", "--bad", "3", "--seed", "5"], e);
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stdout, /Put 123 records on clicks/);
    const run = await runCli(["run", "--once", "--tables", "deploy/examples/clickstream.toml"], e);
    assert.equal(run.code, 0, `run failed:\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /: 123 records committed in \d+ batches; rows page_views=120 cart_items=\d+ quarantine=3/);
    const status = await runCli(["status", "--tables", "deploy/examples/clickstream.toml"], e);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`page_views +version +\\d+ +files +\\d+ +rows +120  s3://${bucket}/clickstream/page_views`));
  });

  test("the clickstream example runs through the demo", async () => {
    const root = path.join(w.tmp, "demo");
    const demo = await runCli(["demo", "--example", "clickstream", "--events", "300", "--shards", "2", "--tables-root", root, "--log-file="], { LOG_LEVEL: "warning" });
    assert.equal(demo.code, 0, `demo failed:\n${demo.stdout}\n${demo.stderr}`);
    assert.match(demo.stdout, /page_views: 300 rows, version \d+, 1 partition\(s\) by view_date/);
    assert.match(demo.stdout, /cart_items: [1-9]\d* rows/);
    assert.match(demo.stdout, /quarantine: 7 rows/);
    assert.match(demo.stdout, /cart_items\.quantity \(\$\.cart\[0\]\.qty\): expected an integer/);
  });
});

describe("a bad tables file stops start-up with exit 2", () => {
  const cases: [string, string, string, RegExp][] = [
    ["no such file", "absent.toml", "", /Cannot start: the tables file '.*absent\.toml' cannot be read: ENOENT/],
    ["not TOML", "t.toml", "[tables.t\n", /Cannot start: the tables file '.*t\.toml' is not valid TOML \(line 1, column \d+: /],
    ["an unknown type", "t.toml", `[tables.t]\nlocation = "t"\ncolumns.a = { path = "$.a", type = "lon" }\n`,
      /Cannot start: the tables file '.*t\.toml': tables\.t\.columns\.a\.type: the type 'lon' has 'lon' at position 1: expected a type: string, long/],
    ["a misspelt key", "t.yaml", "tables:\n  t:\n    location: t\n    columns:\n      a: { path: $.a, type: long, requird: true }\n",
      /Cannot start: the tables file '.*t\.yaml': tables\.t\.columns\.a: unknown key 'requird': expected one of path, type, required, format/],
    ["two arrays to explode", "t.json", JSON.stringify({ tables: { t: { location: "t", columns: { a: { path: "$.x[*]", type: "long" }, b: { path: "$.y[*]", type: "long" } } } } }),
      /Cannot start: the tables file '.*t\.json': tables\.t\.columns\.b\.path: '\$\.y\[\*\]' explodes \$\.y, but column a explodes \$\.x: a table explodes one array at most/],
  ];
  for (const [name, file, text, message] of cases) {
    test(`${name}: the message names the file, the key and what was expected`, async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ds-tables-"));
      try {
        const p = path.join(dir, file);
        if (text) await fs.writeFile(p, text);
        const res = await runCli(["run", "--once", "--log-file="], { STREAM_NAME: "s", TABLES_FILE: p, TABLES_ROOT: dir, AWS_REGION: "us-east-1" });
        assert.equal(res.code, 2, `exit ${res.code}:\n${res.stdout}\n${res.stderr}`);
        assert.match(res.stderr.trim(), message);
        assert.equal(res.stderr.trim().split("\n").length, 1, "the error once");
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  }

  test("the demo refuses --tables without an example to make events for it", async () => {
    const res = await runCli(["demo", "--tables", "deploy/examples/clickstream.toml", "--log-file="], {});
    assert.equal(res.code, 2);
    assert.match(res.stderr, /Cannot run the demo with --tables alone: .*Add --example clickstream/);
  });
});
