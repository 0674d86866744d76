/**
 * A position in a shard: the sequence number of a Kinesis record and the index of a user
 * record inside it (0 when the record was not aggregated).
 */
export interface Position {
  sequenceNumber: string;
  subSequenceNumber: number;
}

/**
 * Orders positions: sequence numbers as BigInt (they are decimal strings of up to 128
 * bits, far beyond a double), then sub-sequence numbers.
 */
export function comparePositions(a: Position, b: Position): number {
  const x = BigInt(a.sequenceNumber);
  const y = BigInt(b.sequenceNumber);
  if (x !== y) return x < y ? -1 : 1;
  return a.subSequenceNumber - b.subSequenceNumber;
}

export function positionOf(r: { sequenceNumber: string; subSequenceNumber: number }): Position {
  return { sequenceNumber: r.sequenceNumber, subSequenceNumber: r.subSequenceNumber };
}
