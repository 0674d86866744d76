/**
 * `checkpoints reset` and exit code 3 as users meet them (the compiled binary when DS_BIN
 * names one, else src/main.ts): its own help, the refusal to change anything without a
 * terminal or --yes, a reset of shard states in a local folder, and a `run --once` that
 * ends with a stopped shard exiting 3 until the shard is reset.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { putRecords } from "../../src/adapters/kinesis/kinesis_producer.ts";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { newShardState, type ShardState } from "../../src/core/shard_state/shard_state.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import { runCli } from "../helpers/cli.ts";
import { enc, makeOrders } from "../helpers/e2e_env.ts";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";

const SHARD = "shardId-000000000000";
const STOPPED = {
  reason: "The stream no longer has record 100/0, where the shard resumes",
  at: "2026-01-01T00:00:00.000Z",
  by: "w1",
  asked: { sequenceNumber: "100", subSequenceNumber: 0 },
  firstAvailable: "200",
};

/** A folder of shard states for stream `stream`, where the CLI looks with `--checkpoints-root <dir>`. */
async function statesIn(dir: string, stream: string): Promise<ShardStateStore> {
  return new ShardStateStore(new LocalStore(dir), `data-subscriber/${stream}/shards/`);
}

async function writeState(states: ShardStateStore, shardId: string, s: Partial<ShardState>, wallMs = Date.now()): Promise<void> {
  const v = await states.read(shardId);
  await states.write({ ...(v?.state ?? newShardState("orders", shardId, [], wallMs)), ...s }, v?.etag, wallMs);
}

describe("checkpoints reset on a local folder", () => {
  let dir: string;
  before(async () => (dir = await fs.mkdtemp(path.join(os.tmpdir(), "ds-reset-"))));
  after(() => fs.rm(dir, { recursive: true, force: true }));
  const env = () => ({ STREAM_NAME: "orders", CHECKPOINTS_ROOT: dir, LOG_FILE: "" });

  test("its --help lists its own options only, and the main help lists it", async () => {
    const help = await runCli(["checkpoints", "reset", "--help"], {});
    assert.equal(help.code, 0, help.stderr);
    for (const flag of ["--shard <value>", "--all", "--to <value>", "--force", "--yes", "--stream <value>", "--checkpoints-root <value>", "--lease-duration <value>"]) {
      assert.ok(help.stdout.includes(flag), `${flag} in:\n${help.stdout}`);
    }
    for (const other of ["--once", "--max-batch-age", "--compression", "--metrics-port", "--worker-id", "--initial-position"]) {
      assert.ok(!help.stdout.includes(other), `${other} is not one of its options`);
    }
    assert.match(help.stdout, /trim-horizon .*latest .*2026-01-01T00:00:00Z/);
    const top = await runCli(["--help"], {});
    assert.match(top.stdout, /\n {2}checkpoints reset +resume stopped shards/);
  });

  test("without a terminal and without --yes it refuses and changes nothing; a bad --to or no shard is a usage error", async () => {
    const states = await statesIn(dir, "orders");
    await writeState(states, SHARD, { stopped: STOPPED });
    const before = await states.read(SHARD);
    const res = await runCli(["checkpoints", "reset", "--shard", SHARD, "--to", "trim-horizon"], env());
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /asks for confirmation on a terminal; pass --yes/);
    assert.equal((await states.read(SHARD))!.etag, before!.etag, "nothing written");
    const bad = await runCli(["checkpoints", "reset", "--shard", SHARD, "--to", "yesterday", "--yes"], env());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /'--to' must be trim-horizon, latest or a time .*got 'yesterday'/);
    const none = await runCli(["checkpoints", "reset", "--to", "latest", "--yes"], env());
    assert.equal(none.code, 2);
    assert.match(none.stderr, /needs '--shard ID' or '--all'/);
  });

  test("with --yes it resets a stopped shard; a live lease is refused (exit 1) unless --force", async () => {
    const states = await statesIn(dir, "orders");
    await writeState(states, SHARD, { stopped: STOPPED, batch: 4, lease: { owner: null, counter: 3, epoch: 2 } });
    const res = await runCli(["checkpoints", "reset", "--shard", SHARD, "--to", "trim-horizon", "--yes"], env());
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`${SHARD}: reset; restarts at TRIM_HORIZON \\(batch 4\\)`));
    const s = (await states.read(SHARD))!.state;
    assert.deepEqual([s.stopped, s.restartAt, s.batch, s.lease.epoch], [null, { type: "TRIM_HORIZON" }, 4, 3]);

    await writeState(states, SHARD, { stopped: STOPPED, lease: { owner: "worker-7", counter: 9, epoch: 3 } });
    const live = await runCli(["checkpoints", "reset", "--shard", SHARD, "--to", "latest", "--yes"], env());
    assert.equal(live.code, 1, live.stderr);
    assert.match(live.stderr, /a worker holds the lease of shardId-000000000000 \(held by worker-7, renewed \d+ s ago/);
    assert.ok((await states.read(SHARD))!.state.stopped, "still stopped");
    const forced = await runCli(["checkpoints", "reset", "--all", "--to", "2026-01-01T00:00:00Z", "--yes", "--force"], env());
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual((await states.read(SHARD))!.state.restartAt, { type: "AT_TIMESTAMP", timestamp: "2026-01-01T00:00:00.000Z" });
  });
});

