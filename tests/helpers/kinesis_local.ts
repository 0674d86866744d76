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
 * It is started by the product's own launcher (`src/adapters/kinesis/local_kinesis.ts`, which
 * the demo uses): on loopback only, under Bun (Node or Bun from the PATH when the tests run
 * under Deno), stopped when its stdin closes.
 */
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { startLocalKinesis } from "../../src/adapters/kinesis/local_kinesis.ts";
import { waitFor } from "./servers.ts";

export interface KinesisLocal {
  /** `http://127.0.0.1:<port>`, the plain-HTTP endpoint. */
  endpoint: string;
  /** A client for this server: HTTP/1.1 (`NodeHttpHandler`), us-east-1, dummy credentials. */
  client: KinesisClient;
  /** Creates a provisioned stream and waits until it is ACTIVE. */
  createStream(name: string, shards: number): Promise<void>;
  /** Stops the server and closes `client`. */
  stop(): Promise<void>;
}

export interface KinesisLocalOptions {
  /**
   * Extra environment for the server, e.g. `{ SPLIT_SHARD_DURATION: "2s", LOG_LEVEL: "DEBUG" }`
   * (see the kinesis-local README for the names).
   * @default {}
   */
  env?: Record<string, string>;
  /** How long to wait for the server to answer its health check. @default 30000 */
  startTimeoutMs?: number;
}

/** Settings for an AWS SDK client of this server, for code that builds its own client. */
export const KINESIS_LOCAL_REGION = "us-east-1";
export const KINESIS_LOCAL_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" } as const;

/**
 * Starts kinesis-local on free loopback ports and waits until it answers.
 * @example
 * const kinesis = await startKinesisLocal();
 * await kinesis.createStream("orders", 2);
 * await kinesis.stop();
 */
export async function startKinesisLocal(options: KinesisLocalOptions = {}): Promise<KinesisLocal> {
  const server = await startLocalKinesis({ ...(options.env ? { env: options.env } : {}), timeoutMs: options.startTimeoutMs ?? 30_000 });
  const client = new KinesisClient({
    endpoint: server.endpoint,
    region: KINESIS_LOCAL_REGION,
    credentials: KINESIS_LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000 }),
  });
  return {
    endpoint: server.endpoint,
    client,
    async createStream(name, shards) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await waitFor(`stream '${name}' to become ACTIVE`, async () => {
        const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        return StreamDescriptionSummary?.StreamStatus === "ACTIVE";
      });
    },
    async stop() {
      client.destroy();
      await server.stop();
    },
  };
}
