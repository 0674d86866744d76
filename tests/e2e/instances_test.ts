/**
 * Several instances, and stopping: two workers on one stream give the same tables as one;
 * SIGTERM in the middle of the work exits 0 and loses nothing.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, signal, spawnCli } from "../helpers/cli.ts";
import { assertExactlyOnce, tableCount } from "../helpers/e2e_checks.ts";
import { cliEnv, enc, makeOrders, putAll, richAndPoorPackages, startWorld, type World } from "../helpers/e2e_env.ts";
import { waitFor } from "../helpers/servers.ts";

describe("instances and signals", () => {
  let w: World;
  before(async () => (w = await startWorld()));
  after(() => w?.stop());

  async function setUp(name: string, count: number) {
    await w.kinesis.createStream(name, 4);
    const bucket = await w.moto.bucket(name);
    const env = cliEnv(w, { STREAM_NAME: name, TABLES_ROOT: `s3://${bucket}`, MAX_BATCH_RECORDS: "300", MAX_BATCH_AGE: "1s", LEASE_DURATION: "3s" });
    const pkg = richAndPoorPackages();
    const pkgFile = path.join(w.tmp, `${name}.json`);
    await fs.writeFile(pkgFile, JSON.stringify(pkg.rows));
    assert.equal((await runCli(["tables", "init-packages", "--from", pkgFile], env)).code, 0);
    const orders = makeOrders(count, name.length);
    return { bucket, env, pkg, orders };
  }

  test("two instances on the same stream and tables give the same result as one", async () => {
    const { bucket, env, pkg, orders } = await setUp("two-workers", 1500);
    const a = spawnCli(["run"], { ...env, WORKER_ID: "worker-a" });
    const b = spawnCli(["run"], { ...env, WORKER_ID: "worker-b" });
    await putAll(w, "two-workers", orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
    await waitFor("all orders in the orders table", async () => (await tableCount(w, bucket, "delta/bronze/orders")) >= orders.length, 120_000);
    const stoppedAt = Date.now();
    signal(a.child);
    signal(b.child);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, `worker a: ${ra.stderr}`);
    assert.equal(rb.code, 0, `worker b: ${rb.stderr}`);
    assert.ok(Date.now() - stoppedAt < 30_000, "both stopped within the 30 s deadline");
    await assertExactlyOnce(w, bucket, orders, pkg);
  });

  test("SIGTERM while batches are in flight exits 0 within the deadline and loses nothing", async () => {
    const { bucket, env, pkg, orders } = await setUp("sigterm", 2000);
    await putAll(w, "sigterm", orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
    const run = spawnCli(["run", "--max-batch-records", "100"], env);
    await waitFor("the first batch", async () => (await tableCount(w, bucket, "delta/bronze/orders")) > 0, 60_000);
    const stoppedAt = Date.now();
    signal(run.child);
    const res = await run.done;
    assert.equal(res.code, 0, `exit after SIGTERM:\n${res.stdout}\n${res.stderr}`);
    assert.ok(Date.now() - stoppedAt < 30_000, `stopped in ${Date.now() - stoppedAt} ms`);
    const rest = await runCli(["run", "--once"], env);
    assert.equal(rest.code, 0, rest.stderr);
    await assertExactlyOnce(w, bucket, orders, pkg);
  });
});
