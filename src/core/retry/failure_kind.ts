import { StoreAccessError, StoreUnavailableError } from "../../ports/object_store.ts";
import { ExpiredIteratorError, FatalSourceError, ThrottledError, TransientSourceError } from "../../ports/record_source.ts";

/**
 * What a failure says about trying again, read from the ports' typed errors (and their
 * causes, since layers wrap them):
 * - `unavailable`: the store or the source is unreachable or failing (network, timeouts,
 *   5xx, throttling): waited out, within the outage budget.
 * - `access`: access denied, no such bucket or stream, credentials refused or missing:
 *   retrying cannot fix it; the process stops and says what to check.
 * - `other`: anything else (a bug, a file that cannot be built, a conflict a layer did not
 *   resolve): retried a few times, then reported.
 */
export type FailureKind = "unavailable" | "access" | "other";

/** Which dependency a failure is about, when it is an outage: the tables' store or the stream. */
export type Dependency = "store" | "source";

/** Names of credential errors of the AWS SDK's provider chain (and of our wrapper of it). */
const CREDENTIAL_ERRORS = new Set(["CredentialsProviderError", "CredentialsError"]);

/** The kind of a failure: the first typed error on its cause chain decides (a retry loop that gave up is what it gave up on). */
export function failureKind(err: unknown): FailureKind {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StoreAccessError || e instanceof FatalSourceError) return "access";
    if (CREDENTIAL_ERRORS.has((e as { name?: string }).name ?? "")) return "access";
    if (e instanceof StoreUnavailableError || e instanceof TransientSourceError || e instanceof ThrottledError || e instanceof ExpiredIteratorError) {
      return "unavailable";
    }
  }
  return "other";
}

/** Whether another attempt after a pause may succeed: the store or the source is unavailable. */
export function isUnavailable(err: unknown): boolean {
  return failureKind(err) === "unavailable";
}

/** The dependency an outage error is about, or undefined for other failures. */
export function dependencyOf(err: unknown): Dependency | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StoreUnavailableError) return "store";
    if (e instanceof TransientSourceError || e instanceof ThrottledError || e instanceof ExpiredIteratorError) return "source";
  }
  return undefined;
}

/**
 * The store or the source stayed unavailable for longer than the outage budget. Nothing is
 * lost: uncommitted batches keep their intents and are replayed on the next start.
 */
export class OutageError extends Error {
  override name = "OutageError";
  constructor(readonly dependency: Dependency | undefined, readonly failingForMs: number, cause: unknown) {
    const what = dependency === "source" ? "The stream" : dependency === "store" ? "The tables' store" : "A dependency";
    super(
      `${what} stayed unavailable for ${Math.round(failingForMs / 1000)} s, past the outage budget (OUTAGE_BUDGET): ` +
        `${cause instanceof Error ? cause.message : String(cause)}. Nothing is lost: what was not committed is read again on the next start.`,
      { cause },
    );
  }
}
