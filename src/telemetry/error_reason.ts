/**
 * The closed set of reasons a failed call is counted under in the metrics' `reason` labels:
 * never an error's class name or message, so that the label has a few known values that
 * dashboards and alerts can list.
 * @module
 */
import { CommitConflictError } from "../core/delta/errors.ts";

/** Why a call failed, as a label value. */
export const ERROR_REASONS = ["throttled", "expired_iterator", "timeout", "server_error", "connection", "access", "conflict", "other"] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];

const THROTTLES = new Set([
  "ThrottledError", "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException", "Throttling", "SlowDown", "TooManyRequestsException",
  "RequestLimitExceeded",
]);
const TIMEOUTS = new Set(["TimeoutError", "AbortError", "RequestTimeout", "RequestTimeoutException"]);
const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_SOCKET"]);
const ACCESS = new Set([
  "StoreAccessError", "FatalSourceError", "CredentialsProviderError", "AccessDenied", "AccessDeniedException", "InvalidAccessKeyId", "SignatureDoesNotMatch",
  "ExpiredToken", "UnrecognizedClientException", "NoSuchBucket", "ResourceNotFoundException",
]);

/**
 * The reason of a failure, from its cause chain (outermost first; layers wrap errors):
 * `throttled` (over a rate limit), `expired_iterator` (a Kinesis iterator older than 5 min),
 * `timeout` (a deadline passed), `server_error` (an HTTP 5xx), `connection` (refused, reset,
 * a body that broke off, no such host), `access` (denied, missing bucket or stream,
 * credentials), `conflict` (a concurrent Delta commit), else `other`.
 * @example errorReason(new ThrottledError("…")) // "throttled"
 */
export function errorReason(err: unknown): ErrorReason {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const reason = ownReason(e);
    if (reason) return reason;
  }
  return "other";
}

function ownReason(err: unknown): ErrorReason | undefined {
  if (err instanceof CommitConflictError) return "conflict";
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? "";
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLES.has(name) || status === 429) return "throttled";
  if (name === "ExpiredIteratorError" || name === "ExpiredIteratorException") return "expired_iterator";
  if (ACCESS.has(name) || status === 403) return "access";
  if (TIMEOUTS.has(name) || e.code === "ETIMEDOUT" || status === 408 || /did not finish within|timed? ?out/i.test(e.message ?? "")) return "timeout";
  if (status !== undefined && status >= 500) return "server_error";
  if (CONNECTION_CODES.has(e.code ?? "") || /socket hang up|^aborted$|ECONNREFUSED|ECONNRESET|fetch failed|broke off/i.test(e.message ?? "")) return "connection";
  return undefined;
}
