/**
 * Crash tests: the binary is killed with SIGKILL at each point of a batch's commit, then
 * restarted; every order is still in every table exactly once and stock is taken once.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { FAULT_POINTS } from "../../src/engine/fault_point.ts";
import { runCli } from "../helpers/cli.ts";
import { assertExactlyOnce } from "../helpers/e2e_checks.ts";
import { cliEnv, enc, makeOrders, putAll, richAndPoorPackages, startWorld, type World } from "../helpers/e2e_env.ts";

const POINTS = FAULT_POINTS;

describe("a crash at any point of a batch loses and duplicates nothing", () => {
  let w: World;
  before(async () => (w = await startWorld()));
  after(() => w?.stop());

  for (const [i, point] of POINTS.entries()) {
    test(`killed ${point.replaceAll("-", " ")} and restarted`, async () => {
      const stream = `crash-${i}`;
      await w.kinesis.createStream(stream, 4);
      const bucket = await w.moto.bucket(`crash-${i}`);
      const env = cliEnv(w, { STREAM_NAME: stream, TABLES_ROOT: `s3://${bucket}`, MAX_BATCH_RECORDS: "500", MAX_BATCH_AGE: "1s", LEASE_DURATION: "3s" });
      const pkg = richAndPoorPackages();
      const pkgFile = path.join(w.tmp, `packages-${i}.json`);
      await fs.writeFile(pkgFile, JSON.stringify(pkg.rows));
      assert.equal((await runCli(["tables", "init-packages", "--from", pkgFile], env)).code, 0);
      const orders = makeOrders(1200, 100 + i);
      await putAll(w, stream, orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));

      // Killed in the first batch: the restart must take the dead run's leases, replay its
      // intents and read the rest.
      const crashed = await runCli(["run", "--once"], { ...env, DS_TEST_FAULT: `${point}:1` });
      assert.equal(crashed.signal, "SIGKILL", `the run was killed at ${point} (exit ${crashed.code}):\n${crashed.stdout}\n${crashed.stderr}`);

      const restarted = await runCli(["run", "--once"], env);
      assert.equal(restarted.code, 0, `restart failed:\n${restarted.stdout}\n${restarted.stderr}`);
      await assertExactlyOnce(w, bucket, orders, pkg);
    });
  }
});
