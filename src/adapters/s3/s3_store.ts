import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { POLICIES } from "../../core/retry/policies.ts";
import { retry, RetryExhaustedError, type RetryPolicy } from "../../core/retry/retry.ts";
import { systemClock } from "../../ports/clock.ts";
import {
  type ByteRange,
  type ListOptions,
  NotFoundError,
  type ObjectMeta,
  type ObjectStore,
  StoreAccessError,
  StoreUnavailableError,
  type Versioned,
} from "../../ports/object_store.ts";

/** Where an S3 store lives: `s3://bucket/prefix` or `s3a://bucket/prefix`. */
export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing `/`; empty for the bucket root. */
  prefix: string;
}

/** Parses `s3://bucket/prefix` (or `s3a://`). @throws {RangeError} on anything else. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m || !m[1]) throw new RangeError(`Expected an S3 URI like 's3://bucket/prefix': got '${url}'`);
  return { bucket: m[1], prefix: (m[2] ?? "").replace(/\/+$/, "") };
}

/**
 * Time limits of the default client: a connection within 5 s, then no more than 30 s
 * without a byte moving either way (an inactivity limit, so large uploads and downloads
 * are not cut). Without them a server that never answers held the caller for ever (a batch
 * commit, and with it the shards whose leases it kept renewing). The SDK retries a timeout.
 */
const HTTP_LIMITS = { connectionTimeout: 5_000, socketTimeout: 30_000 } as const;

/**
 * The overall deadline of one call, the SDK's own retries and the body included: a call
 * that trickles bytes (never 30 s idle) cannot hold a commit longer than this. Generous,
 * so a 64 MiB upload on a slow link still fits.
 */
const CALL_DEADLINE_MS = 120_000;

/** S3 error codes that say the request cannot succeed by being sent again. */
const ACCESS_CODES = new Set([
  "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
  "TokenRefreshRequired", "NoSuchBucket", "PermanentRedirect", "AuthorizationHeaderMalformed", "InvalidBucketName",
  "AccountProblem", "KMS.AccessDeniedException", "KMS.DisabledException", "KMS.NotFoundException",
]);

/**
 * An {@link ObjectStore} on an S3 bucket (AWS, or any server with conditional writes).
 *
 * `putIfAbsent` is `PutObject` with `If-None-Match: *`: 412 means another writer created
 * the key first; 409 means a concurrent conditional write was in progress, so the key is
 * checked again and the write retried.
 *
 * A 412 can also answer our own write: S3 applied the first attempt, its answer was lost (a
 * 500 after the write, a connection reset), and the SDK sent it again. So after a 412 the
 * object is read: when it holds exactly our bytes, the write was ours and succeeded (every
 * write's bytes are its own: shard states carry a revision, Delta commits their commitInfo).
 * Without this a worker took its own intent for another's and stopped its shard.
 */
export class S3Store implements ObjectStore {
  readonly url: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(location: S3Location, client: S3Client) {
    this.#client = client;
    this.#bucket = location.bucket;
    this.#prefix = location.prefix ? location.prefix + "/" : "";
    this.url = `s3://${location.bucket}${location.prefix ? "/" + location.prefix : ""}`;
  }

