import assert from "node:assert/strict";
import { test } from "node:test";
import type { KinesisClient, PutRecordsCommand, PutRecordsCommandOutput } from "@aws-sdk/client-kinesis";
import { RetryExhaustedError } from "../../core/retry/retry.ts";
import { FakeClock } from "../memory/fake_clock.ts";
import { FailedEntriesError, putRecords } from "./kinesis_producer.ts";

/** A client whose PutRecords fails the entries `fails` picks, and records each call. */
function fakeClient(clock: FakeClock, fails: (key: string, call: number) => boolean) {
  const calls: { at: number; keys: string[] }[] = [];
  const client = {
    send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
      const keys = (command.input.Records ?? []).map((r) => r.PartitionKey!);
      calls.push({ at: clock.monoMs(), keys });
      const n = calls.length;
      const Records = keys.map((k) => (fails(k, n) ? { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded for shard" } : { SequenceNumber: "1", ShardId: "s" }));
      return Promise.resolve({ Records, FailedRecordCount: Records.filter((r) => "ErrorCode" in r).length, $metadata: {} });
    },
  };
  return { client: client as unknown as KinesisClient, calls };
}

const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionKey: `k${i}`, data: new Uint8Array(8) }));

test("entries Kinesis failed are put again, alone, after the policy's pauses", async () => {
  const clock = new FakeClock();
  // k1 fails twice, k3 once.
  const { client, calls } = fakeClient(clock, (k, n) => (k === "k1" && n <= 2) || (k === "k3" && n === 1));
  const put = await clock.settle(putRecords(client, "orders", entries(5), clock));
  assert.equal(put, 5);
  assert.deepEqual(calls.map((c) => c.keys), [["k0", "k1", "k2", "k3", "k4"], ["k1", "k3"], ["k1"]]);
  // 50 ms then 100 ms, each within the policy's ±50 % jitter.
  const [first, second] = [calls[1]!.at - calls[0]!.at, calls[2]!.at - calls[1]!.at];
  assert.ok(first >= 25 && first < 75, `first pause ${first} ms`);
  assert.ok(second >= 50 && second < 150, `second pause ${second} ms`);
});

test("a batch whose entries keep failing gives up after 20 attempts with the failure as the cause", async () => {
  const clock = new FakeClock();
  const { client, calls } = fakeClient(clock, (k) => k === "k2");
  const err = await clock.settle(putRecords(client, "orders", entries(3), clock)).catch((e: unknown) => e);
  assert.ok(err instanceof RetryExhaustedError, String(err));
  assert.equal(err.policy, "put-records");
  assert.ok(err.cause instanceof FailedEntriesError);
  assert.match(err.cause.message, /1 of 1 records of stream 'orders' \(ProvisionedThroughputExceededException: Rate exceeded/);
  assert.equal(calls.length, 20);
  // 19 pauses: 50, 100, … 1,600 ms, then 13 of 2 s: 29,150 ms, ±50 %.
  assert.ok(clock.monoMs() >= 14_575 && clock.monoMs() < 43_725, `gave up after ${clock.monoMs()} ms`);
});

test("entries go 500 to a call and every call's failures are retried before the next batch", async () => {
  const clock = new FakeClock();
  const { client, calls } = fakeClient(clock, (k, n) => k === "k10" && n === 1);
  assert.equal(await clock.settle(putRecords(client, "orders", entries(1_200), clock)), 1_200);
  assert.deepEqual(calls.map((c) => c.keys.length), [500, 1, 500, 200]);
});
