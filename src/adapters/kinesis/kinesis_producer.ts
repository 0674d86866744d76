import { type KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { POLICIES } from "../../core/retry/policies.ts";
import { retry } from "../../core/retry/retry.ts";
import { type Clock, systemClock } from "../../ports/clock.ts";

export interface PutEntry {
  data: Uint8Array;
  partitionKey: string;
}

/** Some entries of a PutRecords call failed (throttled shards, internal errors); they are put again. */
export class FailedEntriesError extends Error {
  override name = "FailedEntriesError";
  constructor(readonly stream: string, readonly failed: number, readonly sent: number, readonly firstError: string | undefined) {
    super(`PutRecords failed for ${failed} of ${sent} records of stream '${stream}'${firstError ? ` (${firstError})` : ""}`);
  }
}

/**
 * Puts records with PutRecords, 500 (or 5 MiB) a call, putting the entries Kinesis failed
 * (throttled) again with backoff, as {@link POLICIES.putRecords} says, until all are in.
 *
 * @param clock the backoff's pauses. @default systemClock
 * @returns the number of records put.
 * @throws {RetryExhaustedError} when some entries still failed after the policy's attempts
 *   (its cause a {@link FailedEntriesError}); what the client throws, as it is.
 */
export async function putRecords(client: KinesisClient, stream: string, entries: readonly PutEntry[], clock: Clock = systemClock): Promise<number> {
  let put = 0;
  let i = 0;
  while (i < entries.length) {
    let bytes = 0;
    let j = i;
    while (j < entries.length && j - i < 500 && bytes + entries[j]!.data.length + entries[j]!.partitionKey.length <= 5 * 1024 * 1024) {
      bytes += entries[j]!.data.length + entries[j]!.partitionKey.length;
      j++;
    }
    if (j === i) j = i + 1;
    let pending = entries.slice(i, j);
    await retry(async () => {
      const res = await client.send(new PutRecordsCommand({
        StreamName: stream,
        Records: pending.map((e) => ({ Data: e.data, PartitionKey: e.partitionKey })),
      }));
      const failed = pending.filter((_, k) => res.Records?.[k]?.ErrorCode);
      put += pending.length - failed.length;
      if (failed.length > 0) {
        const first = res.Records?.find((r) => r.ErrorCode);
        const sent = pending.length;
        pending = failed;
        throw new FailedEntriesError(stream, failed.length, sent, first && (first.ErrorMessage ? `${first.ErrorCode}: ${first.ErrorMessage}` : first.ErrorCode));
      }
    }, POLICIES.putRecords, { clock, retriable: (err) => err instanceof FailedEntriesError });
    i = j;
  }
  return put;
}
