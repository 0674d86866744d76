import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, lookUp, resolveSettings } from "./settings.ts";

const resolve = (env: Record<string, string>, flags: Record<string, string> = {}) => resolveSettings({ flags, env });

test("a storage URI with one slash, none, or no bucket is refused, naming the key and the form expected", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ TABLES_ROOT: "s3:/bucket" }, /'tables-root' \(from TABLES_ROOT\) must be an S3 URI with two slashes after the scheme, like 's3:\/\/bucket': got 's3:\/bucket'/],
    [{ TABLES_ROOT: "s3:bucket/prefix" }, /'tables-root' .*like 's3:\/\/bucket\/prefix': got 's3:bucket\/prefix'/],
    [{ BUCKET_NAME: "s3a:/lake" }, /'tables-root' \(from BUCKET_NAME\) .*like 's3a:\/\/lake'/],
    [{ TABLES_ROOT: "s3://" }, /'tables-root' .* must be an S3 URI with a bucket name.*got 's3:\/\/'/],
    [{ TABLES_ROOT: "s3:///tables" }, /must be an S3 URI with a bucket name/],
    [{ TABLES_ROOT: "s3://my bucket/x" }, /bucket name has letters, digits, '\.', '-' and '_' only/],
    [{ TABLES_ROOT: "file:/srv/tables" }, /must be a folder path or an s3:\/\/ \/ s3a:\/\/ \/ file:\/\/ URI.*got 'file:\/srv\/tables'/],
    [{ CHECKPOINTS_ROOT: "s3:/bucket/cp" }, /'checkpoints-root' \(from CHECKPOINTS_ROOT\) must be an S3 URI with two slashes/],
    [{ CHECKPOINTS_ROOT: "s3a://" }, /'checkpoints-root' .*bucket name/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => resolve(env), (err: Error) => err instanceof ConfigError && message.test(err.message), JSON.stringify(env));
  }
});

test("folders, s3://, s3a:// and file:// URIs are accepted; the scheme is lower-cased", () => {
  assert.equal(resolve({ TABLES_ROOT: "./data" }).tablesRoot, "./data");
  assert.equal(resolve({ TABLES_ROOT: "/srv/tables" }).tablesRoot, "/srv/tables");
  assert.equal(resolve({ TABLES_ROOT: "C:\\tables" }).tablesRoot, "C:\\tables", "a drive letter is not a scheme");
  assert.equal(resolve({ TABLES_ROOT: "./s3:/x" }).tablesRoot, "./s3:/x", "written as a relative path, it is one");
  assert.equal(resolve({ TABLES_ROOT: "S3://Lake_Legacy/prefix" }).tablesRoot, "s3://Lake_Legacy/prefix");
  assert.equal(resolve({ TABLES_ROOT: "s3a://lake" }).checkpointsRoot, "s3a://lake/orders/delta/checkpoints");
  assert.equal(resolve({ CHECKPOINTS_ROOT: "file:///var/lib/cp" }).checkpointsRoot, "file:///var/lib/cp");
});

test("log levels are accepted in any case, WARN as warning", () => {
  for (const [raw, level] of [["DEBUG", "debug"], ["Info", "info"], ["WARN", "warning"], ["warn", "warning"], ["WARNING", "warning"], ["ERROR", "error"]] as const) {
    assert.equal(resolve({ LOG_LEVEL: raw }).logLevel, level, raw);
  }
  assert.throws(() => resolve({ LOG_LEVEL: "LOUD" }), /'log-level' \(from LOG_LEVEL\) must be 'debug', 'info', 'warning' or 'error': got 'LOUD'/);
  assert.equal(resolve({ LOG_FORMAT: "JSON" }).logFormat, "json");
  assert.equal(resolve({ PARQUET_COMPRESSION: "Snappy" }).compression, "snappy");
});

test("initial positions are accepted in any case, with '_' or '-'", () => {
  assert.deepEqual(resolve({ INITIAL_POSITION: "latest" }).initialPosition, { type: "LATEST" });
  assert.deepEqual(resolve({ INITIAL_POSITION: "trim_horizon" }).initialPosition, { type: "TRIM_HORIZON" });
  assert.deepEqual(resolve({ INITIAL_POSITION: "Trim-Horizon" }).initialPosition, { type: "TRIM_HORIZON" });
  assert.deepEqual(resolve({ INITIAL_POSITION: "at_timestamp:2025-03-01T08:00:00Z" }).initialPosition, { type: "AT_TIMESTAMP", timestamp: new Date("2025-03-01T08:00:00Z") });
  assert.throws(() => resolve({ INITIAL_POSITION: "beginning" }), /'initial-position' .*TRIM_HORIZON, LATEST or AT_TIMESTAMP.*got 'beginning'/);
  assert.throws(() => resolve({ INITIAL_POSITION: "at_timestamp:yesterday" }), /valid ISO-8601 time: got 'at_timestamp:yesterday'/);
});

test("lookUp says where a key's value comes from: flag, environment, config file or default", () => {
  assert.deepEqual(lookUp("logFile", { flags: { logFile: "a.log" }, env: { LOG_FILE: "b.log" } }), { raw: "a.log", from: "--log-file" });
  assert.deepEqual(lookUp("logFile", { flags: {}, env: { LOG_FILE: "" } }), { raw: "", from: "LOG_FILE" });
  assert.deepEqual(lookUp("logFile", { flags: {}, env: {} }), { raw: "app.log", from: "the default" });
  assert.deepEqual(lookUp("tablesRoot", { flags: {}, env: {}, ini: { paths: { BUCKET_NAME: "s3a://lake" } } }), { raw: "s3a://lake", from: "[paths] BUCKET_NAME in the config file" });
});

test("the credential sources the SDK's chain reads are taken from the environment, never a secret's value", () => {
  const s = resolve({ AWS_ACCESS_KEY_ID: "AKIAEXAMPLE00000000", ENVIRONMENT: "GITHUB_ACTIONS", HOME: "/home/u", AWS_EC2_METADATA_DISABLED: "true" });
  assert.deepEqual(s.credentialSources, {
    githubActions: true,
    envKeys: { accessKeyId: true, secretAccessKey: false },
    credentialsFile: "/home/u/.aws/credentials",
    configFile: "/home/u/.aws/config",
    containerCredentials: false,
    instanceMetadataDisabled: true,
  });
});
