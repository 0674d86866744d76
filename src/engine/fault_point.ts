/**
 * Where a test may stop the process (or a simulated worker) to prove that a crash there
 * loses and duplicates nothing. The engine calls its fault hook at each of them.
 *
 * - `after-intents`: intents written, no table touched;
 * - `after-files`: every table's data files written, nothing committed;
 * - `after-prepare`: the prepare step's table (package_table) committed, no other table;
 * - `between-tables`: some tables committed, not all;
 * - `after-commits`: every table committed, no shard state moved on;
 * - `during-advance`: some shard states moved on, not all.
 */
export type FaultPoint = "after-intents" | "after-files" | "after-prepare" | "between-tables" | "after-commits" | "during-advance";

/** Every fault point, in the order a batch passes them. */
export const FAULT_POINTS: readonly FaultPoint[] = ["after-intents", "after-files", "after-prepare", "between-tables", "after-commits", "during-advance"];

/** Called at each fault point; a test hook kills or pauses the worker there. */
export type FaultHook = (point: FaultPoint) => void | Promise<void>;
