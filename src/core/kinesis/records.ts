/** The records a Kinesis consumer handles: what GetRecords returns, and the user records inside it. @module */

/**
 * One record as GetRecords (or SubscribeToShard) returns it, with its payload already
 * base64-decoded. Its data may be a KPL aggregated record holding many user records.
 */
export interface KinesisRecord {
  /** The record's payload. */
  data: Uint8Array;
  /** The partition key the producer put the record with. */
  partitionKey: string;
  /** The record's sequence number in its shard: a decimal string of up to 128 bits. */
  sequenceNumber: string;
  /** When Kinesis accepted the record, if the service said so. */
  approximateArrivalTimestamp?: Date;
  /**
   * The decimal hash key that placed the record, when one is known. GetRecords never returns
   * it; only user records inside a KPL aggregated record can carry one.
   */
  explicitHashKey?: string;
}

/**
 * One user record: either a sub-record of a KPL aggregated record or, for a record that was not
 * aggregated, the record itself. `(sequenceNumber, subSequenceNumber)` identifies it in its shard
 * and orders it, as the KCL's extended sequence number does.
 */
export interface UserRecord extends KinesisRecord {
  /** Its position inside the aggregated record, from 0; 0 for a record that was not aggregated. */
  subSequenceNumber: number;
  /** Whether it came out of a KPL aggregated record. */
  aggregated: boolean;
  /**
   * Set on an aggregated sub-record whose hash key lies outside the hash key range of the
   * shard it was read from: the KPL aggregated it with a shard map a reshard made stale, and
   * puts it again to the shard that owns it. Kept out of the tables so it is not counted twice.
   */
  outsideShard?: true;
}
