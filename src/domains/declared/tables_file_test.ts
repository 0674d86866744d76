import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { formatJsonPath } from "./json_path.ts";
import { loadTablesFile, parseTablesFile, resolveLocations, TablesFileError } from "./tables_file.ts";

const TOML = `
quarantine = "clicks/quarantine"
max_rows_per_record = 500

[tables.page_views]
location = "clicks/page_views"
partition_by = ["view_date"]
description = "page views"

[tables.page_views.columns]
event_id  = { path = "$.event_id", type = "string", required = true }
viewed_at = { path = "$.ts", type = "timestamp", format = "%Y-%m-%d %H:%M:%S" }
view_date = { path = "$.ts", type = "date", format = "%Y-%m-%d %H:%M:%S" }

[tables.cart_items]
location = "s3://bucket/cart_items"

[tables.cart_items.columns]
event_id = { path = "$.event_id", type = "string" }
sku      = { path = "$.cart[*].sku", type = "string", required = true }
price    = { path = "$.cart[*]['unit price']", type = "decimal(10,2)" }
`;

const YAML = `
quarantine: clicks/quarantine
max_rows_per_record: 500
tables:
  page_views:
    location: clicks/page_views
    partition_by: [view_date]
    description: page views
    columns:
      event_id: { path: $.event_id, type: string, required: true }
      viewed_at: { path: $.ts, type: timestamp, format: "%Y-%m-%d %H:%M:%S" }
      view_date: { path: $.ts, type: date, format: "%Y-%m-%d %H:%M:%S" }
  cart_items:
    location: s3://bucket/cart_items
    columns:
      event_id: { path: $.event_id, type: string }
      sku: { path: "$.cart[*].sku", type: string, required: true }
      price: { path: "$.cart[*]['unit price']", type: "decimal(10,2)" }
`;

/** The file as data, without the compiled parts (patterns), for comparing the three syntaxes. */
function shape(text: string, name: string): unknown {
  return JSON.parse(JSON.stringify(parseTablesFile(text, name), (k, v) => (k === "pattern" && typeof v === "object" ? v.pattern : k === "source" ? undefined : v)));
}

test("the same tables read from TOML, YAML and JSON, chosen by the extension", () => {
  const toml = shape(TOML, "t.toml");
  assert.deepEqual(shape(YAML, "t.yaml"), toml);
  assert.deepEqual(shape(YAML, "t.YML"), toml);
  const json = JSON.stringify({
    quarantine: "clicks/quarantine",
    max_rows_per_record: 500,
    tables: {
      page_views: {
        location: "clicks/page_views", partition_by: ["view_date"], description: "page views",
        columns: {
          event_id: { path: "$.event_id", type: "string", required: true },
          viewed_at: { path: "$.ts", type: "timestamp", format: "%Y-%m-%d %H:%M:%S" },
          view_date: { path: "$.ts", type: "date", format: "%Y-%m-%d %H:%M:%S" },
        },
      },
      cart_items: {
        location: "s3://bucket/cart_items",
        columns: { event_id: { path: "$.event_id", type: "string" }, sku: { path: "$.cart[*].sku", type: "string", required: true }, price: { path: "$.cart[*]['unit price']", type: "decimal(10,2)" } },
      },
    },
  });
  assert.deepEqual(shape(json, "t.json"), toml);
  const file = parseTablesFile(TOML, "t.toml");
  assert.deepEqual(file.tables.map((t) => t.name), ["page_views", "cart_items"]);
  assert.deepEqual(file.tables[0]!.columns.map((c) => c.name), ["event_id", "viewed_at", "view_date"], "columns keep the file's order");
  assert.equal(file.tables[0]!.explode, undefined);
  assert.equal(formatJsonPath(file.tables[1]!.explode!), "$.cart");
  assert.equal(file.maxRowsPerRecord, 500);
});

test("defaults: quarantine under the root, 10,000 rows per record, no partitions, nothing required", () => {
  const file = parseTablesFile(`[tables.t]\nlocation = "t"\ncolumns.a = { path = "$.a", type = "long" }\n`, "min.toml");
  assert.equal(file.quarantine, "quarantine");
  assert.equal(file.maxRowsPerRecord, 10_000);
  assert.deepEqual(file.tables[0]!.partitionBy, []);
  assert.equal(file.tables[0]!.columns[0]!.required, false);
});

