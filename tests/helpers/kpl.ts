/**
 * Builds KPL aggregated records with an independent encoder, the npm package `aws-kinesis-agg`
 * (AWS Labs' kinesis-aggregation for Node, protobufjs underneath), so that tests of the
 * de-aggregator do not check it against itself.
 * @module
 */

import awsKinesisAgg from "aws-kinesis-agg";

/** One user record to aggregate. */
export interface UserRecordInput {
  partitionKey: string;
  data: Uint8Array;
  explicitHashKey?: string;
}

/** The part of `aws-kinesis-agg` used here; its bundled typings do not declare `RecordAggregator`. */
interface AwsKinesisAgg {
  RecordAggregator: new () => {
    addUserRecord(record: UserRecordInput): void;
    build(): { partitionKey: string; data: Uint8Array } | undefined;
  };
}

const { RecordAggregator } = awsKinesisAgg as unknown as AwsKinesisAgg;

/**
 * The data of one KPL aggregated record holding `records` in order: magic bytes, protobuf,
 * MD5. The bytes are a view that usually starts inside a larger buffer (Node's Buffer pool),
 * which keeps readers honest about `byteOffset`.
 *
 * `aws-kinesis-agg` (4.2.8) builds its key tables with `Object.keys`, which lists keys that look
 * like array indexes ("0" … "4294967294") first, in numeric order, so such partition keys or
 * explicit hash keys can get the wrong index. This throws rather than encode them wrongly.
 *
 * @throws {RangeError} When a key looks like an array index, or the records exceed the 1 MiB
 *   Kinesis record (`aws-kinesis-agg` says "record won't fit").
 */
export function aggregateRecords(records: readonly UserRecordInput[]): Uint8Array {
  const aggregator = new RecordAggregator();
  for (const record of records) {
    for (const key of [record.partitionKey, record.explicitHashKey]) {
      if (key !== undefined && isArrayIndex(key)) {
        throw new RangeError(`aws-kinesis-agg would misindex the key '${key}': use keys that are not array indexes`);
      }
    }
    const input: UserRecordInput = { partitionKey: record.partitionKey, data: record.data };
    if (record.explicitHashKey !== undefined) input.explicitHashKey = record.explicitHashKey;
    try {
      aggregator.addUserRecord(input);
    } catch (cause) {
      throw new RangeError(`Cannot aggregate ${records.length} records: ${String(cause)}`, { cause });
    }
  }
  const built = aggregator.build();
  if (built === undefined) throw new RangeError("Cannot aggregate no records: aws-kinesis-agg builds nothing");
  return new Uint8Array(built.data.buffer, built.data.byteOffset, built.data.byteLength);
}

function isArrayIndex(key: string): boolean {
  return /^(0|[1-9][0-9]{0,9})$/.test(key) && Number(key) <= 4_294_967_294;
}
