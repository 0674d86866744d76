/**
 * Outages through the binary: S3 and Kinesis behind a proxy that refuses connections,
 * hangs, then recovers. The process waits (with /readyz degraded and /healthz live), then
 * goes on and loses nothing; past the outage budget it exits 4; on an error retrying cannot
 * fix (no such bucket) it exits 5 naming the bucket.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, signal, spawnCli } from "../helpers/cli.ts";
import { assertExactlyOnce, tableCount } from "../helpers/e2e_checks.ts";
import { cliEnv, enc, makeOrders, putAll, richAndPoorPackages, startWorld, type World } from "../helpers/e2e_env.ts";
import { type OutageProxy, startOutageProxy } from "../helpers/outage_proxy.ts";
import { freePort, waitFor } from "../helpers/servers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("outages of S3 and Kinesis, through the binary", () => {
  let w: World;
  const proxies: OutageProxy[] = [];
  before(async () => {
    w = await startWorld();
  });
  after(async () => {
    await Promise.allSettled(proxies.map((p) => p.stop()));
    await w?.stop();
  });

  /** A stream and a bucket with package_table, and `count` orders on the stream. */
  async function setUp(name: string, count: number) {
    await w.kinesis.createStream(name, 2);
    const bucket = await w.moto.bucket(name);
    const pkg = richAndPoorPackages();
    const pkgFile = path.join(w.tmp, `${name}.json`);
    await fs.writeFile(pkgFile, JSON.stringify(pkg.rows));
    const init = await runCli(["tables", "init-packages", "--from", pkgFile], cliEnv(w, { TABLES_ROOT: `s3://${bucket}` }));
    assert.equal(init.code, 0, init.stderr);
    const orders = makeOrders(count, 11);
    const put = (list: Record<string, unknown>[]) => putAll(w, name, list.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
    await put(orders.slice(0, count / 2));
    return { bucket, pkg, orders, putRest: () => put(orders.slice(count / 2)) };
  }

  const getJson = async (port: number, p: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`);
    return { status: res.status, body: await res.json() as { status: string; reasons?: string[] } };
  };

  test("S3 refused, then hanging, mid-run: the run waits (readyz degraded, healthz live), then commits everything once", async () => {
    const { bucket, pkg, orders, putRest } = await setUp("s3-outage", 200);
    const s3 = await startOutageProxy(w.moto.endpoint);
    proxies.push(s3);
    const port = await freePort();
    const logFile = path.join(w.tmp, "s3-outage.log");
    const env = cliEnv(w, {
      STREAM_NAME: "s3-outage", TABLES_ROOT: `s3://${bucket}`, AWS_ENDPOINT_URL_S3: s3.endpoint, OUTAGE_BUDGET: "10m",
      LOG_FILE: logFile, LOG_LEVEL: "info", SHUTDOWN_TIMEOUT: "60s",
    });
    const run = spawnCli(["run", "--metrics-port", String(port), "--max-batch-records", "50", "--max-batch-age", "1s"], env);
    let exited = false;
    void run.done.then(() => (exited = true));
    await waitFor("the first half committed", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= 100, 90_000);
    await waitFor("ready", async () => (await getJson(port, "/readyz")).status === 200, 30_000);

    await s3.set("refuse");
    await putRest();
    await waitFor("readyz degraded naming S3", async () => {
      const r = await getJson(port, "/readyz");
      return r.status === 503 && r.body.status === "degraded" && (r.body.reasons ?? []).some((x) => /S3 \(s3:\/\/s3-outage[^)]*\) failing/.test(x));
    }, 30_000);
    assert.equal((await getJson(port, "/healthz")).status, 200, "live while it waits");
    await sleep(10_000);
    await s3.set("hang");
    await sleep(15_000);
    assert.equal(exited, false, `still running after 25 s of S3 outage: ${run.output()}`);
    assert.equal((await getJson(port, "/healthz")).status, 200, "live while calls hang (each has a deadline)");

    await s3.set("up");
    await waitFor("every order committed after the outage", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= 200, 180_000);
    await waitFor("ready again", async () => (await getJson(port, "/readyz")).status === 200, 60_000);
    signal(run.child);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    await assertExactlyOnce(w, bucket, orders, pkg);
    const log = await fs.readFile(logFile, "utf8");
    assert.match(log, /S3 \(s3:\/\/s3-outage[^)]*\) is unavailable \(.*\): .*Retrying with backoff; the process waits up to 600 s \(OUTAGE_BUDGET\)/);
    assert.match(log, /Available again after \d+ s/);
  });

  test("Kinesis refused at start-up and mid-run: waited out, nothing lost", async () => {
    const { bucket, pkg, orders, putRest } = await setUp("kinesis-outage", 100);
    const kinesis = await startOutageProxy(w.kinesis.endpoint);
    proxies.push(kinesis);
    await kinesis.set("refuse");
    const port = await freePort();
    const env = cliEnv(w, { STREAM_NAME: "kinesis-outage", TABLES_ROOT: `s3://${bucket}`, AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, OUTAGE_BUDGET: "10m", LOG_LEVEL: "info" });
    const run = spawnCli(["run", "--metrics-port", String(port), "--max-batch-records", "50", "--max-batch-age", "1s"], env);
    await waitFor("readyz answers while Kinesis is refused", async () => {
      const r = await getJson(port, "/readyz").catch(() => undefined);
      return r?.status === 503 && (r.body.status === "degraded" || r.body.status === "starting");
    }, 30_000);
    await sleep(8_000);
    assert.equal((await getJson(port, "/healthz")).status, 200);
    await kinesis.set("up");
    await waitFor("the first half", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= 50, 120_000);
    await kinesis.set("refuse");
    await putRest(); // straight to kinesis-local: the subscriber cannot see them yet
    await waitFor("readyz degraded naming Kinesis", async () => {
      const r = await getJson(port, "/readyz").catch((err) => assert.fail(`no answer (${err}); the run said: ${run.output()}`));
      return r.status === 503 && (r.body.reasons ?? []).some((x) => /Kinesis \(stream 'kinesis-outage'\) failing/.test(x));
    }, 60_000);
    await kinesis.set("up");
    await waitFor("everything", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= 100, 120_000);
    signal(run.child);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    await assertExactlyOnce(w, bucket, orders, pkg);
  });

  test("S3 refused at start-up: the run waits before opening the tables (readyz says why), then commits everything once", async () => {
    const { bucket, pkg, orders, putRest } = await setUp("s3-start", 60);
    const s3 = await startOutageProxy(w.moto.endpoint);
    proxies.push(s3);
    await s3.set("refuse");
    const port = await freePort();
    const env = cliEnv(w, { STREAM_NAME: "s3-start", TABLES_ROOT: `s3://${bucket}`, AWS_ENDPOINT_URL_S3: s3.endpoint, OUTAGE_BUDGET: "10m", LOG_LEVEL: "info" });
    const run = spawnCli(["run", "--metrics-port", String(port), "--max-batch-records", "50", "--max-batch-age", "1s"], env);
    let exited = false;
    void run.done.then(() => (exited = true));
    await waitFor("readyz not ready, naming S3, while S3 is refused at start-up", async () => {
      const r = await getJson(port, "/readyz").catch(() => undefined);
      return r?.status === 503 && (r.body.reasons ?? []).some((x) => /S3 \(s3:\/\/s3-start[^)]*\) failing/.test(x));
    }, 30_000);
    await sleep(8_000);
    assert.equal(exited, false, `still waiting after S3 refused its start: ${run.output()}`);
    assert.equal((await getJson(port, "/healthz")).status, 200, "live while it waits to start");
    assert.equal(await tableCount(w, bucket, "delta/bronze/orders").catch(() => 0), 0, "nothing committed while S3 is refused");

    await s3.set("up");
    await putRest();
    await waitFor("every order committed once S3 is back", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= 60, 120_000);
    await waitFor("ready", async () => (await getJson(port, "/readyz")).status === 200, 60_000);
    signal(run.child);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout + res.stderr, /S3 \(s3:\/\/s3-start[^)]*\) is unavailable/);
    await assertExactlyOnce(w, bucket, orders, pkg);
  });

  test("past the outage budget: exit 4, at start-up and in run --once, saying what to check", async () => {
    const { bucket } = await setUp("budget", 20);
    const s3 = await startOutageProxy(w.moto.endpoint);
    proxies.push(s3);
    await s3.set("refuse");
    const startedAt = Date.now();
    const res = await runCli(["run", "--once"], cliEnv(w, { STREAM_NAME: "budget", TABLES_ROOT: `s3://${bucket}`, AWS_ENDPOINT_URL_S3: s3.endpoint, OUTAGE_BUDGET: "8s" }));
    assert.equal(res.code, 4, res.stdout + res.stderr);
    assert.ok(Date.now() - startedAt >= 8_000, "it waited the budget out first");
    assert.match(res.stderr, /stayed unavailable for \d+ s, past the outage budget \(OUTAGE_BUDGET\)/);

    const kinesis = await startOutageProxy(w.kinesis.endpoint);
    proxies.push(kinesis);
    // Refused (a hung Kinesis is only counted as failing once a call's 90 s deadline passed:
    // the mid-run S3 test covers hanging).
    await kinesis.set("refuse");
    const once = await runCli(["run", "--once"], cliEnv(w, { STREAM_NAME: "budget", TABLES_ROOT: `s3://${bucket}`, AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, OUTAGE_BUDGET: "5s" }));
    assert.equal(once.code, 4, `run --once that could not reach the tip exits 4, not 0: ${once.stdout}${once.stderr}`);
    assert.match(once.stderr, /The stream stayed unavailable/);
  });

  test("a bucket that does not exist: exit 5 at once, naming the bucket", async () => {
    await w.kinesis.createStream("nobucket", 1);
    const startedAt = Date.now();
    const res = await runCli(["run", "--once"], cliEnv(w, { STREAM_NAME: "nobucket", TABLES_ROOT: "s3://no-such-bucket-here" }));
    assert.equal(res.code, 5, res.stdout + res.stderr);
    assert.match(res.stderr, /the bucket 'no-such-bucket-here' does not exist: check TABLES_ROOT/);
    assert.ok(Date.now() - startedAt < 20_000, "not retried as an outage");
  });
});
