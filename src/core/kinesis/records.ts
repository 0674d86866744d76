/** The user records a Kinesis consumer handles, inside the records GetRecords returns. @module */
import type { KinesisRecord } from "../../ports/record_source.ts";

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
