/**
 * `demo` never deletes tables it did not make, through the binary (DS_BIN) or src/main.ts:
 * it starts again over its own folder, but refuses (exit 2, saying why and what to do) once a
 * real `run` has committed into that folder, and leaves what the run wrote in place.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { putRecords } from "../../src/adapters/kinesis/kinesis_producer.ts";
import { runCli } from "../helpers/cli.ts";
import { enc, makeOrders } from "../helpers/e2e_env.ts";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";

describe("the demo's folder", () => {
  let kinesis: KinesisLocal;
  let tmp: string;
  before(async () => {
    [kinesis, tmp] = await Promise.all([startKinesisLocal(), fs.mkdtemp(path.join(os.tmpdir(), "ds-demo-"))]);
  });
  after(async () => {
    await kinesis?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const demo = (root: string) => runCli(["demo", "--orders", "40", "--shards", "1", "--tables-root", root, "--log-file="], { LOG_LEVEL: "warning", STREAM_NAME: "" });
  const commits = async (root: string, table: string) => (await fs.readdir(path.join(root, table, "_delta_log"))).filter((f) => f.endsWith(".json")).sort();

  test("the demo starts again over a folder it made, but not once a real run has committed into it", async () => {
    const root = path.join(tmp, "data");
    const first = await demo(root);
    assert.equal(first.code, 0, `first demo:\n${first.stdout}\n${first.stderr}`);
    const again = await demo(root);
    assert.equal(again.code, 0, `the demo empties its own folder and starts again:\n${again.stderr}`);
    assert.match(again.stdout, /orders: 40 rows/);

    // A real run, pointed at the demo's folder by mistake, lands a stream's orders in its tables.
    await kinesis.createStream("real-orders", 1);
    const orders = makeOrders(25, 11);
    await putRecords(kinesis.client, "real-orders", orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), partitionKey: String(o.order_id) })));
    const run = await runCli(["run", "--once"], {
      STREAM_NAME: "real-orders", TABLES_ROOT: root, LOG_FILE: "", LOG_LEVEL: "warning",
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing",
    });
    assert.equal(run.code, 0, run.stderr);
    const before = await commits(root, "orders/delta/bronze/orders");

    const refused = await demo(root);
    assert.equal(refused.code, 2, `the demo refuses:\n${refused.stdout}\n${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`Cannot run the demo in '${root.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}': something other than the demo has written there since the demo made it, and the demo never deletes tables it did not make`));
    assert.match(refused.stderr, /new commits in .*'orders\/delta\/bronze\/orders'/);
    assert.match(refused.stderr, /give the demo another folder with --tables-root; or, if nothing in it is needed, remove it yourself/);
    assert.deepEqual(await commits(root, "orders/delta/bronze/orders"), before, "the run's commits are still there");
    assert.doesNotMatch(refused.stdout, /Starting the embedded Kinesis/, "nothing was started");
  });

  test("a folder the demo did not make, or whose demo never finished, is left alone", async () => {
    const foreign = path.join(tmp, "foreign");
    await fs.mkdir(path.join(foreign, "sales/_delta_log"), { recursive: true });
    await fs.writeFile(path.join(foreign, "sales/_delta_log/00000000000000000000.json"), "{}\n");
    const res = await demo(foreign);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /the folder holds files the demo did not make/);

    const unfinished = path.join(tmp, "unfinished");
    await fs.mkdir(unfinished);
    await fs.writeFile(path.join(unfinished, ".data-subscriber-demo"), "Made by `data-subscriber demo`, which empties this folder on its next run.\n");
    await fs.writeFile(path.join(unfinished, "kept.txt"), "mine\n");
    const old = await demo(unfinished);
    assert.equal(old.code, 2);
    assert.match(old.stderr, /did not finish \(or an older version made it\), so there is no record of what it made/);
    assert.equal(await fs.readFile(path.join(unfinished, "kept.txt"), "utf8"), "mine\n");
  });
});
