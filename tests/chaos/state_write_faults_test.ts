/**
 * A shard state write that S3 applied but answered with an error (a 500 after the write,
 * or a connection lost before the answer): the SDK sends it again, its If-Match no longer
 * holds (412), and the worker must recognise its own write. Through the binary, with the
 * fault proxy in front of moto aiming at one intent write.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { runCli, signal, spawnCli } from "../helpers/cli.ts";
import { assertExactlyOnce } from "../helpers/e2e_checks.ts";
import { cliEnv, enc, makeOrders, putAll, richAndPoorPackages, startWorld, type World } from "../helpers/e2e_env.ts";
import { type FaultKind, type FaultProxy, startFaultProxy } from "../helpers/fault_proxy.ts";
import { waitFor } from "../helpers/servers.ts";

describe("a shard state write applied but answered with an error", () => {
  let w: World;
  let proxy: FaultProxy;
  before(async () => {
    w = await startWorld();
    proxy = await startFaultProxy({ target: w.moto.endpoint, seed: 1, rate: 0 });
  });
  after(async () => {
    await proxy?.stop();
    await w?.stop();
  });

  for (const [i, kind] of (["error-after", "drop-after"] as FaultKind[]).entries()) {
    test(`(${kind}) on an intent does not stop the shard`, async () => {
      const stream = `state-write-${i}`;
      await w.kinesis.createStream(stream, 1);
      const bucket = await w.moto.bucket(stream);
      const direct = cliEnv(w, { STREAM_NAME: stream, TABLES_ROOT: `s3://${bucket}` });
      const pkg = richAndPoorPackages();
      const pkgFile = path.join(w.tmp, `${stream}.json`);
      await fs.writeFile(pkgFile, JSON.stringify(pkg.rows));
      assert.equal((await runCli(["tables", "init-packages", "--from", pkgFile], direct)).code, 0);
      const orders = makeOrders(600, 7 + i);
      const put = (from: number, to: number) =>
        putAll(w, stream, orders.slice(from, to).map((o) => ({ data: enc.encode(JSON.stringify(o)), key: String(o.order_id) })));
      const s3 = new S3Client(w.moto.s3);
      const state = async () => {
        const key = `orders/delta/checkpoints/data-subscriber/${stream}/shards/shardId-000000000000.json`;
        const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
        return JSON.parse(body) as { batch: number; intent: unknown; position: { sequenceNumber: string } | null };
      };
      const run = spawnCli(["run"], { ...direct, AWS_ENDPOINT_URL_S3: proxy.endpoint, WORKER_ID: "only", MAX_BATCH_RECORDS: "100", MAX_BATCH_AGE: "500ms", LEASE_DURATION: "4s" });
      try {
        await put(0, 300);
        await waitFor("the first orders committed", async () => (await state()).batch >= 3, 60_000);
        // The next intent written is applied by S3, but its answer is an error.
        proxy.forceNext(kind, { op: "PUT", path: /\/shards\//, body: /"intent": \{/ });
        await put(300, 600);
        try {
          await waitFor("every order committed", async () => {
            const st = await state();
            return !st.intent && (await state()).batch >= 6 && proxy.counts.get(kind) === 1 && run.child.exitCode === null &&
              (await w.delta.request({ op: "read", engine: "deltalake", path: `s3://${bucket}/orders/delta/bronze/orders`, storage: { AWS_ENDPOINT_URL: w.moto.endpoint, AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_REGION: "us-east-1", AWS_ALLOW_HTTP: "true" }, rows: false })).count === orders.length;
          }, 60_000);
        } catch (err) {
          throw new Error(`The shard did not get past the intent write that met ${kind} (state: ${JSON.stringify(await state())}; the worker ${run.child.exitCode === null ? "still runs" : `exited ${run.child.exitCode}`}):\n${run.output().slice(-3000)}`, { cause: err });
        }
        signal(run.child);
        const res = await run.done;
        assert.equal(res.code, 0, res.stderr);
        await assertExactlyOnce(w, bucket, orders, pkg);
      } finally {
        if (run.child.exitCode === null) signal(run.child, "SIGKILL");
        s3.destroy();
      }
    });
  }
});
