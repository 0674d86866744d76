import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type KinesisClientConfig,
  ListShardsCommand,
  type Shard,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import {
  ExpiredIteratorError,
  FatalSourceError,
  type IteratorPosition,
  type ReadResult,
  type RecordSource,
  type ShardDescription,
  SourceError,
  ThrottledError,
  TransientSourceError,
} from "../../ports/record_source.ts";

/**
 * The overall deadline of one call, the SDK's retries included (each attempt already has a
 * 30 s limit for its answer): a call past it fails as a transient error and is retried.
 */
const CALL_DEADLINE_MS = 90_000;

const THROTTLES = new Set(["ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException", "KMSThrottlingException", "SlowDown"]);
const KMS = new Set(["KMSDisabledException", "KMSInvalidStateException", "KMSAccessDeniedException", "KMSNotFoundException", "KMSOptInRequired"]);

/**
 * The Kinesis Data Streams adapter of {@link RecordSource}: ListShards (paged),
 * GetShardIterator and GetRecords through the AWS SDK, over HTTP/1.1 (`NodeHttpHandler`:
 * Bun's HTTP/2 client stalls on large responses). Errors become the port's error classes,
 * with messages that name the stream and shard and say what to check.
 */
export class KinesisSource implements RecordSource {
  readonly streamName: string;
  readonly #client: KinesisClient;
  readonly #region: string;

  constructor(streamName: string, client: KinesisClient, region = "") {
    this.streamName = streamName;
    this.#client = client;
    this.#region = region;
  }

