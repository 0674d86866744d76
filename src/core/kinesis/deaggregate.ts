/**
 * De-aggregation of KPL (Kinesis Producer Library) aggregated records into user records, and
 * the shard membership test of a user record.
 *
 * The KPL aggregated format is: the magic bytes `F3 89 9A C2`, a protobuf `AggregatedRecord`,
 * then the 16-byte MD5 digest of that protobuf:
 *
 * ```proto
 * message AggregatedRecord {
 *   repeated string partition_key_table = 1;
 *   repeated string explicit_hash_key_table = 2;
 *   repeated Record records = 3;
 * }
 * message Record {
 *   required uint64 partition_key_index = 1;
 *   optional uint64 explicit_hash_key_index = 2;
 *   required bytes data = 3;
 *   repeated Tag tags = 4;
 * }
 * message Tag { required string key = 1; optional string value = 2; }
 * ```
 *
 * The protobuf reader here is hand-rolled and reads only what this format needs.
 * @module
 */

import { createHash } from "node:crypto";
import type { KinesisRecord } from "../../ports/record_source.ts";
import type { UserRecord } from "./records.ts";

const MAGIC = [0xf3, 0x89, 0x9a, 0xc2] as const;
const DIGEST_SIZE = 16;
/** A uint64 takes at most 10 bytes as a varint. */
const MAX_VARINT_BYTES = 10;
/** The largest tag: field number 2^29 - 1 with wire type 7. */
const MAX_TAG = 0xffff_ffff;

// Tags (field number << 3 | wire type) of the fields read; any other tag is skipped.
const PARTITION_KEY_TABLE = (1 << 3) | 2;
const EXPLICIT_HASH_KEY_TABLE = (2 << 3) | 2;
const RECORDS = (3 << 3) | 2;
const PARTITION_KEY_INDEX = (1 << 3) | 0;
const EXPLICIT_HASH_KEY_INDEX = (2 << 3) | 0;
const DATA = (3 << 3) | 2;
const TAGS = (4 << 3) | 2;
const TAG_KEY = (1 << 3) | 2;

/** A sub-record has no explicit hash key index. */
const NO_INDEX = -1;

const utf8 = new TextDecoder();

/**
 * Splits one Kinesis record into its user records.
 *
 * A KPL aggregated record (magic bytes, a protobuf `AggregatedRecord`, and the MD5 of that
 * protobuf) yields one user record per sub-record, in the order they were aggregated, with
 * `subSequenceNumber` 0, 1, 2, …, the partition key and explicit hash key its indexes point at,
 * the record's `sequenceNumber` and `approximateArrivalTimestamp`, and `aggregated: true`.
 * Sub-record data are views into `record.data`, not copies, and the arrival `Date` is shared.
 * An aggregated record without sub-records yields none, as with the KCL.
 *
 * Anything else is returned as it is, as sub-record 0 with `aggregated: false`: data without
 * the magic bytes, a digest that does not match, a protobuf that does not parse (truncated, a
 * group or reserved wire type, a missing required field), or an index outside its table. Bad
 * data never throws.
 *
 * Every sub-record is returned, including those whose hash key lies outside the hash key range
 * of the shard the record was read from, which happens when the KPL aggregated records with a
 * shard map that a reshard made stale. The KCL does not do that: its `ProcessTask` passes the
 * shard's hash key range to `AggregatorUtil.deaggregate(records, startingHashKey,
 * endingHashKey)` (unless `skipShardSyncAtWorkerInitializationIfLeasesExist` is set or the
 * shard cannot be listed), and as soon as one sub-record's hash key falls outside that range it
 * silently discards the whole aggregated record, in-range sub-records included. The KCL does so
 * because the KPL puts again every user record that landed in a shard whose range does not hold
 * its hash key (its "Wrong Shard" retry), so such copies are duplicates of records that reach
 * the right shard later. Since KPL 0.15.11 the KPL counts the in-range user records of such a
 * put as delivered and retries only the others, so a caller that wants the KCL's de-duplication
 * should drop sub-records one by one with {@linkcode belongsToShard}, not whole records.
 *
 * @example
 * ```ts
 * for (const user of deaggregate(record)) {
 *   handle(user.partitionKey, user.data);
 * }
 * ```
 */
export function deaggregate(record: KinesisRecord): UserRecord[] {
  const data = record.data;
  const bodyStart = MAGIC.length;
  const bodyEnd = data.length - DIGEST_SIZE;
  if (bodyEnd <= bodyStart || !startsWithMagic(data) || !digestMatches(data, bodyStart, bodyEnd)) {
    return [notAggregated(record)];
  }
  let parsed: AggregatedRecord;
  try {
    parsed = parseAggregatedRecord(new ProtobufReader(data, bodyStart, bodyEnd));
  } catch (error) {
    if (error instanceof MalformedProtobufError) return [notAggregated(record)];
    throw error;
  }
  return toUserRecords(record, parsed) ?? [notAggregated(record)];
}

