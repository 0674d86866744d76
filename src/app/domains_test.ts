import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, resolveSettings } from "../config/settings.ts";
import { chooseDomain } from "./domains.ts";

const EXAMPLE = fileURLToPath(new URL("../../deploy/examples/clickstream.toml", import.meta.url));

test("without a tables file the order domain is chosen, laid out as the original job's tables", async () => {
  const settings = resolveSettings({ flags: {}, env: { TABLES_ROOT: "s3://lake" } });
  assert.equal(settings.checkpointsRoot, "s3://lake/orders/delta/checkpoints");
  const { domain, locations } = await chooseDomain(settings);
  assert.equal(domain.name, "orders");
  assert.equal(locations.quarantine, "s3://lake/orders/delta/bronze/quarantine");
});

test("TABLES_FILE (or --tables) chooses the declared domain, its tables under the tables root, checkpoints in _checkpoints", async () => {
  const settings = resolveSettings({ flags: { tablesFile: EXAMPLE }, env: { TABLES_ROOT: "s3://lake/", TABLES_FILE: "ignored.toml" } });
  assert.equal(settings.tablesFile, EXAMPLE, "the flag wins over the environment");
  assert.equal(settings.checkpointsRoot, "s3://lake/_checkpoints");
  const { domain, locations } = await chooseDomain(settings);
  assert.match(domain.name, /^declared \(.*clickstream\.toml\)$/);
  assert.equal(domain.prepare, undefined);
  assert.deepEqual(domain.tables.map((t) => t.name), ["page_views", "cart_items"]);
  assert.deepEqual(locations, {
    page_views: "s3://lake/clickstream/page_views",
    cart_items: "s3://lake/clickstream/cart_items",
    quarantine: "s3://lake/clickstream/quarantine",
  });
  const explicit = resolveSettings({ flags: {}, env: { TABLES_FILE: EXAMPLE, CHECKPOINTS_ROOT: "s3://elsewhere/cp" } });
  assert.equal(explicit.checkpointsRoot, "s3://elsewhere/cp");
});

test("a tables file that cannot be used is a ConfigError (exit 2) naming the file and the key", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ds-domains-"));
  try {
    const bad = path.join(dir, "bad.yaml");
    await fs.writeFile(bad, "tables:\n  t:\n    location: t\n    columns:\n      a: { path: $.a, type: long }\n    partition_by: [b]\n");
    await assert.rejects(chooseDomain(resolveSettings({ flags: { tablesFile: bad }, env: {} })), (err: unknown) =>
      err instanceof ConfigError && /^Cannot start: the tables file '.*bad\.yaml': tables\.t\.partition_by\.0: 'b' is not one of the table's columns: expected one of a$/.test(err.message));
    await assert.rejects(chooseDomain(resolveSettings({ flags: { tablesFile: path.join(dir, "none.json") }, env: {} })), (err: unknown) =>
      err instanceof ConfigError && /cannot be read/.test(err.message));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
