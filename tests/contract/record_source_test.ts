/**
 * The RecordSource contract against both adapters: the Kinesis adapter on kinesis-local,
 * and the in-memory ScriptedSource.
 */
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { DescribeStreamSummaryCommand, PutRecordsCommand, SplitShardCommand } from "@aws-sdk/client-kinesis";
import { KinesisSource } from "../../src/adapters/kinesis/kinesis_source.ts";
import { ScriptedSource } from "../../src/adapters/memory/scripted_source.ts";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";
import { waitFor } from "../helpers/servers.ts";
import { type RecordSourceFixture, runRecordSourceContract } from "./record_source_contract.ts";

/** The children of `parent` in `source`, lower hash keys first. */
async function childrenOf(source: KinesisSource | ScriptedSource, parent: string): Promise<[string, string]> {
  const children = (await source.listShards())
    .filter((s) => s.parentShardId === parent)
    .sort((a, b) => (BigInt(a.hashKeyRange.startingHashKey) < BigInt(b.hashKeyRange.startingHashKey) ? -1 : 1));
  assert.equal(children.length, 2, `the split of ${parent} made two children`);
  return [children[0]!.shardId, children[1]!.shardId];
}

describe("ScriptedSource", () => {
  let n = 0;
  runRecordSourceContract("scripted", (shards): Promise<RecordSourceFixture> => {
    const source = new ScriptedSource(`scripted-${++n}`, shards);
    return Promise.resolve({
      source,
      put: (entries) => Promise.resolve(entries.map((e) => source.put(e.partitionKey, e.data))),
      split: (shardId) => Promise.resolve(source.split(shardId)),
      trimBefore: (time) => (source.trimBefore(time.getTime()), Promise.resolve()),
    });
  });
});

describe("KinesisSource on kinesis-local", () => {
  let kinesis: KinesisLocal;
  before(async () => (kinesis = await startKinesisLocal()));
  after(() => kinesis?.stop());

  let n = 0;
  runRecordSourceContract("kinesis", async (shards): Promise<RecordSourceFixture> => {
    const stream = `contract-${++n}`;
    await kinesis.createStream(stream, shards);
    const source = new KinesisSource(stream, kinesis.client);
    return {
      source,
      async put(entries) {
        const res = await kinesis.client.send(new PutRecordsCommand({
          StreamName: stream,
          Records: entries.map((e) => ({ PartitionKey: e.partitionKey, Data: e.data })),
        }));
        assert.equal(res.FailedRecordCount ?? 0, 0, `PutRecords to '${stream}' failed for some records`);
        return (res.Records ?? []).map((r) => ({ shardId: r.ShardId!, sequenceNumber: r.SequenceNumber! }));
      },
      async split(shardId) {
        const parent = (await source.listShards()).find((s) => s.shardId === shardId)!;
        const lo = BigInt(parent.hashKeyRange.startingHashKey);
        const hi = BigInt(parent.hashKeyRange.endingHashKey);
        const middle = lo + (hi - lo) / 2n + 1n;
        await kinesis.client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: shardId, NewStartingHashKey: middle.toString() }));
        await waitFor(`stream '${stream}' to be ACTIVE after the split`, async () => {
          const out = await kinesis.client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
          return out.StreamDescriptionSummary?.StreamStatus === "ACTIVE";
        }, 10_000);
        return childrenOf(source, shardId);
      },
    };
  });
});