  /** Builds a store from a URI and S3 client settings (region, endpoint, credentials). */
  static fromUrl(url: string, config: S3ClientConfig = {}): S3Store {
    const client = new S3Client({ forcePathStyle: config.endpoint !== undefined, requestHandler: new NodeHttpHandler(HTTP_LIMITS), ...config });
    return new S3Store(parseS3Url(url), client);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    if (range && range.end <= range.start) return new Uint8Array(0);
    try {
      return (await this.#getObject(key, range)).body;
    } catch (err) {
      if (status(err) === 404) throw new NotFoundError(`${this.url}/${key}`, { cause: err });
      if (status(err) === 416) return new Uint8Array(0);
      throw err;
    }
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    try {
      const res = await this.#send(key, "HeadObject", (o) => this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }), o));
      return { key, size: res.ContentLength ?? 0, lastModified: res.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.#send(key, "PutObject", (o) => this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key, Body: body }), o));
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    return await retried(async () => {
      try {
        await this.#send(key, "PutObject", (o) =>
          this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key, Body: body, IfNoneMatch: "*" }), o));
        return true;
      } catch (err) {
        const code = status(err);
        // 412, or a 409 with the key now there: created first, by another writer or by our
        // own attempt whose answer was lost.
        if (code === 412 || (code === 409 && (await this.head(key)))) return (await this.#holds(key, body)) !== undefined;
        throw err;
      }
    }, POLICIES.s3ConditionalConflict, (err) => status(err) === 409);
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    let token: string | undefined;
    do {
      const res = await this.#send(prefix, "ListObjectsV2", (o) =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            ...(options.startAfter !== undefined ? { StartAfter: this.#prefix + options.startAfter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
          o,
        ));
      for (const obj of res.Contents ?? []) {
        if (!obj.Key) continue;
        yield {
          key: obj.Key.slice(this.#prefix.length),
          size: obj.Size ?? 0,
          lastModified: obj.LastModified?.getTime() ?? 0,
        };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.#send(key, "DeleteObject", (o) => this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }), o));
  }

  async getVersioned(key: string): Promise<Versioned | undefined> {
    try {
      const { body, etag } = await this.#getObject(key);
      if (!etag) throw new Error(`${this.url}/${key}: GetObject returned no ETag`);
      return { body, etag };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  /** The tag of the object under `key` when it holds exactly `body`, else undefined. */
  async #holds(key: string, body: Uint8Array): Promise<string | undefined> {
    const now = await this.getVersioned(key);
    return now && sameBytes(now.body, body) ? now.etag : undefined;
  }

  /** GetObject and its whole body, sent again (policy `s3BrokenBody`) when the body breaks off. */
  async #getObject(key: string, range?: ByteRange): Promise<{ body: Uint8Array; etag: string | undefined }> {
    try {
      return await retried(async () => {
        const deadline = AbortSignal.timeout(CALL_DEADLINE_MS);
        const res = await this.#send(key, "GetObject", (o) =>
          this.#client.send(
            new GetObjectCommand({
              Bucket: this.#bucket,
              Key: this.#prefix + key,
              ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
            }),
            o,
          ), deadline);
        return { body: res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0), etag: res.ETag };
      }, POLICIES.s3BrokenBody, brokenBody);
    } catch (err) {
      throw brokenBody(err) ? new StoreUnavailableError(`Reading ${this.url}/${key} broke off and kept breaking off: ${describe(err)}`, { cause: err }) : err;
    }
  }

  /**
   * Sends one request under its deadline. Errors retrying may fix (network, timeouts,
   * 5xx, throttling) become {@link StoreUnavailableError}, those it cannot (access,
   * no such bucket) {@link StoreAccessError}, both naming the bucket and key; the rest
   * (404, 409, 412, 416) stay as the SDK raised them, for the caller to read.
   */
  async #send<T>(key: string, op: string, call: (options: { abortSignal: AbortSignal }) => Promise<T>, deadline = AbortSignal.timeout(CALL_DEADLINE_MS)): Promise<T> {
    try {
      return await call({ abortSignal: deadline });
    } catch (err) {
      const where = `${this.url}/${key}`;
      if (deadline.aborted) throw new StoreUnavailableError(`S3 ${op} of ${where} did not finish within ${CALL_DEADLINE_MS / 1000} s`, { cause: err });
      const code = status(err);
      const name = (err as { name?: string; Code?: string } | null)?.name ?? "";
      if (ACCESS_CODES.has(name) || code === 403 || code === 301) {
        throw new StoreAccessError(`S3 refused ${op} of ${where} (${describe(err)}): ${accessAdvice(name, this.#bucket)}`, { cause: err });
      }
      // No credentials (explained by aws_credentials.ts, whose message may hold any path or profile name): never an outage.
      if (name === "CredentialsError" || name === "CredentialsProviderError") throw err;
      if (transient(err)) throw new StoreUnavailableError(`S3 ${op} of ${where} failed (${describe(err)}); S3 is unreachable or failing`, { cause: err });
      throw err;
    }
  }

  putIfMatch(key: string, body: Uint8Array, etag: string | undefined): Promise<string | undefined> {
    return retried(async () => {
      try {
        const res = await this.#send(key, "PutObject", (o) =>
          this.#client.send(
            new PutObjectCommand({
              Bucket: this.#bucket,
              Key: this.#prefix + key,
              Body: body,
              ...(etag === undefined ? { IfNoneMatch: "*" } : { IfMatch: etag }),
            }),
            o,
          ));
        return res.ETag ?? (await this.getVersioned(key))?.etag;
      } catch (err) {
        const code = status(err);
        // 412: the tag no longer matches (unless the object is our own write, applied by an
        // attempt whose answer was lost); 404: If-Match on an object that is gone.
        if (code === 412) return await this.#holds(key, body);
        if (code === 404 && etag !== undefined) return undefined;
        throw err;
      }
    }, POLICIES.s3ConditionalConflict, (err) => status(err) === 409);
  }
}

/** Runs `fn` under a retry policy; when it gives up, the last failure is thrown as it was. */
async function retried<T>(fn: () => Promise<T>, policy: RetryPolicy, retriable: (err: unknown) => boolean): Promise<T> {
  try {
    return await retry(fn, policy, { clock: systemClock, retriable });
  } catch (err) {
    throw err instanceof RetryExhaustedError ? err.cause : err;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A body that broke off while it streamed: worth asking again, as the SDK would for any other call. */
function brokenBody(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string } | null;
  return e?.name === "TimeoutError" || ["ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT"].includes(e?.code ?? "") || e?.message === "aborted";
}

/** Errors another attempt may get past: no connection, a timeout, a server error, throttling. */
function transient(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string; $retryable?: unknown } | null;
  const code = status(err);
  if (code !== undefined && (code >= 500 || code === 429 || code === 408)) return true;
  if (["SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed", "TimeoutError", "AbortError"].includes(e?.name ?? "")) return true;
  if (["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"].includes(e?.code ?? "")) return true;
  // No answer at all (a closed connection, an unparsable partial answer): no status.
  return code === undefined && (e?.$retryable !== undefined || /socket hang up|aborted|ECONNREFUSED|ECONNRESET|network|fetch failed|closed/i.test(e?.message ?? ""));
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string } | null;
  const name = e?.name && e.name !== "Error" ? e.name : e?.code ?? "Error";
  return `${name}: ${e?.message || "(no message)"}`;
}

/** What to check when S3 refuses a request for good. */
function accessAdvice(name: string, bucket: string): string {
  if (name === "NoSuchBucket") return `the bucket '${bucket}' does not exist: check TABLES_ROOT / BUCKET_NAME (and CHECKPOINTS_ROOT), and the region`;
  if (name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed") return `the bucket '${bucket}' is in another region: set AWS_REGION to the bucket's region`;
  if (["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"].includes(name)) {
    return "the credentials were refused: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or the profile in use";
  }
  return `check that the credentials in use may read, write and list 's3://${bucket}' (see deploy/iam-policy.json)`;
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}
