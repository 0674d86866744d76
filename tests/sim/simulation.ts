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
 * and hostile records among the orders, and records of up to 10 MiB.
 */
import { FakeClock } from "../../src/adapters/memory/fake_clock.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ScriptedSource } from "../../src/adapters/memory/scripted_source.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
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
  /** Store fault rates. */
  storeFaults?: Partial<StoreFaults>;
  /** Called with progress lines (verbose runs). */
  log?: (line: string) => void;
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
export function replayCommand(seed: number): string {
  return `make sim SEED=${seed}`;
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
  const source = new ScriptedSource("sim", options.shards ?? 2 + Math.floor(plan() * 3), clock);
  const now = () => clock.wallMs();
  const tables = Object.fromEntries(["events", "orders", "orders_items", "quarantine", "package_table"].map((t) => [t, new MemoryStore(t, now)]));
  const statesStore = new MemoryStore("states", now);
  const sw: FaultSwitch = { on: true, stormUntil: -Infinity, random: faultRandom, counts };
  const storeFaults: StoreFaults = { errorBefore: 0.01, errorAfter: 0.01, truncatedRead: 0.005, latency: 0.05, maxLatencyMs: 400, ...options.storeFaults };

  // package_table: ample stock or none per group, so stock outcomes do not depend on batching.
  const { rows: packageRows, rich, stock: stockBefore } = richAndPoorPackages();
  // Checkpoints every few commits: log cleanup after a time jump then removes commits that
  // a worker's snapshot is only a few versions behind.
  const configuration = { "delta.checkpointInterval": String(2 + Math.floor(plan() * 4)) };
  await (await DeltaTable.openOrCreate(tables.package_table!, { ...PACKAGE_TABLE.spec, configuration }, { now })).append(packageRows);
  for (const t of [eventsTable, ordersTable, ordersItemsTable, QUARANTINE_TABLE]) await DeltaTable.openOrCreate(tables[t.name]!, { ...t.spec, configuration }, { now });

  // The input: orders, bad records and big records, interleaved by the seed.
  const orders = generateOrders(options.orders ?? 240, seed, Date.UTC(2025, 5, 1));
  const input: { data: Uint8Array; key: string; bad: boolean }[] = orders.map((o) => ({ data: enc(JSON.stringify(o)), key: String(o.order_id), bad: false }));
  for (let i = 0; i < (options.bigRecords ?? 1); i++) {
    const big = generateOrders(1, seed + 1000 + i, Date.UTC(2025, 5, 2))[0]!;
    orders.push(big);
    const filler = "x".repeat(2 * 1024 * 1024 + Math.floor(plan() * 8 * 1024 * 1024));
    input.push({ data: enc(JSON.stringify({ ...big, notes: filler })), key: String(big.order_id), bad: false });
  }
  const bad = hostileRecords(options.badRecords ?? 24, plan);
  for (const b of bad) input.splice(Math.floor(plan() * (input.length + 1)), 0, { data: b, key: `bad-${input.length}`, bad: true });
  const badPositions = new Set<string>();
  const lastSeq = new Map<string, string>();

  // Outside appender rows (blind appends to events by another writer).
  let outsideRows = 0;

  const slots: Slot[] = Array.from({ length: options.workers ?? 2 + Math.floor(plan() * 3) }, (_, i) => ({ workerId: `w${i}`, restartAt: 0 }));
  let instances = 0;
  const duplicates: Slot[] = [];
  const maxBuffered = { records: 0, bytes: 0 };

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
        return never();
      }
      if (sw.on && jitter() < pointPause) {
        count(`pause-at-${point}`);
        proc.pauseFor(LEASE_MS * (1.2 + jitter() * 4));
        return proc.gate();
      }
    };
    const abort = new AbortController();
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
  for (const d of duplicates.splice(0)) stop(d);
  let reached = false;
  const quietEnd = clock.monoMs() + quietPhaseMs;
  while (clock.monoMs() < quietEnd) {
    for (const slot of slots) {
      if (slot.process?.crashed) slot.process = undefined;
      if (!slot.process) void start(slot);
    }
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
  if (maxBuffered.records > 2 * MAX_RECORDS + Math.max(100, MAX_RECORDS / 4)) failures.push(`memory: the batcher held ${maxBuffered.records} records, over its cap`);

  // --- the oracle ---
  if (reached) await judge();
  return { seed, ok: failures.length === 0, failures, virtualMs: clock.monoMs(), counts };

  async function chaos(): Promise<void> {
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
    } else if (roll < 0.0150 && jumps < 2) {
      jumps++;
      clock.jump(31 * DAY_MS);
      count("time-jumps");
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
    // Restart processes whose time has come; retire duplicates that were refused.
    for (const slot of slots) {
      if (!slot.process && clock.monoMs() >= slot.restartAt) void start(slot);
    }
    for (const d of duplicates) {
      if (!d.process) duplicates.splice(duplicates.indexOf(d), 1);
    }
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
  }

  async function atTip(): Promise<boolean> {
    const states = new ShardStateStore(statesStore, "states/");
    for (const shard of await source.listShards()) {
      const st = (await states.read(shard.shardId))?.state;
      if (shard.endingSequenceNumber !== undefined) {
        if (!st?.finished) return false;
        continue;
      }
      const last = lastSeq.get(shard.shardId);
      if (last === undefined) continue;
      if (st?.intent || st?.position?.sequenceNumber !== last) return false;
    }
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
    const expected = expectedTables(orders, stockBefore, rich);
    const events = (await read("events")).filter((e) => e.event_type !== "OUTSIDE");
    const outside = (await read("events")).length - events.length;
    if (outside !== outsideRows) failures.push(`events: ${outside} rows of the outside appender, expected ${outsideRows}`);
    const ids = events.map((e) => String(e.event_id));
    if (new Set(ids).size !== ids.length) failures.push(`events: ${ids.length - new Set(ids).size} event ids twice`);
    const created = events.filter((e) => e.event_type === "ORDER_CREATED").length;
    if (created !== orders.length) failures.push(`events: ${created} ORDER_CREATED, expected ${orders.length}`);
    const inv = events.filter((e) => e.event_type === "INVENTORY_UPDATED").map((e) => String(e.event_id)).sort();
    if (JSON.stringify(inv) !== JSON.stringify(expected.inventoryEvents.map((e) => String(e.event_id)).sort())) {
      failures.push(`events: ${inv.length} INVENTORY_UPDATED, expected ${expected.inventoryEvents.length}`);
    }
    compareTable("orders", await read("orders"), expected.orders, ordersTable.spec.schema as unknown as DeltaStructType, "order_id");
    compareTable("orders_items", await read("orders_items"), expected.orders_items, ordersItemsTable.spec.schema as unknown as DeltaStructType, "inventory_id");
    const q = await read("quarantine");
    const qSeqs = q.map((r) => String(r.sequence_number));
    if (new Set(qSeqs).size !== qSeqs.length) failures.push(`quarantine: ${qSeqs.length - new Set(qSeqs).size} records twice`);
    const missing = [...badPositions].filter((s) => !qSeqs.includes(s));
    const extra = qSeqs.filter((s) => !badPositions.has(s));
    if (missing.length || extra.length) failures.push(`quarantine: ${missing.length} bad records missing, ${extra.length} good records quarantined (${q.filter((r) => !badPositions.has(String(r.sequence_number))).map((r) => r.reason).slice(0, 3).join(" | ")})`);
    for (const r of await read("package_table")) {
      const key = `${r.package_id}/${r.subpackage_id}`;
      const stock = Number(r.stock_quantity);
      if (stock < 0) failures.push(`package_table: stock of ${key} is negative (${stock})`);
      if (stock !== expected.stock.get(key)) failures.push(`package_table: stock of ${key} is ${stock}, expected ${expected.stock.get(key)}`);
    }
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