test("a bad tables file names the file, the key and what was expected", () => {
  const table = (columns: string, extra = "") => `[tables.t]\nlocation = "t"\n${extra}\n[tables.t.columns]\n${columns}\n`;
  const col = `a = { path = "$.a", type = "string" }`;
  const cases: [string, string, RegExp][] = [
    ["x.toml", "a = = 1", /^the tables file 'x.toml' is not valid TOML \(line 1, column 5: Invalid TOML document: invalid value\)$/],
    ["x.yaml", "tables: [1,\n", /^the tables file 'x.yaml' is not valid YAML \(/],
    ["x.json", "{", /^the tables file 'x.json' is not valid JSON \(/],
    ["x.ini", "", /has the extension '.ini': expected .toml, .yaml, .yml or .json \(the extension chooses the parser\)/],
    ["x.toml", "", /^the tables file 'x.toml': the top level: the key 'tables' is missing$/],
    ["x.toml", "tabels = 1", /the top level: unknown key 'tabels': expected one of tables, quarantine, max_rows_per_record$/],
    ["x.toml", `tabels = 1\n${table(col)}`, /the top level: unknown key 'tabels': expected one of tables, quarantine, max_rows_per_record$/],
    ["x.toml", "tables = {}", /tables: expected at least one table/],
    ["x.toml", `[tables.2t]\nlocation = "t"\ncolumns.a = { path = "$.a", type = "string" }`, /tables: '2t' is not a table name: expected a name of letters, digits and _, not starting with a digit/],
    ["x.toml", `[tables.Quarantine]\nlocation = "t"\ncolumns.a = { path = "$.a", type = "string" }`, /tables: 'Quarantine' is the quarantine table's name: choose another/],
    ["x.toml", `[tables.t]\ncolumns.a = { path = "$.a", type = "string" }`, /tables\.t: the key 'location' is missing/],
    ["x.toml", table(col, "colums = 1"), /tables\.t: unknown key 'colums': expected one of location, columns, partition_by, description/],
    ["x.toml", `[tables.t]\nlocation = "ftp://h/t"\ncolumns.a = { path = "$.a", type = "string" }`, /tables\.t\.location: expected a folder, or an s3:\/\/, s3a:\/\/ or file:\/\/ URI: got 'ftp:\/\/h\/t'/],
    ["x.toml", `[tables.t]\nlocation = "s3://"\ncolumns.a = { path = "$.a", type = "string" }`, /tables\.t\.location: expected an S3 URI with a bucket name/],
    ["x.toml", `[tables.t]\nlocation = "s3:/bucket/t"\ncolumns.a = { path = "$.a", type = "string" }`, /tables\.t\.location: expected an S3 URI with two slashes after the scheme.*: got 's3:\/bucket\/t'/],
    ["x.toml", `[tables.t]\nlocation = "file://"\ncolumns.a = { path = "$.a", type = "string" }`, /tables\.t\.location: expected a file:\/\/ URI with a folder/],
    ["x.toml", `[tables.t]\nlocation = "a/../../b"\ncolumns.a = { path = "$.a", type = "string" }`, /tables\.t\.location: expected a folder under the tables root, without '\.\.'/],
    ["x.toml", table(""), /tables\.t\.columns: expected at least one column/],
    ["x.toml", table(`"user id" = { path = "$.a", type = "string" }`), /tables\.t\.columns: 'user id' is not a column name: expected a name of letters, digits and _/],
    ["x.toml", table(`a = { path = "$.a" }`), /tables\.t\.columns\.a: the key 'type' is missing/],
    ["x.toml", table(`a = { path = "$.a", type = "string", requried = true }`), /tables\.t\.columns\.a: unknown key 'requried': expected one of path, type, required, format/],
    ["x.toml", table(`a = { path = "$.a", type = "string", required = "yes" }`), /tables\.t\.columns\.a\.required: expected true or false: got 'yes'/],
    ["x.toml", table(`a = { path = "$.a", type = 7 }`), /tables\.t\.columns\.a\.type: expected a type \(a string\) like 'string', 'long' or 'decimal\(10,2\)': got 7/],
    ["x.toml", table(`a = { path = "user.a", type = "string" }`), /tables\.t\.columns\.a\.path: the path 'user\.a' has 'user\.a' at position 1: expected '\$' \(the record\) first/],
    ["x.toml", table(`a = { path = "$.a", type = "lon" }`), /tables\.t\.columns\.a\.type: the type 'lon' has 'lon' at position 1: expected a type: string, long/],
    ["x.toml", table(`a = { path = "$.a", type = "string", format = "iso8601" }`), /tables\.t\.columns\.a\.format: a format is for date and timestamp columns: this column is string/],
    ["x.toml", table(`a = { path = "$.a", type = "timestamp", format = "%Y-%m-%d %Q" }`), /tables\.t\.columns\.a\.format: the pattern '%Y-%m-%d %Q' has the unknown directive %Q/],
    ["x.toml", table(`a = { path = "$.a", type = "timestamp", format = "dd/MM/yyyy" }`), /tables\.t\.columns\.a\.format: the format 'dd\/MM\/yyyy' is not one: expected iso8601, epoch_seconds, epoch_millis, epoch_micros or a pattern/],
    ["x.toml", table(`a = { path = "$.a", type = "string" }\nA = { path = "$.b", type = "string" }`), /tables\.t\.columns\.A: 'A' and 'a' are the same name to readers, which ignore case: rename one/],
    ["x.toml", table(`a = { path = "$.x[*].a", type = "string" }\nb = { path = "$.y[*].b", type = "string" }`), /tables\.t\.columns\.b\.path: '\$\.y\[\*\]\.b' explodes \$\.y, but column a explodes \$\.x: a table explodes one array at most/],
    ["x.toml", table(col, `partition_by = ["day"]`), /tables\.t\.partition_by\.0: 'day' is not one of the table's columns: expected one of a/],
    ["x.toml", table(`${col}\nb = { path = "$.b", type = "double" }`, `partition_by = ["b"]`), /tables\.t\.partition_by\.0: 'b' is double: a partition column must be a string, long, integer, boolean, date, timestamp or decimal/],
    ["x.toml", table(`${col}\nb = { path = "$.b", type = "string" }`, `partition_by = ["b", "b"]`), /tables\.t\.partition_by\.1: 'b' is there twice/],
    ["x.toml", table(col, `partition_by = ["a"]`), /tables\.t\.partition_by: every column is a partition column/],
    ["x.toml", `max_rows_per_record = 0\n${table(col)}`, /max_rows_per_record: expected at least 1: got 0/],
  ];
  for (const [name, text, message] of cases) {
    assert.throws(() => parseTablesFile(text, name), (err: unknown) => err instanceof TablesFileError && message.test(err.message), `${name}: ${text}`);
  }
});

test("locations resolve under the tables root unless absolute, and no table lies in another's folder", () => {
  const file = parseTablesFile(TOML, "t.toml");
  assert.deepEqual(resolveLocations(file, "s3://lake/"), {
    page_views: "s3://lake/clicks/page_views",
    cart_items: "s3://bucket/cart_items",
    quarantine: "s3://lake/clicks/quarantine",
  });
  assert.equal(resolveLocations(file, "./data").page_views, "./data/clicks/page_views");
  const two = (a: string, b: string) => parseTablesFile(`[tables.a]\nlocation = "${a}"\ncolumns.x = { path = "$.x", type = "string" }\n[tables.b]\nlocation = "${b}"\ncolumns.x = { path = "$.x", type = "string" }\n`, "two.toml");
  assert.throws(() => resolveLocations(two("t", "./t/"), "/root"), /the tables a and b are both at \/root\/t: each table needs a folder of its own/);
  assert.throws(() => resolveLocations(two("t", "t/inner"), "/root"), /the table b \(\/root\/t\/inner\) lies inside the folder of a \(\/root\/t\)/);
  assert.throws(() => resolveLocations(two("s3a://x/t", "s3://x/t"), "/root"), /both at/);
  assert.throws(() => resolveLocations(two("quarantine/x", "y"), "/root"), /the table a \(\/root\/quarantine\/x\) lies inside the folder of quarantine/);
  assert.deepEqual(Object.keys(resolveLocations(two("t1", "t10"), "/root")), ["a", "b", "quarantine"]);
});

test("loadTablesFile reads a file, and says so when it cannot", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ds-tables-"));
  try {
    await fs.writeFile(path.join(dir, "t.yml"), YAML);
    assert.equal((await loadTablesFile(path.join(dir, "t.yml"))).tables.length, 2);
    await assert.rejects(loadTablesFile(path.join(dir, "absent.toml")), (err: unknown) => err instanceof TablesFileError && /the tables file '.*absent\.toml' cannot be read: ENOENT/.test(err.message));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("the clickstream example in deploy/examples is a valid tables file", async () => {
  const file = await loadTablesFile(fileURLToPath(new URL("../../../deploy/examples/clickstream.toml", import.meta.url)));
  assert.deepEqual(file.tables.map((t) => [t.name, t.partitionBy, t.explode && formatJsonPath(t.explode)]), [["page_views", ["view_date"], undefined], ["cart_items", [], "$.cart"]]);
});
