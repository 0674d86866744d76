/**
 * Deterministic simulation of the whole engine (in the manner of FoundationDB's simulator
 * and TigerBeetle's VOPR): several workers of the real engine and the real order domain
 * over the in-memory stream and the memory object store, on one fake clock, with every
 * fault chosen by one seed. An oracle, computed from the input alone, judges the tables.
 *
 * Faults: store errors before and after a write is applied, truncated reads, latency;
 * source throttles, expired iterators, empty responses, server errors, splits and merges;
 * workers crashing at any call or at a fault point and restarting, pausing past their
 * lease, stopping gracefully, a second process started under a live worker's id; wall-clock
 * jumps past the log retention (log cleanup under live workers); an outside appender; bad
 * and hostile records among the orders, and records of up to 10 MiB. With `compaction`,
 * every worker auto-compacts (a low threshold, so it runs often) and an outside `tables
 * optimize` runs now and then on a random table, crashing mid-way sometimes.
 */
import { FakeClock } from "../../src/adapters/memory/fake_clock.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ScriptedSource } from "../../src/adapters/memory/scripted_source.ts";
import { CommitConflictError } from "../../src/core/delta/errors.ts";
import { optimize } from "../../src/core/delta/optimize.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { RetryExhaustedError } from "../../src/core/retry/retry.ts";
import { AutoCompactor } from "../../src/engine/auto_compactor.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import type { Intent, Stopped } from "../../src/core/shard_state/shard_state.ts";
import { resetCheckpoints, ResetRefusedError } from "../../src/app/checkpoints_reset.ts";
import { orderDomain } from "../../src/domains/orders/order_domain.ts";
import type { PackageMerge } from "../../src/domains/orders/package_merge.ts";
import { eventsTable } from "../../src/domains/orders/events_table.ts";
import { PACKAGE_TABLE } from "../../src/domains/orders/package_table.ts";
import { ordersItemsTable } from "../../src/domains/orders/orders_items_table.ts";
import { ordersTable } from "../../src/domains/orders/orders_table.ts";
import { DeltaSink } from "../../src/engine/delta_sink.ts";
import type { FaultPoint } from "../../src/engine/fault_point.ts";
import { QUARANTINE_TABLE } from "../../src/engine/quarantine_table.ts";
import { Supervisor } from "../../src/engine/supervisor.ts";
import type { RecordSource } from "../../src/ports/record_source.ts";
import { generateOrders } from "../../src/produce/order_generator.ts";
import { seededRandom } from "../../src/util/seeded_random.ts";
import { OutageError } from "../../src/core/retry/failure_kind.ts";
import { canonicalRows, type DeltaStructType } from "../helpers/canonical_rows.ts";
import { richAndPoorPackages } from "../helpers/e2e_env.ts";
import { expectedTables } from "../helpers/expected_tables.ts";
import { FaultyStore, type FaultSwitch, InjectedStoreError, type StoreFaults } from "./faulty_store.ts";
import { never, SimProcess } from "./sim_process.ts";

export interface SimOptions {
  seed: number;
  /** Valid orders put on the stream. @default 240 */
  orders?: number;
  /** Malformed and hostile records among them. @default 24 */
  badRecords?: number;
  /** Records of several MiB (valid orders with a large extra field). @default 1 */
  bigRecords?: number;
  /** Shards at the start. @default 2 to 4, by the seed */
  shards?: number;
  /** Worker slots (each restarted after a crash, as systemd would). @default 2 to 4, by the seed */
  workers?: number;
  /** Virtual time with faults on, ms. @default 8 minutes */
  faultPhaseMs?: number;
  /** Virtual time allowed, after faults stop, for every shard to reach its tip. @default 20 minutes */
  quietPhaseMs?: number;
  /** The stream's retention, ms. @default a day in about a third of the seeds, else Infinity */
  retentionMs?: number;
  /** Store fault rates. */
  storeFaults?: Partial<StoreFaults>;
  /** Called with progress lines (verbose runs). */
  log?: (line: string) => void;
  /**
   * Workers auto-compact (size tiers of 3 files) and an outside OPTIMIZE runs
   * on a random table now and then, its process crashing mid-way sometimes. Its own random
   * stream: the other faults of a seed stay as they were. @default false
   */
  compaction?: boolean;
}

export interface SimReport {
  seed: number;
  ok: boolean;
  failures: string[];
  /** Virtual time simulated, ms. */
  virtualMs: number;
  /** Faults injected and events, by kind. */
  counts: Map<string, number>;
}

const STEP_MS = 250;
const DAY_MS = 86_400_000;
const MAX_RECORDS = 100;

/** The command that replays one seed. */
export function replayCommand(seed: number, compaction = false): string {
  return `make sim SEED=${seed}${compaction ? " SIM_COMPACTION=1" : ""}`;
}

interface Slot {
  workerId: string;
  process?: SimProcess | undefined;
  supervisor?: Supervisor | undefined;
  abort?: AbortController | undefined;
  exited?: Promise<unknown> | undefined;
  /** Monotonic time at which an empty slot starts a process again. */
  restartAt: number;
  duplicate?: boolean;
  /** A `run --once` job: reads every shard to its tip and exits; never restarted. */
  once?: boolean;
}

/** A second process started under a live worker's id, and what the oracle saw of it. */
interface Twin {
  slot: Slot;
  /** The slot whose live process holds the id. */
  original: Slot;
  /** The original's process when the twin started. */
  originalProcess: SimProcess;
  /** Virtual ms during which both ran, the original renewing leases, with no outage storm: the twin must be refused within a bound of it. */
  besideLiveMs: number;
  refused: boolean;
}

