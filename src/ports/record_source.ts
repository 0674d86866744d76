/**
 * The record source port: a Kinesis data stream, or an in-memory stand-in.
 *
 * Guarantees the shard readers rely on: within a shard, records come in sequence number
 * order and each once per iterator chain; a closed shard, read to its end, answers with
 * no next iterator; `listShards` lists closed shards until they expire from the stream.
 */
export interface RecordSource {
  /** The stream's name, for messages and application ids. */
  readonly streamName: string;
  /** Every shard of the stream, open and closed, with their parents. */
  listShards(signal?: AbortSignal): Promise<ShardDescription[]>;
  /** An iterator positioned as asked. @throws {SourceError} */
  getIterator(shardId: string, position: IteratorPosition, signal?: AbortSignal): Promise<string>;
  /** The records at an iterator. @throws {SourceError} */
  getRecords(iterator: string, limit: number, signal?: AbortSignal): Promise<ReadResult>;
}

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

export interface HashKeyRange {
  startingHashKey: string;
  endingHashKey: string;
}

export interface ShardDescription {
  shardId: string;
  parentShardId?: string;
  adjacentParentShardId?: string;
  hashKeyRange: HashKeyRange;
  /** Set once the shard is closed (split or merged). */
  endingSequenceNumber?: string;
}

export type IteratorPosition =
  | { type: "TRIM_HORIZON" }
  | { type: "LATEST" }
  | { type: "AT_TIMESTAMP"; timestamp: Date }
  | { type: "AT_SEQUENCE_NUMBER"; sequenceNumber: string }
  | { type: "AFTER_SEQUENCE_NUMBER"; sequenceNumber: string };

export interface ReadResult {
  records: KinesisRecord[];
  /** `undefined` once a closed shard has been read to its end. */
  nextIterator: string | undefined;
  /** How far behind the tip of the shard this response is. */
  millisBehindLatest: number;
  /** The shards that continue this one, given with its last response. */
  childShards?: { shardId: string; parentShards: string[] }[];
}

/** Why a source call failed; the subclass says what the caller should do. */
export class SourceError extends Error {
  override name = "SourceError";
}

/** Over the shard's read limits: back off and try again. */
export class ThrottledError extends SourceError {
  override name = "ThrottledError";
}

/** The iterator is older than 5 minutes: get a new one from the last record handled. */
export class ExpiredIteratorError extends SourceError {
  override name = "ExpiredIteratorError";
}

/** A network error or a server error: try again after a pause. */
export class TransientSourceError extends SourceError {
  override name = "TransientSourceError";
}

/**
 * Retrying will not help: the stream or shard does not exist, access is denied, or the
 * KMS key cannot be used. The message says what to check.
 */
export class FatalSourceError extends SourceError {
  override name = "FatalSourceError";
}

/**
 * The stream no longer has a record the reader had to start with: its retention trimmed
 * it, so the records between it and the oldest one still there may be lost. Found when an
 * iterator taken AT_SEQUENCE_NUMBER of the last record handled answers with a later record
 * first (Kinesis starts such an iterator at the trim horizon, silently), or when a replayed
 * range does not start with its recorded first record. Retrying cannot help, and reading
 * on would skip records for good: it stops this one shard (not the run) until an operator
 * decides where it resumes.
 */
export class TrimmedError extends SourceError {
  override name = "TrimmedError";
  constructor(
    readonly shardId: string,
    /** The user record the reader had to meet first (the last committed one, or a replayed range's first). */
    readonly asked: { sequenceNumber: string; subSequenceNumber: number },
    /** The sequence number of the first record the stream gave instead, or null when it gave none. */
    readonly firstAvailable: string | null,
    options?: ErrorOptions,
  ) {
    super(
      `Shard ${shardId} no longer has record ${asked.sequenceNumber}/${asked.subSequenceNumber} (trimmed by the stream's retention): ` +
        (firstAvailable === null ? "the shard has no record left after it" : `the oldest record it has from there is ${firstAvailable}`),
      options,
    );
  }
}
