import { comparePositions } from "../kinesis/position.ts";
import type { RestartPosition, ShardState } from "./shard_state.ts";

/**
 * A shard's state after an operator's reset (`data-subscriber checkpoints reset`): not
 * stopped, no intent, restarting at `to` (once: the first batch committed after it clears
 * it), its lease free and its epoch moved on, so that whatever a holder still does under
 * the old epoch is refused.
 *
 * The batch counter never goes back. A cleared intent's batch number stays used (tables
 * that committed that batch keep its txn version; the next batch is numbered after it), and
 * the position moves to the intent's last record, so that no table gets a record of that
 * range twice: its records are in the tables that committed the batch and in no other.
 * Records at or before the position are never committed again, wherever the shard restarts.
 */
export function resetShardState(s: ShardState, to: RestartPosition): ShardState {
  const intent = s.intent;
  let position = s.position;
  if (intent?.last && (!position || comparePositions(intent.last, position) > 0)) position = intent.last;
  return {
    ...s,
    batch: Math.max(s.batch, intent?.batch ?? s.batch),
    position,
    intent: null,
    stopped: null,
    restartAt: to,
    lease: { owner: null, counter: s.lease.counter + 1, epoch: (s.lease.epoch ?? 0) + 1 },
  };
}

/** A restart position in words: `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP 2026-01-01T00:00:00.000Z`. */
export function describeRestart(to: RestartPosition): string {
  return to.type === "AT_TIMESTAMP" ? `AT_TIMESTAMP ${to.timestamp}` : to.type;
}