/**
 * Whether a user record's hash key lies in a shard's hash key range, bounds included: the
 * test the KCL applies to each sub-record of an aggregated record (see {@linkcode deaggregate}).
 *
 * The hash key is the explicit hash key, read as a decimal integer, when the record has one;
 * otherwise the MD5 digest of its UTF-8 partition key, read as a 128-bit big-endian unsigned
 * integer, as Kinesis routes it. An explicit hash key that is not a decimal integer belongs to
 * no shard.
 *
 * @param range The shard's `HashKeyRange`, as decimal strings (`ListShards` returns them so).
 * @throws {SyntaxError} When a bound of `range` is not an integer.
 * @example
 * ```ts
 * const mine = deaggregate(record).filter((user) => belongsToShard(user, shard.hashKeyRange));
 * ```
 */
export function belongsToShard(
  record: Pick<KinesisRecord, "partitionKey" | "explicitHashKey">,
  range: { startingHashKey: string; endingHashKey: string },
): boolean {
  const hashKey = hashKeyOf(record);
  return hashKey !== undefined && hashKey >= BigInt(range.startingHashKey) && hashKey <= BigInt(range.endingHashKey);
}

/** The hash key Kinesis routes a record by, or undefined for an explicit hash key that is not decimal. */
function hashKeyOf(record: Pick<KinesisRecord, "partitionKey" | "explicitHashKey">): bigint | undefined {
  const explicit = record.explicitHashKey;
  if (explicit !== undefined) return /^[0-9]+$/.test(explicit) ? BigInt(explicit) : undefined;
  return BigInt(`0x${createHash("md5").update(record.partitionKey, "utf8").digest("hex")}`);
}

function notAggregated(record: KinesisRecord): UserRecord {
  return { ...record, subSequenceNumber: 0, aggregated: false };
}

function startsWithMagic(data: Uint8Array): boolean {
  return data[0] === MAGIC[0] && data[1] === MAGIC[1] && data[2] === MAGIC[2] && data[3] === MAGIC[3];
}

/** Whether the 16 bytes after `bodyEnd` are the MD5 digest of `data[bodyStart, bodyEnd)`. */
function digestMatches(data: Uint8Array, bodyStart: number, bodyEnd: number): boolean {
  const digest = createHash("md5").update(data.subarray(bodyStart, bodyEnd)).digest();
  for (let i = 0; i < DIGEST_SIZE; i++) {
    if (digest[i] !== data[bodyEnd + i]) return false;
  }
  return true;
}

/**
 * A decoded `AggregatedRecord`. Sub-records are kept flat, four numbers each: partition key
 * index, explicit hash key index (or {@link NO_INDEX}), and the start and end of the data.
 */
interface AggregatedRecord {
  partitionKeys: string[];
  explicitHashKeys: string[];
  subRecords: number[];
}

/** Builds the user records, or returns undefined when an index lies outside its table. */
function toUserRecords(record: KinesisRecord, parsed: AggregatedRecord): UserRecord[] | undefined {
  const { partitionKeys, explicitHashKeys, subRecords } = parsed;
  const data = record.data;
  const arrival = record.approximateArrivalTimestamp;
  const users: UserRecord[] = [];
  for (let i = 0, at = 0; at < subRecords.length; i++, at += 4) {
    const partitionKey = partitionKeys[subRecords[at]!];
    if (partitionKey === undefined) return undefined;
    const user: UserRecord = {
      data: data.subarray(subRecords[at + 2]!, subRecords[at + 3]!),
      partitionKey,
      sequenceNumber: record.sequenceNumber,
      subSequenceNumber: i,
      aggregated: true,
    };
    if (arrival !== undefined) user.approximateArrivalTimestamp = arrival;
    const explicitHashKeyIndex = subRecords[at + 1]!;
    if (explicitHashKeyIndex !== NO_INDEX) {
      const explicitHashKey = explicitHashKeys[explicitHashKeyIndex];
      if (explicitHashKey === undefined) return undefined;
      user.explicitHashKey = explicitHashKey;
    }
    users.push(user);
  }
  return users;
}

