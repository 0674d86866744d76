import assert from "node:assert/strict";
import { test } from "node:test";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { ExpiredIteratorError, FatalSourceError, ThrottledError, TransientSourceError } from "../../ports/record_source.ts";
import { KinesisSource } from "./kinesis_source.ts";

function failing(name: string, status = 400): KinesisSource {
  const client = {
    send: () => Promise.reject(Object.assign(new Error(`the service said ${name}`), { name, $metadata: { httpStatusCode: status } })),
  } as unknown as KinesisClient;
  return new KinesisSource("orders", client, "eu-south-2");
}

test("errors that retrying cannot fix name the stream, the shard and what to check", async () => {
  await assert.rejects(failing("ResourceNotFoundException").getIterator("shardId-000000000001", { type: "TRIM_HORIZON" }), (err: unknown) => {
    assert.ok(err instanceof FatalSourceError);
    assert.match(err.message, /stream 'orders', shard shardId-000000000001 in eu-south-2/);
    assert.match(err.message, /Check STREAM_NAME and AWS_REGION/);
    return true;
  });
  await assert.rejects(failing("AccessDeniedException").getIterator("shardId-000000000002", { type: "LATEST" }), (err: unknown) => {
    assert.ok(err instanceof FatalSourceError);
    assert.match(err.message, /shardId-000000000002/);
    assert.match(err.message, /kinesis:GetRecords/);
    return true;
  });
  await assert.rejects(failing("KMSAccessDeniedException").getIterator("shardId-000000000003", { type: "LATEST" }), (err: unknown) => {
    assert.ok(err instanceof FatalSourceError);
    assert.match(err.message, /KMS key/);
    assert.match(err.message, /kms:Decrypt/);
    return true;
  });
});

test("throttles, expired iterators, server and network errors are told apart for the reader to retry", async () => {
  await assert.rejects(failing("ProvisionedThroughputExceededException").getRecords("it", 10), ThrottledError);
  await assert.rejects(failing("KMSThrottlingException").getRecords("it", 10), ThrottledError);
  await assert.rejects(failing("ExpiredIteratorException").getRecords("it", 10), ExpiredIteratorError);
  await assert.rejects(failing("InternalFailure", 500).getRecords("it", 10), TransientSourceError);
  await assert.rejects(failing("ECONNRESET", 0).getRecords("it", 10), TransientSourceError);
});