describe("run --once with a stopped shard, against kinesis-local", () => {
  let kinesis: KinesisLocal;
  let dir: string;
  before(async () => {
    [kinesis, dir] = await Promise.all([startKinesisLocal(), fs.mkdtemp(path.join(os.tmpdir(), "ds-stopped-"))]);
  });
  after(async () => {
    await kinesis?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test("exits 3 naming the shard while the others are committed; status shows why; after a reset it resumes and exits 0", async () => {
    await kinesis.createStream("gappy", 2);
    const orders = makeOrders(60, 7);
    await putRecords(kinesis.client, "gappy", orders.map((o) => ({ data: enc.encode(JSON.stringify(o)), partitionKey: String(o.order_id) })));
    const env = {
      STREAM_NAME: "gappy", TABLES_ROOT: dir, LOG_FILE: "", LOG_LEVEL: "warning",
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing",
    };
    assert.equal((await runCli(["tables", "init-packages", "--demo", "--stock", "1000000"], env)).code, 0);
    // The first shard was stopped at a gap by an earlier run (released, as the finder does).
    const states = await statesIn(path.join(dir, "orders/delta/checkpoints"), "gappy");
    await writeState(states, SHARD, { stopped: STOPPED });

    const run = await runCli(["run", "--once"], env);
    assert.equal(run.code, 3, `exit code 3: ${run.stderr}`);
    assert.match(run.stderr, /1 shard\(s\) stopped at a gap in the stream, operator action needed .*shardId-000000000000: The stream no longer has record 100\/0/);
    const rowsAfterFirst = Number(/ orders=(\d+)/.exec(run.stdout)?.[1]);
    assert.ok(rowsAfterFirst > 0 && rowsAfterFirst < 60, `the other shard's orders were committed (${rowsAfterFirst} of 60): ${run.stdout}`);

    const status = await runCli(["status"], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /shardId-000000000000 +- +0 STOPPED/);
    assert.match(status.stdout, /stopped 2026-01-01T00:00:00.000Z by w1: The stream no longer has record 100\/0/);
    assert.match(status.stdout, /to resume it: data-subscriber checkpoints reset --stream gappy --shard shardId-000000000000 --to trim-horizon/);

    const reset = await runCli(["checkpoints", "reset", "--stream", "gappy", "--shard", SHARD, "--to", "trim-horizon", "--yes"], env);
    assert.equal(reset.code, 0, reset.stderr);
    const again = await runCli(["run", "--once"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(Number(/ orders=(\d+)/.exec(again.stdout)?.[1]), 60 - rowsAfterFirst, "the rest of the orders, once");
    const final = await runCli(["status"], env);
    assert.match(final.stdout, /orders +version +\d+ +files +\d+ +rows +60 /);
    assert.doesNotMatch(final.stdout, /STOPPED/);
  });
});