  /**
   * A client for polling: HTTP/1.1 with keep-alive and timeouts. `requestTimeout` alone only
   * logs a warning in @smithy/node-http-handler 4.x (a server that never answers held a
   * shard's reader for ever): `throwOnRequestTimeout` makes it a deadline for the answer,
   * and `socketTimeout` ends a body that stops arriving. The SDK retries both (TimeoutError).
   */
  static client(config: KinesisClientConfig = {}): KinesisClient {
    return new KinesisClient({
      requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000, throwOnRequestTimeout: true, socketTimeout: 30_000 }),
      ...config,
    });
  }

  async listShards(signal?: AbortSignal): Promise<ShardDescription[]> {
    const out: ShardDescription[] = [];
    let token: string | undefined;
    do {
      const res = await this.#call(
        (deadline) => this.#client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.streamName }), { abortSignal: deadline }),
        undefined,
        signal,
      );
      for (const s of res.Shards ?? []) out.push(describe(s));
      token = res.NextToken;
    } while (token);
    return out;
  }

  async getIterator(shardId: string, position: IteratorPosition, signal?: AbortSignal): Promise<string> {
    const res = await this.#call((deadline) =>
      this.#client.send(
        new GetShardIteratorCommand({
          StreamName: this.streamName,
          ShardId: shardId,
          ShardIteratorType: position.type,
          ...(position.type === "AT_TIMESTAMP" ? { Timestamp: position.timestamp } : {}),
          ...(position.type === "AT_SEQUENCE_NUMBER" || position.type === "AFTER_SEQUENCE_NUMBER" ? { StartingSequenceNumber: position.sequenceNumber } : {}),
        }),
        { abortSignal: deadline },
      ), shardId, signal);
    if (!res.ShardIterator) throw new FatalSourceError(`GetShardIterator returned no iterator for shard ${shardId} of stream '${this.streamName}'`);
    return res.ShardIterator;
  }

  async getRecords(iterator: string, limit: number, signal?: AbortSignal): Promise<ReadResult> {
    const res = await this.#call(
      (deadline) => this.#client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), { abortSignal: deadline }),
      undefined,
      signal,
    );
    return {
      records: (res.Records ?? []).map((r) => ({
        data: r.Data ?? new Uint8Array(0),
        partitionKey: r.PartitionKey ?? "",
        sequenceNumber: r.SequenceNumber ?? "0",
        ...(r.ApproximateArrivalTimestamp ? { approximateArrivalTimestamp: r.ApproximateArrivalTimestamp } : {}),
      })),
      nextIterator: res.NextShardIterator ?? undefined,
      millisBehindLatest: res.MillisBehindLatest ?? 0,
      ...(res.ChildShards ? { childShards: res.ChildShards.map((c) => ({ shardId: c.ShardId ?? "", parentShards: c.ParentShards ?? [] })) } : {}),
    };
  }

  /** Runs one call under the caller's signal and the call's deadline; errors become the port's. */
  async #call<T>(fn: (deadline: AbortSignal) => Promise<T>, shardId: string | undefined, signal: AbortSignal | undefined): Promise<T> {
    const timeout = AbortSignal.timeout(CALL_DEADLINE_MS);
    try {
      return await fn(signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (err) {
      if (timeout.aborted && !signal?.aborted) {
        throw new TransientSourceError(`A Kinesis call for stream '${this.streamName}'${shardId ? `, shard ${shardId}` : ""} did not finish within ${CALL_DEADLINE_MS / 1000} s`, { cause: err });
      }
      throw this.#classify(err, shardId);
    }
  }

  #classify(err: unknown, shardId: string | undefined): SourceError {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
    const name = e?.name ?? "Error";
    const what = `stream '${this.streamName}'${shardId ? `, shard ${shardId}` : ""}${this.#region ? ` in ${this.#region}` : ""}`;
    const detail = `${name}: ${e?.message ?? String(err)}`;
    // No credentials at all: a person must set them; kept as the credential chain said it.
    if (name === "CredentialsProviderError" || name === "CredentialsError") return new FatalSourceError(e?.message ?? String(err), { cause: err });
    if (THROTTLES.has(name)) return new ThrottledError(`Throttled reading ${what} (${detail})`, { cause: err });
    if (name === "ExpiredIteratorException") return new ExpiredIteratorError(`Iterator expired reading ${what}`, { cause: err });
    if (name === "ResourceNotFoundException") {
      return new FatalSourceError(`Kinesis has no ${what} (${detail}). Check STREAM_NAME and AWS_REGION, and that the stream exists.`, { cause: err });
    }
    if (name === "AccessDeniedException" || name === "UnrecognizedClientException" || name === "InvalidSignatureException" || name === "ExpiredTokenException") {
      return new FatalSourceError(
        `Access to ${what} was refused (${detail}). Check the credentials in use and that their policy allows ` +
          `kinesis:ListShards, kinesis:GetShardIterator and kinesis:GetRecords on the stream.`,
        { cause: err },
      );
    }
    if (KMS.has(name)) {
      return new FatalSourceError(`The stream's KMS key cannot be used reading ${what} (${detail}). Check that the key is enabled and that the credentials may kms:Decrypt with it.`, { cause: err });
    }
    // No credentials (the chain's error, explained by src/adapters/aws_credentials.ts): a person must set them.
    if (name === "CredentialsError" || name === "CredentialsProviderError") return new FatalSourceError(e?.message ?? String(err), { cause: err });
    if (name === "InvalidArgumentException") return new FatalSourceError(`Kinesis refused a request for ${what} (${detail})`, { cause: err });
    if (signalAbort(err)) return new TransientSourceError(`Request for ${what} was aborted`, { cause: err });
    // Network errors, timeouts and 5xx: worth another try.
    return new TransientSourceError(`Reading ${what} failed and will be retried (${detail})`, { cause: err });
  }
}

function signalAbort(err: unknown): boolean {
  return (err as { name?: string })?.name === "AbortError";
}

function describe(s: Shard): ShardDescription {
  return {
    shardId: s.ShardId ?? "",
    ...(s.ParentShardId ? { parentShardId: s.ParentShardId } : {}),
    ...(s.AdjacentParentShardId ? { adjacentParentShardId: s.AdjacentParentShardId } : {}),
    hashKeyRange: { startingHashKey: s.HashKeyRange?.StartingHashKey ?? "0", endingHashKey: s.HashKeyRange?.EndingHashKey ?? "0" },
    ...(s.SequenceNumberRange?.EndingSequenceNumber ? { endingSequenceNumber: s.SequenceNumberRange.EndingSequenceNumber } : {}),
  };
}
