import { type KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";

export interface PutEntry {
  data: Uint8Array;
  partitionKey: string;
}

/**
 * Puts records with PutRecords, 500 (or 5 MiB) a call, retrying the entries Kinesis
 * failed (throttled) with backoff until all are in.
 * @returns the number of records put.
 */
export async function putRecords(client: KinesisClient, stream: string, entries: readonly PutEntry[]): Promise<number> {
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
    for (let attempt = 0; pending.length > 0; attempt++) {
      const res = await client.send(new PutRecordsCommand({
        StreamName: stream,
        Records: pending.map((e) => ({ Data: e.data, PartitionKey: e.partitionKey })),
      }));
      const failed = pending.filter((_, k) => res.Records?.[k]?.ErrorCode);
      put += pending.length - failed.length;
      pending = failed;
      if (pending.length > 0) {
        if (attempt >= 20) throw new Error(`PutRecords kept failing for ${pending.length} records of stream '${stream}'`);
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
      }
    }
    i = j;
  }
  return put;
}