/** Runs one seeded simulation to its end and judges it. */
export async function simulate(options: SimOptions): Promise<SimReport> {
  const seed = options.seed;
  const restoreUuid = seedUuids(seed);
  try {
    return await run(options);
  } finally {
    restoreUuid();
  }
}

async function run(options: SimOptions): Promise<SimReport> {
  const seed = options.seed;
  const log = options.log ?? (() => {});
  const counts = new Map<string, number>();
  const count = (k: string, n = 1) => counts.set(k, (counts.get(k) ?? 0) + n);
  const failures: string[] = [];
  // One stream of random numbers per purpose, so that a change in one does not move the rest.
  const rng = (k: number) => seededRandom((seed * 2654435761 + k * 40503) >>> 0);
  const plan = rng(1);
  const faultRandom = rng(2);
  const jitter = rng(3);
  const clock = new FakeClock({ wallMs: Date.UTC(2026, 0, 1), monoMs: 0 });
  // Short leases against slow stores make leases change hands often, to the same worker too.
  const LEASE_MS = 1_500 + Math.floor(plan() * 4_500);
  // Sometimes more workers than shards: standbys that hold nothing for a long time.
  const shardCount = options.shards ?? 2 + Math.floor(plan() * 3);
  // Some streams keep records a day (Kinesis's default): time jumps then trim what was not
  // read yet, shards stop at the gap, and an operator resets them (checkpoints reset).
  const retentionMs = options.retentionMs ?? (plan() < 0.35 ? DAY_MS : Infinity);
  const source = new ScriptedSource("sim", shardCount, clock, { retentionMs });
  const now = () => clock.wallMs();
  const tables = Object.fromEntries(["events", "orders", "orders_items", "quarantine", "package_table"].map((t) => [t, new MemoryStore(t, now)]));
  const statesStore = new MemoryStore("states", now);
  const sw: FaultSwitch = { on: true, stormUntil: -Infinity, random: faultRandom, counts };
  // A quarter of the worlds have a slow store: most calls wait, so a lease round's renewal
  // and a batch's last state write are on their way together (a finished shard was held
  // again, and a merge's child never taken). Drawn from its own stream: the other worlds
  // are the same as before it existed.
  const slowStore = rng(9)() < 0.25;
  if (slowStore) count("slow-store");
  const storeFaults: StoreFaults = { errorBefore: 0.01, errorAfter: 0.01, truncatedRead: 0.005, latency: slowStore ? 0.4 : 0.05, maxLatencyMs: 400, ...options.storeFaults };

  // package_table: ample stock or none per group, so stock outcomes do not depend on batching.
  const { rows: packageRows, rich, stock: stockBefore } = richAndPoorPackages();
  // Checkpoints every few commits: log cleanup after a time jump then removes commits that
  // a worker's snapshot is only a few versions behind.
  const configuration = { "delta.checkpointInterval": String(2 + Math.floor(plan() * 4)) };
  await (await DeltaTable.openOrCreate(tables.package_table!, { ...PACKAGE_TABLE.spec, configuration }, { now })).append(packageRows);
  for (const t of [eventsTable, ordersTable, ordersItemsTable, QUARANTINE_TABLE]) await DeltaTable.openOrCreate(tables[t.name]!, { ...t.spec, configuration }, { now });

  // The input: orders, bad records and big records, interleaved by the seed.
  const orders = generateOrders(options.orders ?? 240, seed, Date.UTC(2025, 5, 1));
  const input: { data: Uint8Array; key: string; bad: boolean; order?: Record<string, unknown> }[] = orders.map((o) => ({ data: enc(JSON.stringify(o)), key: String(o.order_id), bad: false, order: o }));
  for (let i = 0; i < (options.bigRecords ?? 1); i++) {
    const big = generateOrders(1, seed + 1000 + i, Date.UTC(2025, 5, 2))[0]!;
    orders.push(big);
    const filler = "x".repeat(2 * 1024 * 1024 + Math.floor(plan() * 8 * 1024 * 1024));
    input.push({ data: enc(JSON.stringify({ ...big, notes: filler })), key: String(big.order_id), bad: false, order: big });
  }
  const bad = hostileRecords(options.badRecords ?? 24, plan);
  for (const b of bad) input.splice(Math.floor(plan() * (input.length + 1)), 0, { data: b, key: `bad-${input.length}`, bad: true });
  const badPositions = new Set<string>();
  /** Every record put: its shard and arrival (wall ms), by sequence number; the order it carries. */
  const placed = new Map<string, { shardId: string; arrival: number; order?: Record<string, unknown> }>();
  const orderOf = new Map<string, string>();
  /** What the operator saw stopped (before resetting it). */
  const reports: { shardId: string; stopped: Stopped; intent: Intent | null }[] = [];
  let operatorBusy = false;
  let jumpSoon = false;
  const lastSeq = new Map<string, string>();

  // Outside appender rows (blind appends to events by another writer).
  let outsideRows = 0;
  // The outside OPTIMIZE's process (one at a time) and its random stream.
  const optimizeRandom = rng(4);
  let optimizer: SimProcess | undefined;
  let optimizers = 0;

  const slots: Slot[] = Array.from({ length: options.workers ?? 2 + Math.floor(plan() * 3) }, (_, i) => ({ workerId: `w${i}`, restartAt: 0 }));
  let instances = 0;
  const duplicates: Slot[] = [];
  const maxBuffered = { records: 0, bytes: 0 };
  /** `worker/shard` → since when (virtual ms) a live worker holds a lease of a shard it finished. */
  const finishedHeld = new Map<string, number>();
  const zombieLeases = new Set<string>();

  const pointCrash = 0.02;
  // A pause at a fault point, past the lease: the process resumes exactly in the window
  // between a lease steal and its next fenced write (intent, decision, advance).
  const pointPause = 0.02;
  const twins: Twin[] = [];
  const onceJobs: { slot: Slot; done: boolean; started: number }[] = [];
  let memoryFailures = 0;
  /** Starts a process in a slot; it runs on its own (start-up sleeps on the clock the driver moves). @returns its whole life. */
  const start = (slot: Slot): Promise<void> => {
    const proc = new SimProcess(`${slot.workerId}#${++instances}`, clock);
    const pclock = proc.view();
    const view = (s: MemoryStore) => new FaultyStore(s, proc, storeFaults, sw);
    const fault = (point: FaultPoint): Promise<void> | void => {
      if (sw.on && jitter() < pointCrash) {
        count(`crash-at-${point}`);
        proc.crash();
        // Sometimes the fleet is then down for a day: the crashed batch's records are trimmed before anyone replays it.
        if (retentionMs !== Infinity && jitter() < 0.3) jumpSoon = true;
        return never();
      }
      if (sw.on && jitter() < pointPause) {
        count(`pause-at-${point}`);
        proc.pauseFor(LEASE_MS * (1.2 + jitter() * 4));
        return proc.gate();
      }
    };
    const abort = new AbortController();
    const compactor = options.compaction
      ? new AutoCompactor({
        clock: pclock,
        minFiles: 3,
        events: { compactionDone: (_t, result, _ms, _res, err) => {
          count(`auto-compactions-${result}`);
          if (result === "failed" && !expectedCompactionError(err)) failures.push(`${proc.name}: auto-compaction failed: ${(err as Error).name}: ${(err as Error).message}`);
        } },
      })
      : undefined;
    slot.process = proc;
    slot.abort = abort;
    slot.supervisor = undefined;
    // The whole life of the process, start-up included: a stop during start-up ends it too.
    const life = (async () => {
      let sink: DeltaSink<unknown, unknown>;
      const domain = orderDomain();
      watchCache(domain.prepare as PackageMerge, proc.name);
      try {
        sink = await DeltaSink.open(domain, Object.fromEntries(Object.entries(tables).map(([k, s]) => [k, view(s)])), {
          stream: source.streamName,
          clock: pclock,
          random: rng(100 + instances),
          fault,
          ...(compactor ? { compactor } : {}),
        }) as DeltaSink<unknown, unknown>;
      } catch (err) {
        // Start-up failed (the store was failing): systemd starts it again.
        count("failed-starts");
        log(`${proc.name} failed to start: ${(err as Error).message}`);
        if (slot.process === proc) {
          slot.process = undefined;
          slot.restartAt = clock.monoMs() + 1_000;
        }
        return;
      }
      if (abort.signal.aborted) return;
      const supervisor = new Supervisor(gatedSource(source, proc), new ShardStateStore(view(statesStore), "states/"), pclock, sink, {
        appName: "sim",
        lease: { workerId: slot.workerId, leaseDurationMs: LEASE_MS, instanceId: proc.name },
        batch: { maxRecords: MAX_RECORDS, maxAgeMs: 2_000 },
        reader: { idleDelayMs: 500 },
        random: rng(200 + instances),
        // Outages are waited out for a while (each process draws its budget), then the
        // process exits and is started again: both paths run under the storms.
        // A run-once job gets a short one: its last flush then often fails, under a lease round.
        outageBudgetMs: slot.once ? 1_000 + Math.floor(rng(300 + instances)() * 8_000) : 30_000 + Math.floor(rng(300 + instances)() * 210_000),
        fault,
      }, {
        // A run-once job's host loses its network as a batch starts: the batch fails past the
        // job's short outage budget, while its lease loop waits for that batch (a flush).
        commitStarted: (batch) => {
          if (slot.once && sw.on && jitter() < (batch?.flushed ? 0.5 : 0.03)) {
            proc.partitionFor(10_000 + jitter() * 20_000);
            count("once-partitions");
          }
        },
      });
      if (slot.process === proc) slot.supervisor = supervisor;
      try {
        await supervisor.run(abort.signal, { once: slot.once ?? false });
        await compactor?.close();
        count(slot.once ? "once-exits" : "graceful-exits");
      } catch (e) {
        const err = e as Error;
        count(`exits-${err.name}`);
        log(`${proc.name} exited: ${err.name}: ${err.message}`);
        // A worker may exit on an outage that outlasted its budget, or when a live twin
        // holds its worker id; anything else should have been retried or handled.
        let root: unknown = err;
        while (root instanceof Error && root.cause !== undefined) root = root.cause;
        const expected = err instanceof OutageError || root instanceof InjectedStoreError || err.name === "DuplicateWorkerError";
        if (err.name === "DuplicateWorkerError") for (const t of twins) if (t.slot === slot || t.original === slot) t.refused = true;
        if (!expected) failures.push(`${proc.name} exited on an error that should have been handled: ${err.name}: ${err.message}`);
        if (slot.process === proc) {
          slot.process = undefined;
          slot.supervisor = undefined;
          slot.restartAt = clock.monoMs() + 1_000 + Math.floor(plan() * 4_000);
        }
      }
    })();
    slot.exited = life;
    return life;
  };

  const put = (i: number) => {
    const r = input[i]!;
    const at = source.put(r.key, r.data);
    placed.set(at.sequenceNumber, { shardId: at.shardId, arrival: clock.wallMs(), ...(r.order ? { order: r.order } : {}) });
    if (r.order) orderOf.set(String(r.order.order_id), at.sequenceNumber);
    lastSeq.set(at.shardId, at.sequenceNumber);
    if (r.bad) badPositions.add(at.sequenceNumber);
  };

  // --- fault phase ---
  const faultPhaseMs = options.faultPhaseMs ?? 8 * 60_000;
  const quietPhaseMs = options.quietPhaseMs ?? 20 * 60_000;
  let next = 0;
  let jumps = 0;
  const putPerStep = Math.max(1, Math.ceil(input.length / ((faultPhaseMs * 0.7) / STEP_MS)));
  for (const slot of slots) void start(slot);
  while (clock.monoMs() < faultPhaseMs) {
    for (let k = 0; k < putPerStep && next < input.length; k++) put(next++);
    await chaos();
    await clock.tickAsync(STEP_MS);
    sample();
  }
  for (; next < input.length;) put(next++);

  // --- quiet phase: no faults; everything must reach the tip ---
  sw.on = false;
  optimizer?.crash();
  for (const d of duplicates.splice(0)) stop(d);
  let reached = false;
  const quietEnd = clock.monoMs() + quietPhaseMs;
  while (clock.monoMs() < quietEnd) {
    for (const slot of slots) {
      if (slot.process?.crashed) slot.process = undefined;
      if (!slot.process) void start(slot);
    }
    operator();
    await clock.tickAsync(STEP_MS * 4);
    sample();
    if (await atTip()) {
      reached = true;
      break;
    }
  }
  if (!reached) failures.push(`liveness: not every shard reached its tip within ${quietPhaseMs / 60_000} virtual minutes after faults stopped (${await tipReport()})`);
  const stopping = slots.map((s) => ({ name: s.process?.name ?? s.workerId, exited: s.exited ?? Promise.resolve(), supervisor: s.supervisor, done: false }));
  for (const st of stopping) void st.exited.then(() => (st.done = true));
  for (const slot of slots) stop(slot);
  await clock.settle(Promise.all(stopping.map((s) => s.exited)), { maxTimers: 200_000 }).catch((err) => {
    const stuck = stopping.filter((s) => !s.done).map((s) => `${s.name} (holds ${s.supervisor?.leases.heldShards().join(", ") || "nothing"}, buffered ${s.supervisor?.batcher.bufferedRecords ?? "?"} records)`);
    failures.push(`shutdown: a graceful stop did not finish: ${stuck.join("; ")} (${err})`);
  });
  // A second process under a live worker's id is refused (DuplicateWorkerError) within a
  // few lease rounds of running beside it: two renewing rounds of the live one are enough.
  for (const t of twins) {
    if (!t.refused && t.besideLiveMs > 4 * LEASE_MS + 5_000) {
      failures.push(`same-name start: a second process under ${t.slot.workerId}'s id ran ${(t.besideLiveMs / 1000).toFixed(1)} s beside the live one (renewing its leases) and was never refused`);
    }
  }
  // Every run-once job ended (returned or failed), none waits for ever.
  const onceEnded = (j: (typeof onceJobs)[number]) => j.done || j.slot.process?.crashed === true;
  for (let waited = 0; waited < 10 * 60_000 && !onceJobs.every(onceEnded); waited += STEP_MS * 4) await clock.tickAsync(STEP_MS * 4);
  for (const j of onceJobs.filter((j) => !onceEnded(j))) {
    failures.push(`run --once: ${j.slot.workerId} (${j.slot.process?.name}), started at ${(j.started / 1000).toFixed(0)} s, had not ended 10 virtual minutes after every shard reached its tip`);
  }
  for (const z of zombieLeases) failures.push(`leases: ${z}`);
  if (maxBuffered.records > 2 * MAX_RECORDS + Math.max(100, MAX_RECORDS / 4)) failures.push(`memory: the batcher held ${maxBuffered.records} records, over its cap`);

  // --- the oracle ---
  if (reached) await judge();
  return { seed, ok: failures.length === 0, failures, virtualMs: clock.monoMs(), counts };

  async function chaos(): Promise<void> {
    if (options.compaction) outsideOptimize();
    const live = slots.filter((s) => s.process && !s.process.crashed);
    const roll = plan();
    if (roll < 0.006 && live.length > 0) {
      const s = live[Math.floor(plan() * live.length)]!;
      s.process!.crash();
      s.process = undefined;
      s.supervisor = undefined;
      s.restartAt = clock.monoMs() + 500 + Math.floor(plan() * 8_000);
      count("crashes");
    } else if (roll < 0.010 && live.length > 0) {
      const s = live[Math.floor(plan() * live.length)]!;
      s.process!.pauseFor(LEASE_MS * (0.5 + plan() * 2.5));
      count("pauses");
    } else if (roll < 0.012 && live.length > 0) {
      const s = live[Math.floor(plan() * live.length)]!;
      stop(s);
      s.restartAt = clock.monoMs() + 1_000 + Math.floor(plan() * 5_000);
      count("graceful-stops");
    } else if (roll < 0.013 && live.length > 0 && duplicates.length === 0) {
      const original = live[Math.floor(plan() * live.length)]!;
      const twin: Slot = { workerId: original.workerId, restartAt: Infinity, duplicate: true };
      duplicates.push(twin);
      twins.push({ slot: twin, original, originalProcess: original.process!, besideLiveMs: 0, refused: false });
      void start(twin);
      count("same-name-starts");
    } else if (roll < 0.0145) {
      startOnce();
    } else if ((roll < 0.0150 && jumps < 2) || (jumpSoon && jumps < 4)) {
      jumps++;
      clock.jump(jumpSoon ? DAY_MS + 3_600_000 : 31 * DAY_MS);
      count(jumpSoon ? "time-jumps-day" : "time-jumps");
      jumpSoon = false;
    } else if (roll < 0.018) {
      const open = (await source.listShards()).filter((s) => s.endingSequenceNumber === undefined);
      if (open.length > 0 && open.length < 8) {
        source.split(open[Math.floor(plan() * open.length)]!.shardId);
        count("splits");
      }
    } else if (roll < 0.021) {
      const open = (await source.listShards()).filter((s) => s.endingSequenceNumber === undefined);
      const pair = adjacentPair(open, plan);
      if (pair) {
        source.merge(pair[0], pair[1]);
        count("merges");
      }
    } else if (roll < 0.026) {
      const t = await DeltaTable.open(tables.events!, { now });
      await t.append([{ event_id: `outside-${outsideRows}`, event_type: "OUTSIDE", event_timestamp: null, order_id: `outside-${outsideRows}` }]);
      outsideRows++;
      count("outside-appends");
    } else if (roll < 0.029) {
      // An outage storm: commits back off for long, leases change hands under queued work.
      sw.stormUntil = clock.monoMs() + 3_000 + Math.floor(plan() * 20_000);
      count("store-storms");
      // A scheduled job that fires while S3 fails: its batches and lease rounds fail together.
      if (plan() < 0.5) startOnce();
    } else if (roll < 0.08) {
      const shards = await source.listShards();
      const shard = shards[Math.floor(plan() * shards.length)]!;
      const kind = (["throttle", "expire", "error", "empty"] as const)[Math.floor(plan() * 4)]!;
      source.inject(shard.shardId, ...Array.from({ length: 1 + Math.floor(plan() * 3) }, () => kind));
      count(`source-${kind}`);
    }
    operator();
    // Restart processes whose time has come; retire duplicates that were refused.
    for (const slot of slots) {
      if (!slot.process && clock.monoMs() >= slot.restartAt) void start(slot);
    }
    for (const d of duplicates) {
      if (!d.process) duplicates.splice(duplicates.indexOf(d), 1);
    }
  }

  /** Now and then, `tables optimize` on a random table from another process, which may crash mid-way. */
  function outsideOptimize(): void {
    const r = optimizeRandom();
    if (optimizer && !optimizer.crashed && r < 0.02) {
      optimizer.crash();
      count("optimize-crashes");
      return;
    }
    if (optimizer && !optimizer.crashed) return;
    if (r > 0.03) return;
    const proc = (optimizer = new SimProcess(`optimizer#${++optimizers}`, clock));
    const names = Object.keys(tables);
    const name = names[Math.floor(optimizeRandom() * names.length)]!;
    const store = new FaultyStore(tables[name]!, proc, storeFaults, sw);
    void (async () => {
      try {
        const res = await optimize(await DeltaTable.open(store, { now }), { now, minFiles: 2, chunkRows: 50 });
        count(res.version !== null ? "optimize-commits" : "optimize-noops");
        if (res.binsSkipped) count("optimize-bins-skipped", res.binsSkipped);
      } catch (err) {
        count("optimize-errors");
        if (!expectedCompactionError(err)) failures.push(`outside optimize of ${name} failed: ${(err as Error).name}: ${(err as Error).message}`);
      } finally {
        if (optimizer === proc) optimizer = undefined;
      }
    })();
  }

  /**
   * Memory: the package row cache keeps only files the table it decides on still holds
   * (files replaced by this or another writer are dropped at the next decision).
   */
  function watchCache(merge: PackageMerge, name: string): void {
    const decide = merge.decide.bind(merge);
    merge.decide = async (values, table) => {
      const live = new Set(table.snapshot.files.keys());
      const out = await decide(values, table);
      const stale = merge.cachedFiles().filter((f) => !live.has(f));
      count("cache-checks");
      if (stale.length > 0 && memoryFailures++ === 0) {
        failures.push(`memory: ${name}'s package row cache holds ${stale.length} file(s) the package_table snapshot it decided on no longer has (${merge.cachedFiles().length} cached, ${live.size} live)`);
      }
      return out;
    };
  }

  /**
   * The operator: notices stopped shards (the ERROR, the metric), notes what they report,
   * and resets them to TRIM_HORIZON with the code `checkpoints reset` runs.
   */
  function operator(): void {
    if (operatorBusy) return;
    operatorBusy = true;
    void (async () => {
      const states = new ShardStateStore(statesStore, "states/");
      const stopped: string[] = [];
      for (const id of await states.shardIds()) {
        const st = (await states.read(id))?.state;
        if (!st?.stopped) continue;
        if (!reports.some((r) => r.shardId === id && r.stopped.at === st.stopped!.at)) reports.push({ shardId: id, stopped: st.stopped, intent: st.intent });
        stopped.push(id);
      }
      if (stopped.length === 0) return;
      try {
        await resetCheckpoints(states, { shards: stopped, to: { type: "TRIM_HORIZON" }, leaseDurationMs: LEASE_MS }, { clock, print: () => {} });
        count("operator-resets", stopped.length);
      } catch (err) {
        if (!(err instanceof ResetRefusedError)) throw err;
        count("operator-resets-refused");
      }
    })().catch((err) => failures.push(`operator: checkpoints reset failed: ${err}`)).finally(() => (operatorBusy = false));
  }

  /** A scheduled `run --once` beside the fleet (one at a time, a few a run): it must end, whatever fails under it. */
  function startOnce(): void {
    if (onceJobs.length >= 4 || !onceJobs.every((j) => j.done || j.slot.process?.crashed)) return;
    const job: Slot = { workerId: `once${onceJobs.length}`, restartAt: Infinity, once: true };
    const entry = { slot: job, done: false, started: clock.monoMs() };
    onceJobs.push(entry);
    void start(job).then(() => (entry.done = true));
    count("once-runs");
  }

  function stop(slot: Slot): void {
    slot.abort?.abort();
    slot.process = undefined;
    slot.supervisor = undefined;
  }

  function sample(): void {
    for (const t of twins) {
      const o = t.original;
      const live = o.process === t.originalProcess && !o.process.crashed && !o.process.paused && (o.supervisor?.leases.heldShards().length ?? 0) > 0;
      if (t.slot.supervisor && t.slot.process && !t.slot.process.paused && !t.refused && live && clock.monoMs() >= sw.stormUntil) t.besideLiveMs += STEP_MS;
    }
    for (const s of [...slots, ...duplicates]) {
      const b = s.supervisor?.batcher;
      if (!b) continue;
      maxBuffered.records = Math.max(maxBuffered.records, b.bufferedRecords);
      maxBuffered.bytes = Math.max(maxBuffered.bytes, b.bufferedBytes);
    }
    // A finished shard is given up as its last batch commits. Still held a minute later, it
    // counts against the worker's share for good: the shards it should take (a merge's
    // child) are never taken while other workers are full or gone.
    const seen = new Set<string>();
    for (const s of slots) {
      const leases = s.supervisor?.leases;
      if (!leases || !s.process || s.process.crashed || s.process.paused) continue;
      for (const id of leases.heldShards()) {
        if (!leases.stateOf(id)?.finished) continue;
        const key = `${s.workerId}/${id}`;
        seen.add(key);
        const since = finishedHeld.get(key) ?? clock.monoMs();
        finishedHeld.set(key, since);
        if (clock.monoMs() - since > 60_000) zombieLeases.add(`${s.workerId} holds ${id}, finished, for over a virtual minute`);
      }
    }
    for (const key of [...finishedHeld.keys()]) if (!seen.has(key)) finishedHeld.delete(key);
  }

  async function atTip(): Promise<boolean> {
    const states = new ShardStateStore(statesStore, "states/");
    for (const shard of await source.listShards()) {
      const st = (await states.read(shard.shardId))?.state;
      if (shard.endingSequenceNumber !== undefined) {
        if (!st?.finished) return false;
        continue;
      }
      if (st?.stopped) return false;
      const last = lastKept(shard.shardId);
      if (last === undefined) {
        if (st?.intent) return false;
        // Every record of the shard trimmed: its reader is not done until it has read them all,
        // or found the gap (stopped, then reset by the operator), or it was never read at all
        // (a shard's first records trimmed before anyone read it: not detectable, see judge).
        // Before, such a shard counted as at its tip at once, and the run could end before
        // its reader ever asked for the trimmed record it had to resume at (seed 31).
        const put = lastSeq.get(shard.shardId);
        if (put !== undefined && st?.position && st.position.sequenceNumber !== put && !st.restartAt) return false;
        continue;
      }
      if (st?.intent || st?.position?.sequenceNumber !== last) return false;
    }
    return true;
  }

  /** Whether the stream's retention has trimmed a record by now. */
  function trimmed(seq: string): boolean {
    return placed.get(seq)!.arrival < clock.wallMs() - retentionMs;
  }

  /** The last record of a shard the stream still has. */
  function lastKept(shardId: string): string | undefined {
    let last: string | undefined;
    for (const [seq, p] of placed) if (p.shardId === shardId && !trimmed(seq) && (last === undefined || BigInt(seq) > BigInt(last))) last = seq;
    return last;
  }

  /** Whether a lost record lies in a range a stopped shard reported; `intent` for a dropped intent's range only. */
  function reported(seq: string, intentOnly: boolean): boolean {
    const p = placed.get(seq)!;
    const n = BigInt(seq);
    return reports.some((r) => {
      if (r.shardId !== p.shardId) return false;
      const i = r.intent;
      if (i?.first && i.last && BigInt(i.first.sequenceNumber) <= n && n <= BigInt(i.last.sequenceNumber)) return true;
      if (intentOnly) return false;
      // From the record asked on: the operator's restart at TRIM_HORIZON reads whatever the
      // stream has when the shard is read again, so a trim between the stop and that read
      // loses more than the stop's reported range (the operator's choice, not detected).
      return BigInt(r.stopped.asked.sequenceNumber) <= n;
    });
  }

  /** Whether no record of its shard before this one reached the tables (a shard first read at TRIM_HORIZON after a trim: not detected, documented). */
  function lostPrefix(seq: string, landed: Set<string>): boolean {
    const p = placed.get(seq)!;
    for (const [s2, q] of placed) if (q.shardId === p.shardId && BigInt(s2) < BigInt(seq) && landed.has(s2)) return false;
    return true;
  }

  async function tipReport(): Promise<string> {
    const states = new ShardStateStore(statesStore, "states/");
    const out: string[] = [];
    for (const shard of await source.listShards()) {
      const st = (await states.read(shard.shardId))?.state;
      out.push(`${shard.shardId}: ${shard.endingSequenceNumber ? "closed" : "open"}, finished=${st?.finished}, at ${st?.position?.sequenceNumber ?? "-"} of ${lastSeq.get(shard.shardId) ?? "-"}, intent=${st?.intent ? st.intent.batch : "none"}, owner=${st?.lease.owner}`);
    }
    return out.join("; ");
  }

  async function judge(): Promise<void> {
    const read = async (t: string) => await (await DeltaTable.open(tables[t]!, { now })).readRows();
    const allEvents = await read("events");
    const events = allEvents.filter((e) => e.event_type !== "OUTSIDE");
    const outside = allEvents.length - events.length;
    if (outside !== outsideRows) failures.push(`events: ${outside} rows of the outside appender, expected ${outsideRows}`);
    const ids = events.map((e) => String(e.event_id));
    if (new Set(ids).size !== ids.length) failures.push(`events: ${ids.length - new Set(ids).size} event ids twice`);
    const orderRows = await read("orders");
    const itemRows = await read("orders_items");
    const q = await read("quarantine");
    // Which tables each order reached. Every order the stream still had must be in all of
    // them; one the retention trimmed may be in none (lost, as a stopped shard reported, or
    // a shard's first records trimmed before it was ever read), or in some only when it was
    // in an intent the operator dropped (the tables that had committed it keep it).
    const full = expectedTables(orders, stockBefore, rich);
    const itemsOf = new Set(full.orders_items.map((r) => String(r.order_id)));
    const inEvents = new Set(events.filter((e) => e.event_type === "ORDER_CREATED").map((e) => String(e.order_id)));
    const inOrders = new Set(orderRows.map((r) => String(r.order_id)));
    const inItems = new Set(itemRows.map((r) => String(r.order_id)));
    const landed: Record<string, unknown>[] = [];
    const partial = new Set<string>();
    const maybeTaken: Record<string, unknown>[] = [];
    const reached = new Set<string>([...new Set(q.map((r) => String(r.sequence_number)))]);
    for (const o of orders) {
      const id = String(o.order_id);
      const has = [inEvents.has(id), inOrders.has(id), ...(itemsOf.has(id) ? [inItems.has(id)] : [])];
      if (has.some((h) => h)) reached.add(orderOf.get(id)!);
    }
    let lostReported = 0;
    for (const o of orders) {
      const id = String(o.order_id);
      const seq = orderOf.get(id)!;
      const has = [inEvents.has(id), inOrders.has(id), ...(itemsOf.has(id) ? [inItems.has(id)] : [])];
      if (has.every((h) => h)) {
        landed.push(o);
        continue;
      }
      if (has.some((h) => h)) {
        partial.add(id);
        if (!trimmed(seq) || !reported(seq, true)) failures.push(`${id} (record ${seq}): in ${["events", "orders", "orders_items"].filter((_, i) => has[i]).join(", ")} but not in the other tables, outside any dropped intent`);
        continue;
      }
      if (!trimmed(seq)) failures.push(`${id} (record ${seq}): lost, though the stream still has it`);
      else if (reported(seq, false)) lostReported++;
      else if (!lostPrefix(seq, reached)) failures.push(`${id} (record ${seq}): trimmed and lost with no stopped shard reporting it`);
      if (reported(seq, true)) maybeTaken.push(o);
    }
    if (lostReported > 0) count("records-lost-reported", lostReported);
    const keep = <T extends Record<string, unknown>>(rows: T[]) => rows.filter((r) => !partial.has(String(r.order_id)));
    const expected = expectedTables(landed, stockBefore, rich);
    const created = keep(events.filter((e) => e.event_type === "ORDER_CREATED")).length;
    if (created !== landed.length) failures.push(`events: ${created} ORDER_CREATED, expected ${landed.length}`);
    const inv = keep(events.filter((e) => e.event_type === "INVENTORY_UPDATED")).map((e) => String(e.event_id)).sort();
    if (JSON.stringify(inv) !== JSON.stringify(expected.inventoryEvents.map((e) => String(e.event_id)).sort())) {
      failures.push(`events: ${inv.length} INVENTORY_UPDATED, expected ${expected.inventoryEvents.length}`);
    }
    for (const [name, rows, id] of [["orders", orderRows, "order_id"], ["orders_items", itemRows, "inventory_id"]] as const) {
      const keys = rows.map((r) => String(r[id]));
      if (new Set(keys).size !== keys.length) failures.push(`${name}: ${keys.length - new Set(keys).size} rows twice`);
    }
    compareTable("orders", keep(orderRows), expected.orders, ordersTable.spec.schema as unknown as DeltaStructType, "order_id");
    compareTable("orders_items", keep(itemRows), expected.orders_items, ordersItemsTable.spec.schema as unknown as DeltaStructType, "inventory_id");
    const qSeqs = q.map((r) => String(r.sequence_number));
    if (new Set(qSeqs).size !== qSeqs.length) failures.push(`quarantine: ${qSeqs.length - new Set(qSeqs).size} records twice`);
    const missing = [...badPositions].filter((s) => !qSeqs.includes(s) && !(trimmed(s) && (reported(s, false) || lostPrefix(s, reached))));
    const extra = qSeqs.filter((s) => !badPositions.has(s));
    if (missing.length || extra.length) failures.push(`quarantine: ${missing.length} bad records missing, ${extra.length} good records quarantined (${q.filter((r) => !badPositions.has(String(r.sequence_number))).map((r) => r.reason).slice(0, 3).join(" | ")})`);
    // Stock: exact for what landed; the orders of an intent the operator dropped may have
    // taken theirs (the prepare table committed it) or not.
    const most = expectedTables([...landed, ...orders.filter((o) => partial.has(String(o.order_id))), ...maybeTaken], stockBefore, rich).stock;
    const least = expectedTables([...landed, ...orders.filter((o) => partial.has(String(o.order_id)))], stockBefore, rich).stock;
    for (const r of await read("package_table")) {
      const key = `${r.package_id}/${r.subpackage_id}`;
      const stock = Number(r.stock_quantity);
      if (stock < 0) failures.push(`package_table: stock of ${key} is negative (${stock})`);
      if (stock < most.get(key)! || stock > least.get(key)!) failures.push(`package_table: stock of ${key} is ${stock}, expected ${least.get(key) === most.get(key) ? least.get(key) : `${most.get(key)} to ${least.get(key)}`}`);
    }
    // A shard stops only at a real gap: the record it had to resume at was trimmed by then.
    for (const r of reports) {
      const p = placed.get(r.stopped.asked.sequenceNumber);
      if (!p || p.arrival >= Date.parse(r.stopped.at) - retentionMs) failures.push(`${r.shardId} stopped at ${r.stopped.asked.sequenceNumber}, which the stream still had: ${r.stopped.reason}`);
    }
    if (reports.length > 0) count("shards-stopped", reports.length);
  }

  function compareTable(name: string, ours: Record<string, unknown>[], theirs: Record<string, unknown>[], schema: DeltaStructType, id: string): void {
    const a = canonicalRows(ours, schema);
    const b = canonicalRows(theirs, schema);
    const key = (r: Record<string, unknown>) => String(r[id]);
    const count = (rows: Record<string, unknown>[]) => {
      const m = new Map<string, number>();
      for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
      return m;
    };
    const ca = count(a);
    const twice = [...ca].filter(([, n]) => n > 1).length;
    const lost = b.filter((r) => !ca.has(key(r))).length;
    if (twice || lost || a.length !== b.length) {
      failures.push(`${name}: ${a.length} rows, expected ${b.length} (${twice} duplicated, ${lost} lost)`);
      return;
    }
    const byId = new Map(a.map((r) => [key(r), JSON.stringify(r)]));
    const differ = b.filter((r) => byId.get(key(r)) !== JSON.stringify(r));
    if (differ.length) failures.push(`${name}: ${differ.length} rows differ from the expected, e.g. ${byId.get(key(differ[0]!))} vs ${JSON.stringify(differ[0])}`);
  }
}

