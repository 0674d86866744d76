/**
 * Proves the kinesis-local harness: the server starts on free loopback ports, and a second
 * one runs beside the first with its own streams. What a stream on it does (puts, reads,
 * iterator positions, splits as the Kinesis reader sees them) is checked through the
 * adapter by the RecordSource contract (record_source_test.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ListStreamsCommand } from "@aws-sdk/client-kinesis";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";

describe("kinesis-local harness", () => {
  let kinesis: KinesisLocal;
  before(async () => (kinesis = await startKinesisLocal()));
  after(() => kinesis?.stop());

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
