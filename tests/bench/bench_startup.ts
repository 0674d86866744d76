/**
 * `make bench-startup`: the binary's size, its cold start to the first GetRecords call
 * (timed by a proxy in front of kinesis-local), and its resident memory once idle; beside
 * them, what the PySpark job this replaces needs before it can read anything: a Spark
 * session with Delta.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { startKinesisLocal } from "../helpers/kinesis_local.ts";
import { freePort, pythonBin, REPO, waitFor } from "../helpers/servers.ts";

const BIN = path.join(REPO, "dist/data-subscriber");
const RUNS = 5;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A pass-through proxy that notes when the first GetRecords arrives. */
async function proxy(target: string): Promise<{ url: string; firstPoll(): number | undefined; reset(): void; close(): void }> {
  let first: number | undefined;
  const port = await freePort();
  const server = http.createServer((req, res) => {
    if (first === undefined && String(req.headers["x-amz-target"] ?? "").endsWith(".GetRecords")) first = performance.now();
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 500, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${port}`, firstPoll: () => first, reset: () => (first = undefined), close: () => server.close() };
}

const kinesis = await startKinesisLocal();
await kinesis.createStream("startup", 1);
const px = await proxy(kinesis.endpoint);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-startup-"));
const env = {
  ...process.env, STREAM_NAME: "startup", TABLES_ROOT: root, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x",
  AWS_ENDPOINT_URL_KINESIS: px.url, LOG_LEVEL: "warning",
};
spawnSync(BIN, ["tables", "init-packages", "--demo"], { env });
const starts: number[] = [];
let idleRss = 0;
for (let i = 0; i < RUNS; i++) {
  px.reset();
  const t0 = performance.now();
  const child = spawn(BIN, ["run", "--log-file="], { env, stdio: "ignore" });
  await waitFor("the first GetRecords", () => px.firstPoll() !== undefined, 30_000);
  starts.push(px.firstPoll()! - t0);
  if (i === RUNS - 1) {
    await new Promise((r) => setTimeout(r, 5000));
    idleRss = rssMiB(child.pid!);
  }
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
}
px.close();
await kinesis.stop();
fs.rmSync(root, { recursive: true, force: true });

const spark = spawnSync(pythonBin(), ["-c", `
import time, resource
t = time.perf_counter()
from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession
b = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false") \\
  .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension") \\
  .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
s = configure_spark_with_delta_pip(b).getOrCreate()
s.range(1).count()
print(time.perf_counter() - t)
`], { encoding: "utf8" });
const sparkSeconds = spark.status === 0 ? Number(spark.stdout.trim().split("\n").pop()) : NaN;

const median = [...starts].sort((a, b) => a - b)[Math.floor(starts.length / 2)]!;
const size = fs.statSync(BIN).size / 1048576;
console.log(`bench-startup: ${RUNS} cold starts of 'data-subscriber run' against kinesis-local (1 shard, tables in a local folder)\n`);
console.log(`binary size                ${size.toFixed(1)} MiB (${path.relative(REPO, BIN)})`);
console.log(`start to first GetRecords  median ${median.toFixed(0)} ms (all: ${starts.map((s) => s.toFixed(0)).join(", ")} ms)`);
console.log(`idle RSS after 5 s         ${idleRss.toFixed(1)} MiB`);
console.log(`\nreference: a local Spark session with Delta, ready to run a query: ${Number.isNaN(sparkSeconds) ? "not measured (" + spark.stderr.slice(-200) + ")" : sparkSeconds.toFixed(1) + " s"}`);