/**
 * Errors a compaction may end with under the simulation's faults: the store's injected
 * failures, a conflict or a run of lost version races. Anything else is a bug.
 */
function expectedCompactionError(err: unknown): boolean {
  let root: unknown = err;
  while (root instanceof Error && root.cause !== undefined && !(root instanceof InjectedStoreError)) root = root.cause;
  return root instanceof InjectedStoreError || err instanceof CommitConflictError || err instanceof RetryExhaustedError;
}

/** A process's view of the shared stream: its calls stop when it crashes or pauses. */
function gatedSource(inner: ScriptedSource, proc: SimProcess): RecordSource {
  return {
    streamName: inner.streamName,
    listShards: async () => (await proc.gate(), await inner.listShards()),
    getIterator: async (shardId, position) => (await proc.gate(), await inner.getIterator(shardId, position)),
    getRecords: async (iterator, limit) => {
      await proc.gate();
      const res = await inner.getRecords(iterator, limit);
      await proc.gate();
      return res;
    },
  };
}

function adjacentPair(open: { shardId: string; hashKeyRange: { startingHashKey: string; endingHashKey: string } }[], r: () => number): [string, string] | undefined {
  const sorted = [...open].sort((a, b) => (BigInt(a.hashKeyRange.startingHashKey) < BigInt(b.hashKeyRange.startingHashKey) ? -1 : 1));
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    if (BigInt(sorted[i]!.hashKeyRange.endingHashKey) + 1n === BigInt(sorted[i + 1]!.hashKeyRange.startingHashKey)) pairs.push([sorted[i]!.shardId, sorted[i + 1]!.shardId]);
  }
  return pairs.length > 0 && sorted.length > 2 ? pairs[Math.floor(r() * pairs.length)] : undefined;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** Malformed and hostile records: each must reach quarantine once and stop nothing. */
