/**
 * kinesis-local (the npm build of etspaceman/kinesis-mock) as the real Kinesis server for
 * tests. Each test file that needs one calls `startKinesisLocal()` and `stop()`s it in `after`.
 *
 * What the server does, as measured on kinesis-local 0.6.2 (see also its README):
 * - GetShardIterator supports all five types; GetRecords returns `MillisBehindLatest` (arrival
 *   time of the shard's newest record minus that of the last record returned; 0 when caught
 *   up) and, on a closed shard, `ChildShards` with a null `NextShardIterator` in the response
 *   that returns its last record (or at once, if nothing is left).
 * - Iterators expire after a fixed 300 s of wall-clock time (`ExpiredIteratorException`); this
 *   cannot be configured, so expiry cannot be tested quickly against this server.
 * - No throughput limits: GetRecords/PutRecords are never throttled, PutRecords takes more than
 *   500 entries and more than 5 MiB. It is slow, though: ~600 records/s for PutRecords of
 *   500 x 1 KiB on an empty shard, falling as the shard fills (~200 records/s at 8,000 records),
 *   GetRecords ~2,000 records/s of 1 KiB. Keep streams small and make one per test.
 * - A closed shard's `EndingSequenceNumber` is the constant "9223372036854775807" (2^63-1), not
 *   its last record's sequence number, and smaller than every real sequence number.
 * - Resharding holds the stream in UPDATING for `SPLIT_SHARD_DURATION` / `MERGE_SHARDS_DURATION`
 *   / `UPDATE_SHARD_COUNT_DURATION` (500 ms each by default), but the children exist and take
 *   new records from the moment the call returns.
 *
 * The server always binds 0.0.0.0 (no setting changes that), so it is started through a small
 * preamble that makes `net.Server#listen` bind 127.0.0.1. It runs under the machine's Node.js
 * (`DS_NODE` overrides the binary) from its own package folder, where it finds `server.json`
 * (the certificate for its HTTPS port, which the tests do not use but which needs a free port).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { freePort, REPO, waitFor } from "./servers.ts";

export interface KinesisLocal {
  /** `http://127.0.0.1:<port>`, the plain-HTTP endpoint. */
  endpoint: string;
  /** A client for this server: HTTP/1.1 (`NodeHttpHandler`), us-east-1, dummy credentials. */
  client: KinesisClient;
  /** Creates a provisioned stream and waits until it is ACTIVE. */
  createStream(name: string, shards: number): Promise<void>;
  /** Stops the server (closes its stdin, SIGKILL after 2 s) and closes `client`. */
  stop(): Promise<void>;
}

export interface KinesisLocalOptions {
  /**
   * Extra environment for the server, e.g. `{ SPLIT_SHARD_DURATION: "2s", LOG_LEVEL: "DEBUG" }`
   * (see the kinesis-local README for the names).
   * @default {}
   */
  env?: Record<string, string>;
  /**
   * How long to wait for the server to answer its health check.
   * @default 30000
   */
  startTimeoutMs?: number;
}

/** Settings for an AWS SDK client of this server, for code that builds its own client. */
export const KINESIS_LOCAL_REGION = "us-east-1";
export const KINESIS_LOCAL_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" } as const;

/** The kinesis-local package folder (holds `main.js` and `server.json`). */
export function kinesisLocalDir(): string {
  const require = createRequire(path.join(REPO, "package.json"));
  return path.dirname(require.resolve("kinesis-local/package.json"));
}

/**
 * Runs `main.js` with `listen(port)` narrowed to loopback, and exits when the parent closes
 * its stdin, so a test runner that dies without running exit handlers leaves no server behind.
 */
const PREAMBLE = `
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  else if (args[0] && typeof args[0] === "object" && args[0].host === undefined) args[0] = { ...args[0], host: "127.0.0.1" };
  return listen.apply(this, args);
};
const exit = process.exit.bind(process); // main.js replaces process.exit with a slow graceful stop
process.stdin.on("data", () => {});
process.stdin.on("end", () => exit(0));
require("./main.js");
`;

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/**
 * Starts kinesis-local on two free loopback ports (HTTP, and HTTPS which stays unused) and
 * waits until it answers `GET /healthcheck`.
 * @throws Error with the server's output tail if it exits or does not answer in time.
 * @example
 * const kinesis = await startKinesisLocal();
 * await kinesis.createStream("orders", 2);
 * await kinesis.client.send(new PutRecordCommand({ StreamName: "orders", PartitionKey: "k", Data: bytes }));
 * await kinesis.stop();
 */
export async function startKinesisLocal(options: KinesisLocalOptions = {}): Promise<KinesisLocal> {
  const plainPort = await freePort();
  let tlsPort = await freePort();
  while (tlsPort === plainPort) tlsPort = await freePort();
  const nodeBin = process.env.DS_NODE || "node";
  const child = spawn(nodeBin, ["-e", PREAMBLE], {
    cwd: kinesisLocalDir(),
    env: {
      ...process.env,
      KINESIS_MOCK_PLAIN_PORT: String(plainPort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      LOG_LEVEL: "WARN",
      ...options.env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let spawnError: Error | undefined;
  // A child that failed to spawn emits "error" and never "exit".
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (err) => {
      spawnError = err;
      resolve();
    });
  });

  const endpoint = `http://127.0.0.1:${plainPort}`;
  const dead = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;
  let startError: unknown;
  try {
    // A dead child ends the polling at once (waitFor would retry a throwing check until its deadline).
    await waitFor(
      `kinesis-local to answer on ${endpoint}/healthcheck`,
      async () => {
        if (dead()) return true;
        const res = await fetch(`${endpoint}/healthcheck`, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        return res.ok;
      },
      options.startTimeoutMs ?? 30_000,
    );
  } catch (err) {
    startError = err;
  }
  if (startError !== undefined || dead()) {
    child.kill("SIGKILL");
    await exited;
    children.delete(child);
    const why = spawnError
      ? `could not run '${nodeBin}': ${spawnError.message}`
      : startError instanceof Error
        ? startError.message
        : `it exited (code ${child.exitCode}, signal ${child.signalCode})`;
    throw new Error(`Cannot start kinesis-local: ${why}. Its output ended with:\n${output}`, { cause: spawnError ?? startError });
  }
  // After a successful start, an unexpected death is still worth seeing in the test log.
  let stopping = false;
  child.once("exit", (code, signal) => {
    if (!stopping) console.error(`kinesis-local on ${endpoint} died (code ${code}, signal ${signal}); its output ended with:\n${output}`);
  });

  const client = new KinesisClient({
    endpoint,
    region: KINESIS_LOCAL_REGION,
    credentials: KINESIS_LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000 }),
  });

  return {
    endpoint,
    client,
    async createStream(name, shards) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await waitFor(`stream '${name}' to become ACTIVE`, async () => {
        const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        return StreamDescriptionSummary?.StreamStatus === "ACTIVE";
      });
    },
    async stop() {
      stopping = true;
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        // On SIGTERM the server drains for seconds; closing its stdin makes the preamble exit at
        // once. It keeps no state worth a graceful stop.
        child.stdin?.end();
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
}
