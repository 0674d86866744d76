/**
 * Proves the kinesis-local harness: the server starts on free loopback ports, streams work
 * end to end, and resharding looks as the Kinesis reader will see it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from "@aws-sdk/client-kinesis";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";
import { waitFor } from "../helpers/servers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads a shard from TRIM_HORIZON until it is caught up (open shard) or ends (closed shard). */
async function readShard(kinesis: KinesisLocal, stream: string, shardId: string): Promise<{ data: string[]; last: GetRecordsCommandOutput }> {
  const { ShardIterator } = await kinesis.client.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }),
  );
  let iterator = ShardIterator;
  const data: string[] = [];
  for (let calls = 0; calls < 100; calls++) {
    const out = await kinesis.client.send(new GetRecordsCommand({ ShardIterator: iterator }));
    for (const r of out.Records ?? []) data.push(decoder.decode(r.Data));
    if (!out.NextShardIterator || ((out.Records ?? []).length === 0 && out.MillisBehindLatest === 0)) return { data, last: out };
    iterator = out.NextShardIterator;
  }
  throw new Error(`Shard ${shardId} of '${stream}' did not end or catch up within 100 GetRecords calls`);
}

async function put(kinesis: KinesisLocal, stream: string, values: string[]): Promise<string[]> {
  const out = await kinesis.client.send(
    new PutRecordsCommand({ StreamName: stream, Records: values.map((v) => ({ PartitionKey: v, Data: encoder.encode(v) })) }),
  );
  assert.equal(out.FailedRecordCount, 0);
  return (out.Records ?? []).map((r) => r.ShardId ?? "");
}

describe("kinesis-local harness", () => {
  let kinesis: KinesisLocal;
  before(async () => (kinesis = await startKinesisLocal()));
  after(() => kinesis?.stop());

  test("records put on a 2-shard stream are read back from TRIM_HORIZON of every shard", async () => {
    await kinesis.createStream("smoke-two-shards", 2);
    const values = Array.from({ length: 40 }, (_, i) => `record-${i}`);
    const shardOf = await put(kinesis, "smoke-two-shards", values);

    const { Shards } = await kinesis.client.send(new ListShardsCommand({ StreamName: "smoke-two-shards" }));
    const shardIds = (Shards ?? []).map((s) => s.ShardId ?? "");
    assert.deepEqual(shardIds, ["shardId-000000000000", "shardId-000000000001"]);
    assert.equal(new Set(shardOf).size, 2, "40 partition keys should hash to both shards");

    const seen: string[] = [];
    for (const shardId of shardIds) {
      const { data } = await readShard(kinesis, "smoke-two-shards", shardId);
      // Per-shard order is put order.
      assert.deepEqual(
        data,
        values.filter((_, i) => shardOf[i] === shardId),
      );
      seen.push(...data);
    }
    assert.deepEqual(seen.sort(), [...values].sort());
  });

  test("a split closes the parent: ListShards lists the children and the parent ends with ChildShards", async () => {
    const stream = "smoke-split";
    await kinesis.createStream(stream, 1);
    const earlier = Array.from({ length: 5 }, (_, i) => `before-${i}`);
    await put(kinesis, stream, earlier);

    await kinesis.client.send(
      new SplitShardCommand({ StreamName: stream, ShardToSplit: "shardId-000000000000", NewStartingHashKey: (2n ** 127n).toString() }),
    );
    await waitFor(`stream '${stream}' to be ACTIVE after the split`, async () => {
      const out = await kinesis.client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      return out.StreamDescriptionSummary?.StreamStatus === "ACTIVE";
    });

    const { Shards = [] } = await kinesis.client.send(new ListShardsCommand({ StreamName: stream }));
    const parent = Shards.find((s) => s.ShardId === "shardId-000000000000");
    assert.ok(parent?.SequenceNumberRange?.EndingSequenceNumber, "the parent is closed");
    const children = Shards.filter((s) => s.ParentShardId === "shardId-000000000000").map((s) => s.ShardId ?? "");
    assert.deepEqual(children, ["shardId-000000000001", "shardId-000000000002"]);

    const later = Array.from({ length: 10 }, (_, i) => `after-${i}`);
    const shardOf = await put(kinesis, stream, later);
    assert.ok(
      shardOf.every((id) => children.includes(id)),
      `records put after the split go to the children: ${shardOf.join(",")}`,
    );

    const parentRead = await readShard(kinesis, stream, "shardId-000000000000");
    assert.deepEqual(parentRead.data, earlier);
    assert.equal(parentRead.last.NextShardIterator, undefined, "a closed shard ends with no NextShardIterator");
    assert.deepEqual(
      (parentRead.last.ChildShards ?? []).map((c) => [c.ShardId, c.ParentShards]),
      children.map((id) => [id, ["shardId-000000000000"]]),
    );

    const childData = [];
    for (const id of children) childData.push(...(await readShard(kinesis, stream, id)).data);
    assert.deepEqual(childData.sort(), [...later].sort());
  });

  test("a second server runs beside the first on its own port with its own streams", async () => {
    const other = await startKinesisLocal();
    try {
      assert.notEqual(other.endpoint, kinesis.endpoint);
      assert.match(other.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      await other.createStream("only-on-the-other", 1);
      const mine = await kinesis.client.send(new ListStreamsCommand({}));
      const theirs = await other.client.send(new ListStreamsCommand({}));
      assert.ok(!(mine.StreamNames ?? []).includes("only-on-the-other"));
      assert.deepEqual(theirs.StreamNames, ["only-on-the-other"]);
    } finally {
      await other.stop();
    }
  });
});