function hostileRecords(n: number, r: () => number): Uint8Array[] {
  const order = (details: string) => `{"event_id":"ev-h","event_type":"ORDER_CREATED","order_id":"ord-h${Math.floor(r() * 1e9)}","order_details":${details}}`;
  const item = (q: string, pq = "1") => `{"items":[{"product_id":"p","quantity":${q},"packages":[{"package_id":"pkg-000","subpackage_id":1,"quantity":${pq}}]}]}`;
  const kinds: (() => Uint8Array)[] = [
    () => enc("{not json"),
    () => new Uint8Array(0),
    () => new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
    () => enc("[1,2,3]"),
    () => enc(`{"event_type":"ORDER_CREATED","order_id":"ord-x"}`),
    () => enc(order(item("100000000000000000000"))),
    () => enc(order(item("1", "1").replace(`"quantity":1,`, `"quantity":1,"price":1e309,`))),
    () => enc(order(item("100000", "100000"))),
    () => enc(order(item("-5"))),
    () => enc(order(item("0"))),
    () => enc(order(item('"3"'))),
    () => enc(order(`{"items":[{"quantity":1,"packages":[${Array.from({ length: 12_000 }, () => "{}").join(",")}]}]}`)),
    () => enc(order(`{"order_timestamp":"2024-02-30 10:00:00"}`)),
  ];
  return Array.from({ length: n }, () => kinds[Math.floor(r() * kinds.length)]!());
}

/** Makes `crypto.randomUUID` seeded for the run (file names, txn ids), and gives a way back. */
function seedUuids(seed: number): () => void {
  const r = seededRandom(seed ^ 0x5eed);
  const original = crypto.randomUUID.bind(crypto);
  const seeded = () => {
    const h = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}` as `${string}-${string}-${string}-${string}-${string}`;
  };
  try {
    Object.defineProperty(crypto, "randomUUID", { value: seeded, configurable: true, writable: true });
  } catch {
    return () => {};
  }
  return () => Object.defineProperty(crypto, "randomUUID", { value: original, configurable: true, writable: true });
}