function parseAggregatedRecord(reader: ProtobufReader): AggregatedRecord {
  const parsed: AggregatedRecord = { partitionKeys: [], explicitHashKeys: [], subRecords: [] };
  while (reader.pos < reader.limit) {
    const tag = reader.tag();
    switch (tag) {
      case PARTITION_KEY_TABLE:
        parsed.partitionKeys.push(reader.string());
        break;
      case EXPLICIT_HASH_KEY_TABLE:
        parsed.explicitHashKeys.push(reader.string());
        break;
      case RECORDS:
        parseRecord(reader, parsed.subRecords);
        break;
      default:
        reader.skip(tag);
    }
  }
  return parsed;
}

/** Reads one length-delimited `Record` and appends its four numbers to `subRecords`. */
function parseRecord(reader: ProtobufReader, subRecords: number[]): void {
  const end = reader.delimitedEnd();
  const outerLimit = reader.limit;
  reader.limit = end;
  let partitionKeyIndex = NO_INDEX;
  let explicitHashKeyIndex = NO_INDEX;
  let dataStart = NO_INDEX;
  let dataEnd = NO_INDEX;
  while (reader.pos < end) {
    const tag = reader.tag();
    switch (tag) {
      case PARTITION_KEY_INDEX:
        partitionKeyIndex = reader.varint();
        break;
      case EXPLICIT_HASH_KEY_INDEX:
        explicitHashKeyIndex = reader.varint();
        break;
      case DATA:
        dataEnd = reader.delimitedEnd();
        dataStart = reader.pos;
        reader.pos = dataEnd;
        break;
      case TAGS:
        checkTag(reader);
        break;
      default:
        reader.skip(tag);
    }
  }
  reader.limit = outerLimit;
  if (partitionKeyIndex === NO_INDEX) throw new MalformedProtobufError("A Record has no partition_key_index.");
  if (dataStart === NO_INDEX) throw new MalformedProtobufError("A Record has no data.");
  subRecords.push(partitionKeyIndex, explicitHashKeyIndex, dataStart, dataEnd);
}

/** Reads past one length-delimited `Tag`, checking that it has its required key. */
function checkTag(reader: ProtobufReader): void {
  const end = reader.delimitedEnd();
  const outerLimit = reader.limit;
  reader.limit = end;
  let hasKey = false;
  while (reader.pos < end) {
    const tag = reader.tag();
    if (tag === TAG_KEY) hasKey = true;
    reader.skip(tag);
  }
  reader.limit = outerLimit;
  if (!hasKey) throw new MalformedProtobufError("A Tag has no key.");
}

/** The bytes are not a protobuf message of the expected shape. Never escapes {@link deaggregate}. */
class MalformedProtobufError extends Error {
  override name = "MalformedProtobufError";
}

/** Reads protobuf wire format from `bytes[pos, limit)`; each read throws {@link MalformedProtobufError} past `limit`. */
class ProtobufReader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    public limit: number,
  ) {}

  /**
   * An unsigned varint of up to 64 bits. Values above 2^53 lose precision, which only matters
   * for indexes, and those are out of any table anyway.
   */
  varint(): number {
    const { bytes, limit } = this;
    let pos = this.pos;
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < MAX_VARINT_BYTES && pos < limit; i++) {
      const byte = bytes[pos++]!;
      value += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        this.pos = pos;
        return value;
      }
      multiplier *= 0x80;
    }
    throw new MalformedProtobufError(pos >= limit ? "A varint is truncated." : "A varint is longer than 10 bytes.");
  }

  /** A field's tag; field number 0 and tags over 32 bits are malformed. */
  tag(): number {
    const tag = this.varint();
    if (tag < 8 || tag > MAX_TAG) throw new MalformedProtobufError(`Invalid tag ${tag}.`);
    return tag;
  }

  /** Reads a length prefix and returns where the value ends; `pos` is left at its start. */
  delimitedEnd(): number {
    const length = this.varint();
    if (length > this.limit - this.pos) throw new MalformedProtobufError("A length-delimited field is truncated.");
    return this.pos + length;
  }

  /** A length-delimited UTF-8 string; invalid sequences decode to U+FFFD, as protobuf-java's proto2 strings do. */
  string(): string {
    const end = this.delimitedEnd();
    const value = utf8.decode(this.bytes.subarray(this.pos, end));
    this.pos = end;
    return value;
  }

  /** Skips the value of a field with this tag, for wire types 0, 1, 2 and 5; groups and reserved types are malformed. */
  skip(tag: number): void {
    switch (tag & 7) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.pos = this.delimitedEnd();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new MalformedProtobufError(`Unsupported wire type ${tag & 7}.`);
    }
  }

  private advance(count: number): void {
    if (count > this.limit - this.pos) throw new MalformedProtobufError("A fixed-size field is truncated.");
    this.pos += count;
  }
}
