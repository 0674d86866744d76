/**
 * The command line as users meet it: the compiled binary (DS_BIN) or src/main.ts. Help,
 * configuration errors (exit 2, naming the key, the value and what was expected),
 * credentials from a profile or the environment, the original job's INI file, metrics,
 * health and SIGTERM.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, signal, spawnCli } from "../helpers/cli.ts";
import { tableCount } from "../helpers/e2e_checks.ts";
import { cliEnv, enc, makeOrders, putAll, richAndPoorPackages, startWorld, type World } from "../helpers/e2e_env.ts";
import { freePort, waitFor } from "../helpers/servers.ts";

describe("help and usage", () => {
  test("--help lists the commands, and each command's --help its options with env names and defaults", async () => {
    const top = await runCli(["--help"], {});
    assert.equal(top.code, 0);
    for (const c of ["run", "demo", "produce", "status", "tables init-packages", "version"]) assert.match(top.stdout, new RegExp(`\\n  ${c} `));
    const run = await runCli(["run", "--help"], {});
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--once/);
    assert.match(run.stdout, /--max-batch-age <value>.*\[env MAX_BATCH_AGE; default '10s'\]/);
    const version = await runCli(["version"], {});
    assert.match(version.stdout, /^data-subscriber \d+\.\d+\.\d+/);
  });

  test("an unknown flag or command is an error with a suggestion, exit 2", async () => {
    const flag = await runCli(["run", "--strem", "x"], {});
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown flag '--strem' for 'run': did you mean '--stream'\?/);
    const cmd = await runCli(["rnu"], {});
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /Unknown command 'rnu': did you mean 'run'\?/);
  });
});

describe("configuration errors stop start-up with exit 2", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["STREAM_NAME missing", {}, /'stream' is required/],
    ["MAX_BATCH_RECORDS", { MAX_BATCH_RECORDS: "many" }, /'max-batch-records' \(from MAX_BATCH_RECORDS\) must be a positive whole number: got 'many'/],
    ["MAX_BATCH_BYTES", { MAX_BATCH_BYTES: "64 potatoes" }, /'max-batch-bytes' \(from MAX_BATCH_BYTES\) must be a size like '64MiB'.*got '64 potatoes'/],
    ["MAX_BATCH_AGE", { MAX_BATCH_AGE: "-5s" }, /'max-batch-age' \(from MAX_BATCH_AGE\) must be a positive duration like .*got '-5s'/],
    ["LEASE_DURATION", { LEASE_DURATION: "0s" }, /'lease-duration' .* must be a positive duration.*got '0s'/],
    ["SHUTDOWN_TIMEOUT", { SHUTDOWN_TIMEOUT: "soon" }, /'shutdown-timeout' .*got 'soon'/],
    ["PARQUET_COMPRESSION", { PARQUET_COMPRESSION: "gzip" }, /'compression' \(from PARQUET_COMPRESSION\) must be 'zstd', 'snappy' or 'none': got 'gzip'/],
    ["LOG_LEVEL", { LOG_LEVEL: "loud" }, /'log-level' .*'debug', 'info', 'warning' or 'error': got 'loud'/],
    ["LOG_FORMAT", { LOG_FORMAT: "xml" }, /'log-format' .*got 'xml'/],
    ["METRICS_PORT", { METRICS_PORT: "70000" }, /'metrics-port' .* must be a TCP port number \(0-65535\): got '70000'/],
    ["INITIAL_POSITION", { INITIAL_POSITION: "BEGINNING" }, /'initial-position' .*TRIM_HORIZON, LATEST or AT_TIMESTAMP.*got 'BEGINNING'/],
    ["AT_TIMESTAMP", { INITIAL_POSITION: "AT_TIMESTAMP:yesterday" }, /'initial-position' .*valid ISO-8601 time: got 'AT_TIMESTAMP:yesterday'/],
    ["AWS_ENDPOINT_URL", { AWS_ENDPOINT_URL: "localhost 4566" }, /'endpoint-url' \(from AWS_ENDPOINT_URL\) must be a URL.*got 'localhost 4566'/],
    ["TABLES_ROOT", { TABLES_ROOT: "ftp://host/tables" }, /'tables-root' \(from TABLES_ROOT\) must be a folder path or an s3:\/\/.*got 'ftp:\/\/host\/tables'/],
    ["BUCKET_NAME", { BUCKET_NAME: "s3a://" }, /'tables-root' \(from BUCKET_NAME\) must be an S3 URI with a bucket name.*got 's3a:\/\/'/],
    ["CHECKPOINTS_ROOT", { CHECKPOINTS_ROOT: "http://x/y" }, /'checkpoints-root' .*got 'http:\/\/x\/y'/],
  ];
  for (const [name, env, message] of cases) {
    test(`a bad ${name} names the key, the value and what was expected`, async () => {
      const res = await runCli(["run", "--once", "--log-file="], { STREAM_NAME: "s", ...env, ...(name === "STREAM_NAME missing" ? { STREAM_NAME: "" } : {}) });
      assert.equal(res.code, 2, `exit code for ${name}: ${res.stderr}`);
      assert.match(res.stderr, message);
    });
  }

  test("a flag wins over the environment, and a bad flag names the flag", async () => {
    const res = await runCli(["run", "--once", "--max-batch-age", "fast", "--log-file="], { STREAM_NAME: "s", MAX_BATCH_AGE: "10s" });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /'max-batch-age' \(from --max-batch-age\) .*got 'fast'/);
  });

  test("a config file that cannot be read, or is not INI, is an error naming the file", async () => {
    const missing = await runCli(["run", "--once", "--config", "/nonexistent/.aws/config"], {});
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /the config file '\/nonexistent\/\.aws\/config' cannot be read/);
  });
});

describe("running against kinesis-local and moto", () => {
  let w: World;
  before(async () => (w = await startWorld()));
  after(() => w?.stop());

  async function stream(name: string, orders: number) {
    await w.kinesis.createStream(name, 2);
    const bucket = await w.moto.bucket(name);
    const pkg = richAndPoorPackages();
    const pkgFile = path.join(w.tmp, `${name}.json`);
    await fs.writeFile(pkgFile, JSON.stringify(pkg.rows));
    const list = makeOrders(orders, 3);
    await putAll(w, name, list.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
    return { bucket, pkgFile, orders: list };
  }

  test("run --once with credentials from a ~/.aws/credentials profile, then from the environment only", async () => {
    const { bucket, pkgFile } = await stream("creds", 200);
    const home = path.join(w.tmp, "home");
    await fs.mkdir(path.join(home, ".aws"), { recursive: true });
    await fs.writeFile(path.join(home, ".aws/credentials"), "[tester]\naws_access_key_id = AKIAPROFILE00000000\naws_secret_access_key = profilesecret\n");
    await fs.writeFile(path.join(home, ".aws/config"), "[profile tester]\nregion = us-east-1\n");
    const base = { ...cliEnv(w, { STREAM_NAME: "creds", TABLES_ROOT: `s3://${bucket}` }), AWS_EC2_METADATA_DISABLED: "true" };
    const noKeys = { ...base, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_REGION: undefined };
    const init = await runCli(["tables", "init-packages", "--from", pkgFile], { ...noKeys, HOME: home, AWS_PROFILE: "tester" });
    assert.equal(init.code, 0, init.stderr);
    const withProfile = await runCli(["run", "--once", "--max-batch-records", "50"], { ...noKeys, HOME: home, AWS_PROFILE: "tester" });
    assert.equal(withProfile.code, 0, withProfile.stderr);
    assert.equal(await tableCount(w, bucket, "delta/bronze/orders"), 200);

    const emptyHome = path.join(w.tmp, "empty-home");
    await fs.mkdir(emptyHome, { recursive: true });
    const none = await runCli(["run", "--once"], { ...noKeys, HOME: emptyHome, AWS_REGION: "us-east-1" });
    assert.equal(none.code, 5, `no credentials anywhere: exit 5 (access), not a hang: ${none.stderr}`);
    assert.match(none.stderr, /No AWS credentials found\. Sources tried.*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: neither is set/);
    assert.doesNotMatch(none.stderr + none.stdout, /profilesecret/);

    await putAll(w, "creds", makeOrders(20, 99).map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
    const envOnly = await runCli(["run", "--once"], { ...base, HOME: emptyHome, ENVIRONMENT: "GITHUB_ACTIONS" });
    assert.equal(envOnly.code, 0, envOnly.stderr);
    assert.equal(await tableCount(w, bucket, "delta/bronze/orders"), 220);
  });

  test("the original job's .aws/config INI file configures stream, region, bucket and folders", async () => {
    const { bucket, pkgFile } = await stream("ini-stream", 50);
    const ini = path.join(w.tmp, "config.ini");
    await fs.writeFile(ini, [
      "[default]", "REGION = us-east-1", "STREAM_NAME = ini-stream",
      "[paths]", `BUCKET_NAME = s3a://${bucket}`, "ORDERS = orders", "BRONZE = bronze", "SILVER = silver", "GOLD = gold", "CHECKPOINTS = checkpoints",
      "[format]", "delta = delta",
      "[table_names]", "ORDERS_TABLE = orders", "EVENTS_TABLE = events", "PACKAGE_TABLE = package_table", "",
    ].join("\n"));
    const env = { ...cliEnv(w), AWS_REGION: undefined };
    assert.equal((await runCli(["tables", "init-packages", "--from", pkgFile, "--config", ini], env)).code, 0);
    const res = await runCli(["run", "--once", "--config", ini], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await tableCount(w, bucket, "delta/bronze/orders"), 50);
    assert.equal(await tableCount(w, bucket, "delta/bronze/events") >= 50, true);
  });

  test("produce puts orders and broken records; status shows shards and tables; a missing package_table stops run", async () => {
    await w.kinesis.createStream("produced", 2);
    const bucket = await w.moto.bucket("produced");
    const env = cliEnv(w, { STREAM_NAME: "produced", TABLES_ROOT: `s3://${bucket}` });
    const produced = await runCli(["produce", "--count", "40", "--bad", "3", "--seed", "5"], env);
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stdout, /Put 43 records on produced\./);
    const missing = await runCli(["run", "--once"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /package_table does not exist at s3:\/\/.*: .*tables init-packages/);
    assert.equal((await runCli(["tables", "init-packages", "--demo", "--stock", "100"], env)).code, 0);
    const again = await runCli(["tables", "init-packages", "--demo"], env);
    assert.equal(again.code, 1, "an existing package_table is not overwritten without --replace");
    assert.match(again.stderr, /--replace/);
    const run = await runCli(["run", "--once", "--log-format", "json", "--log-level", "info"], env);
    assert.equal(run.code, 0, run.stderr);
    const logLines = (run.stdout + run.stderr).split("\n").filter((l) => l.startsWith("{"));
    assert.ok(logLines.length > 0 && logLines.every((l) => typeof JSON.parse(l).message === "string"), "--log-format json logs JSON lines");
    assert.equal(await tableCount(w, bucket, "delta/bronze/quarantine"), 3);
    const st = await runCli(["status"], env);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /stream produced/);
    assert.match(st.stdout, /shardId-000000000000 .* finished|shardId-000000000000 +- +\d+ +\d{40,}\/0/, "the full sequence number");
    assert.match(st.stdout, /orders +version +\d+ +files +\d+ +rows +40/);
    assert.match(st.stdout, /quarantine +version +\d+ +files +\d+ +rows +3/);
  });

  test("status --json is one JSON document: per shard its state, owner, lease expiry and full position; per table version, files and rows", async () => {
    const { bucket, pkgFile, orders } = await stream("status-json", 60);
    const env = cliEnv(w, { STREAM_NAME: "status-json", TABLES_ROOT: `s3://${bucket}`, LEASE_DURATION: "20s" });
    assert.equal((await runCli(["tables", "init-packages", "--from", pkgFile], env)).code, 0);
    const run = spawnCli(["run", "--max-batch-records", "20", "--max-batch-age", "1s", "--worker-id", "status-worker"], env);
    type Report = {
      stream: string;
      shards: { shardId: string; state: string; owner: string | null; leaseExpiresAt: string | null; batch: number; position: { sequenceNumber: string; subSequenceNumber: number } | null; lagMs: number | null }[];
      tables: { name: string; state: string; version: number | null; files: number | null; rows: number | null }[];
    };
    let report: Report | undefined;
    try {
      await waitFor("every order committed", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= orders.length, 60_000);
      await waitFor("status --json to show both shards owned and committed", async () => {
        const res = await runCli(["status", "--json"], env);
        assert.equal(res.code, 0, res.stderr);
        report = JSON.parse(res.stdout) as Report;
        return report.shards.length === 2 && report.shards.every((s) => s.owner === "status-worker" && s.position !== null);
      }, 30_000);
    } finally {
      signal(run.child);
      assert.equal((await run.done).code, 0);
    }
    const r = report!;
    assert.equal(r.stream, "status-json");
    for (const s of r.shards) {
      assert.equal(s.state, "owned");
      assert.match(s.position!.sequenceNumber, /^\d{40,}$/, "the whole sequence number, not its last 12 digits");
      assert.ok(s.leaseExpiresAt && Date.parse(s.leaseExpiresAt) > Date.now() - 60_000, `lease expiry: ${s.leaseExpiresAt}`);
      assert.ok(s.batch >= 1);
    }
    const orders_ = r.tables.find((t) => t.name === "orders")!;
    assert.deepEqual([orders_.state, orders_.rows], ["ok", orders.length]);
    assert.ok(orders_.version! >= 1 && orders_.files! >= 1);
    // The text form shows the same full positions, now the leases are released.
    const text = await runCli(["status"], env);
    assert.equal(text.code, 0, text.stderr);
    const after = JSON.parse((await runCli(["status", "--json"], env)).stdout) as Report;
    for (const s of after.shards) {
      assert.deepEqual([s.state, s.owner, s.leaseExpiresAt], ["free", null, null], "released on SIGTERM");
      assert.ok(text.stdout.includes(`${s.position!.sequenceNumber}/${s.position!.subSequenceNumber}`), `full position of ${s.shardId} in:\n${text.stdout}`);
    }
  });

  test("/metrics counts what was written, /healthz answers, SIGTERM exits 0 within the deadline", async () => {
    const { bucket, pkgFile, orders } = await stream("metrics", 300);
    const env = cliEnv(w, { STREAM_NAME: "metrics", TABLES_ROOT: `s3://${bucket}`, SHUTDOWN_TIMEOUT: "20s" });
    assert.equal((await runCli(["tables", "init-packages", "--from", pkgFile], env)).code, 0);
    const port = await freePort();
    const run = spawnCli(["run", "--metrics-port", String(port), "--max-batch-records", "100", "--max-batch-age", "1s"], env);
    await waitFor("all orders committed", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= orders.length, 60_000);
    const metrics = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
    let text = "";
    await waitFor("metrics to show every record", async () => value((text = await metrics()), "data_subscriber_records_committed_total") === orders.length, 20_000);
    assert.equal(value(text, 'data_subscriber_rows_written_total{table="orders"}'), orders.length);
    assert.equal(value(text, 'data_subscriber_rows_written_total{table="events"}'), await tableCount(w, bucket, "delta/bronze/events"));
    assert.equal(value(text, 'data_subscriber_rows_written_total{table="orders_items"}'), await tableCount(w, bucket, "delta/bronze/orders_items"));
    assert.match(text, /# TYPE data_subscriber_batch_commit_duration_seconds histogram/);
    assert.match(text, /data_subscriber_shard_lag_seconds\{shard="shardId-000000000000"\} \d+/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    const stoppedAt = Date.now();
    signal(run.child);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    assert.ok(Date.now() - stoppedAt < 20_000, `stopped in ${Date.now() - stoppedAt} ms`);
  });
});
