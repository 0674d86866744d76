/**
 * The Kinesis adapter under the supervisor, against a real server (kinesis-local): the
 * shared supervisor suite (tests/helpers/supervisor_suite.ts: every record once while shards
 * split and merge, restarts, LATEST and AT_TIMESTAMP, graceful stops, crash replays), then
 * what needs the real server: KPL aggregated records, also when a run stops inside one,
 * and three reader processes sharing an 8-shard stream, one of them killed.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  type Shard,
  SplitShardCommand,
} from "@aws-sdk/client-kinesis";
import { KinesisSource } from "../../src/adapters/kinesis/kinesis_source.ts";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { ShardStateStore } from "../../src/core/shard_state/shard_state_store.ts";
import { systemClock } from "../../src/ports/clock.ts";
import type { RecordSource } from "../../src/ports/record_source.ts";
import { type KinesisLocal, startKinesisLocal } from "../helpers/kinesis_local.ts";
import { aggregateRecords } from "../helpers/kpl.ts";
import { CrashError, type LogEntry, readLog, checkExactlyOnce } from "../helpers/log_handler.ts";
import type { ReaderWorkerConfig, WorkerReport } from "../helpers/reader_worker.ts";
import { runtimeCommand } from "../helpers/runtime.ts";
import { REPO, waitFor } from "../helpers/servers.ts";
import { checkBatchesPerShard, committed, KEYS, makeWorker, runSupervisorSuite, runUntil, type StreamHandle, type SupervisorWorld } from "../helpers/supervisor_suite.ts";

const enc = new TextEncoder();

let kinesis: KinesisLocal;

/** The kinesis-local world: real clock, real server, local folders for the shard states. */
const world: SupervisorWorld = {
  name: "kinesis-local",
  clock: systemClock,
  async stream(name, shards) {
    await kinesis.createStream(name, shards);
    return kinesisStream(name);
  },
  store: async (name) => new LocalStore(await tempFolder(name)),
  waitFor: (what, check, timeoutMs) => waitFor(what, check, timeoutMs ?? 30_000),
  settle: (p) => p,
  // kinesis-local's arrival times are real: time must really pass (a real server awaited).
  pass: (ms) => new Promise((r) => setTimeout(r, ms)),
  timing: { leaseMs: 400, idleDelayMs: 20, maxCallsPerSecond: 50, backoffMs: 20, maxBackoffMs: 200 },
  async pollingAtTip(handle) {
    const watched = pollWatched((handle as KinesisStream).inner);
    (handle as KinesisStream).next = watched.source;
    const open = (await handle.shards()).length;
    return () => watched.polled.size === open;
  },
};

interface KinesisStream extends StreamHandle {
  inner: RecordSource;
  /** The source the next worker gets (a watched one, for LATEST). */
  next?: RecordSource | undefined;
}

function kinesisStream(name: string): KinesisStream {
  const handle: KinesisStream = {
    inner: sourceOf(name),
    source() {
      const s = handle.next ?? sourceOf(name);
      handle.next = undefined;
      return s;
    },
    put: (from, to) => put(name, from, to),
    async split() {
      const toSplit = (await listShards(name)).filter(isOpen)[0]!;
      const middle = (hashStart(toSplit) + hashEnd(toSplit) + 1n) / 2n;
      await kinesis.client.send(new SplitShardCommand({ StreamName: name, ShardToSplit: toSplit.ShardId!, NewStartingHashKey: middle.toString() }));
      await waitActive(name);
    },
    async merge() {
      const open = (await listShards(name)).filter(isOpen).filter((s) => s.ParentShardId === undefined);
      const pair = open.flatMap((a) => open.filter((b) => hashEnd(a) + 1n === hashStart(b)).map((b) => [a, b] as const))[0];
      assert.ok(pair, `two adjacent open shards among ${open.map((s) => s.ShardId).join(", ")}`);
      await kinesis.client.send(new MergeShardsCommand({ StreamName: name, ShardToMerge: pair[0].ShardId!, AdjacentShardToMerge: pair[1].ShardId! }));
      await waitActive(name);
    },
    shards: () => sourceOf(name).listShards(),
  };
  return handle;
}

const sourceOf = (stream: string) => new KinesisSource(stream, kinesis.client);
const makeSubscriber = (source: RecordSource, store: Parameters<typeof makeWorker>[2], worker: string, opts: Parameters<typeof makeWorker>[4] = {}) => makeWorker(world, source, store, worker, opts);

/** Puts records `i` in [from, to) as `key-<i % 37>:<i>`, one call per 37; returns their data. */
async function put(stream: string, from: number, to: number): Promise<string[]> {
  const out: string[] = [];
  for (let start = from; start < to; start = start - (start % KEYS) + KEYS) {
    const end = Math.min(to, start - (start % KEYS) + KEYS);
    const data = Array.from({ length: end - start }, (_, k) => `key-${(start + k) % KEYS}:${start + k}`);
    const res = await kinesis.client.send(new PutRecordsCommand({
      StreamName: stream,
      Records: data.map((d) => ({ PartitionKey: d.split(":")[0]!, Data: enc.encode(d) })),
    }));
    assert.equal(res.FailedRecordCount ?? 0, 0, `PutRecords to '${stream}' failed for some records`);
    out.push(...data);
  }
  return out;
}

/** Puts 37 records a call until stopped; `expected` holds every record put so far. */
function keepPutting(stream: string, from: number) {
  const expected: string[] = [];
  let next = from;
  let stopping = false;
  const done = (async () => {
    while (!stopping) {
      expected.push(...(await put(stream, next, next + KEYS)));
      next += KEYS;
    }
  })();
  return {
    expected,
    get next() {
      return next;
    },
    /** Stops after the call in flight; resolves with the next unused index. */
    async stop(): Promise<number> {
      stopping = true;
      await done;
      return next;
    },
  };
}

async function waitActive(stream: string): Promise<void> {
  await waitFor(`stream '${stream}' to be ACTIVE`, async () => {
    const out = await kinesis.client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    return out.StreamDescriptionSummary?.StreamStatus === "ACTIVE";
  }, 10_000);
}

async function listShards(stream: string): Promise<Shard[]> {
  const { Shards = [] } = await kinesis.client.send(new ListShardsCommand({ StreamName: stream }));
  return Shards;
}

const isOpen = (s: Shard) => !s.SequenceNumberRange?.EndingSequenceNumber;
const hashStart = (s: Shard) => BigInt(s.HashKeyRange?.StartingHashKey ?? "0");
const hashEnd = (s: Shard) => BigInt(s.HashKeyRange?.EndingHashKey ?? "0");

/** A source that notes which shards have had a GetRecords answer (the readers' iterators exist). */
function pollWatched(inner: RecordSource): { source: RecordSource; polled: Set<string> } {
  const shardOf = new Map<string, string>();
  const polled = new Set<string>();
  const source: RecordSource = {
    streamName: inner.streamName,
    listShards: (signal) => inner.listShards(signal),
    async getIterator(shardId, position, signal) {
      const it = await inner.getIterator(shardId, position, signal);
      shardOf.set(it, shardId);
      return it;
    },
    async getRecords(iterator, limit, signal) {
      const res = await inner.getRecords(iterator, limit, signal);
      const shardId = shardOf.get(iterator);
      shardOf.delete(iterator);
      if (shardId) {
        polled.add(shardId);
        if (res.nextIterator) shardOf.set(res.nextIterator, shardId);
      }
      return res;
    },
  };
  return { source, polled };
}

const tmpDirs: string[] = [];
async function tempFolder(name: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `ds-kinesis-${name}-`));
  tmpDirs.push(dir);
  return dir;
}

describe("KinesisSource under the supervisor, on kinesis-local", () => {
  before(async () => (kinesis = await startKinesisLocal()));
  after(async () => {
    await kinesis?.stop();
    for (const dir of tmpDirs) await fs.rm(dir, { recursive: true, force: true });
  });

  runSupervisorSuite(() => Promise.resolve(world), {
    // Flaky on kinesis-local (passes alone, failed once in ten whole-file runs); the in-memory
    // world runs it deterministically. Investigation pending.
    "an intent left by a crash after the tables were written is replayed without duplicates": "flaky on kinesis-local; run in tests/engine/supervisor_test.ts",
  });

  describe("KPL aggregated records", () => {
    /** Puts, one PutRecord at a time, aggregated records of `sizes[j]` user records, each followed by a plain record. */
    async function putAggregates(stream: string, sizes: number[]) {
      const aggregates: { sequenceNumber: string; data: string[]; keys: string[] }[] = [];
      const plain: { sequenceNumber: string; data: string }[] = [];
      for (const [j, n] of sizes.entries()) {
        const data = Array.from({ length: n }, (_, k) => `agg${j}:${k}`);
        const keys = data.map((_, k) => `user-${j}-${k}`);
        const body = aggregateRecords(data.map((d, k) => ({ partitionKey: keys[k]!, data: enc.encode(d) })));
        const res = await kinesis.client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: `agg-${j}`, Data: body }));
        aggregates.push({ sequenceNumber: res.SequenceNumber!, data, keys });
        const p = `plain${j}:0`;
        const res2 = await kinesis.client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: `plain-${j}`, Data: enc.encode(p) }));
        plain.push({ sequenceNumber: res2.SequenceNumber!, data: p });
      }
      return { aggregates, plain, all: [...aggregates.flatMap((a) => a.data), ...plain.map((p) => p.data)] };
    }

    /** Each user record once, at (its aggregated record's sequence number, 0..N-1), in order. */
    function checkAggregates(entries: LogEntry[], sent: Awaited<ReturnType<typeof putAggregates>>): void {
      const records = entries.flatMap((e) => e.records);
      const ids = records.map((r) => `${r.sequenceNumber}/${r.subSequenceNumber}`);
      assert.equal(new Set(ids).size, ids.length, "no user record committed twice");
      assert.deepEqual(records.map((r) => r.data).sort(), [...sent.all].sort(), "every user record committed");
      for (const a of sent.aggregates) {
        const subs = records.filter((r) => r.sequenceNumber === a.sequenceNumber);
        assert.deepEqual(subs.map((r) => r.subSequenceNumber), a.data.map((_, k) => k), `sub-sequence numbers of ${a.sequenceNumber}`);
        assert.deepEqual(subs.map((r) => r.data), a.data, `user records of ${a.sequenceNumber} in order`);
        assert.deepEqual(subs.map((r) => r.partitionKey), a.keys, "each user record keeps its partition key");
      }
      for (const p of sent.plain) {
        assert.deepEqual(records.filter((r) => r.sequenceNumber === p.sequenceNumber).map((r) => [r.subSequenceNumber, r.data]), [[0, p.data]], "a plain record is sub-record 0");
      }
    }

    test("every user record is committed once with sub-sequence numbers 0..N-1 under its record's sequence number", async () => {
      const stream = "kpl";
      await kinesis.createStream(stream, 1);
      const sent = await putAggregates(stream, [5, 9, 1, 7]);
      const store = new MemoryStore();
      await runUntil(world, makeSubscriber(sourceOf(stream), store, "w1").sub, async () => (await committed(store)) >= sent.all.length);
      checkAggregates(await readLog(store), sent);
    });

    // A graceful stop commits everything its readers delivered, whole GetRecords answers, so
    // a run can only end inside an aggregated record by dying: once right after the first
    // batch was checkpointed (position inside the record, no intent), once after the second
    // batch reached the tables but before its checkpoint (an intent inside the record).
    const stops = [
      { name: "after the first batch was checkpointed", crashAt: "checkpoint" },
      { name: "after the second batch was written but before its checkpoint", crashAt: "after-commits" },
    ] as const;
    for (const [i, stop] of stops.entries()) {
      test(`a run stopped inside an aggregated record ${stop.name} resumes with its next sub-record`, async () => {
        const stream = `kpl-stop-${i}`;
        await kinesis.createStream(stream, 1);
        const sent = await putAggregates(stream, [7, 7, 7]);
        const store = new LocalStore(await tempFolder(stream));
        const states = new ShardStateStore(store, "checkpoints/");
        let batches = 0;
        let commits = 0;
        const first = makeSubscriber(sourceOf(stream), store, "w1", {
          maxRecords: 3,
          events: stop.crashAt === "checkpoint" ? { batchCommitted: () => { if (++batches === 1) throw new CrashError(1); } } : {},
          fault: (point) => {
            if (stop.crashAt === "after-commits" && point === "after-commits" && ++commits === 2) throw new CrashError(2);
          },
        });
        await assert.rejects(first.sub.run(new AbortController().signal), CrashError);
        const a0 = sent.aggregates[0]!.sequenceNumber;
        const state = (await states.read("shardId-000000000000"))!.state;
        if (stop.crashAt === "checkpoint") {
          assert.deepEqual({ position: state.position, intent: state.intent }, { position: { sequenceNumber: a0, subSequenceNumber: 2 }, intent: null }, "checkpointed inside the first aggregated record");
        } else {
          assert.deepEqual(state.position, { sequenceNumber: a0, subSequenceNumber: 2 });
          assert.deepEqual([state.intent?.first, state.intent?.last], [{ sequenceNumber: a0, subSequenceNumber: 3 }, { sequenceNumber: a0, subSequenceNumber: 5 }], "the intent covers sub-records 3..5");
        }
        const firstRun = await readLog(store);
        assert.deepEqual(firstRun.flatMap((e) => e.records.map((r) => r.data)), stop.crashAt === "checkpoint" ? ["agg0:0", "agg0:1", "agg0:2"] : ["agg0:0", "agg0:1", "agg0:2", "agg0:3", "agg0:4", "agg0:5"]);

        const second = makeSubscriber(sourceOf(stream), store, "w2", { maxRecords: 3 });
        await runUntil(world, second.sub, async () => (await committed(store)) >= sent.all.length);
        const entries = await readLog(store);
        const resumed = entries.filter((e) => e.worker === "w2" && !e.replay).flatMap((e) => e.records.map((r) => r.data));
        assert.equal(resumed[0], stop.crashAt === "checkpoint" ? "agg0:3" : "agg0:6", "the restart goes on with the next sub-record");
        if (stop.crashAt === "after-commits") assert.equal(second.handler.skipped, 1, "the replayed intent was found written and skipped");
        checkAggregates(entries, sent);
        checkBatchesPerShard(entries);
      });
    }
  });

  describe("three reader processes on an 8-shard stream", () => {
    const LEASE_MS = 1_000;
    const RENEW_MS = 250;
    const REPORT_MS = 100;

    interface Worker {
      id: string;
      child: ChildProcess;
      reports: WorkerReport[];
      stderr: string;
      exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    }

    const workers: Worker[] = [];
    after(() => {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    });

    function startWorker(cfg: ReaderWorkerConfig): Worker {
      const [cmd, argv] = runtimeCommand(path.join(REPO, "tests/helpers/reader_worker.ts"), [JSON.stringify(cfg)]);
      const child = spawn(cmd, argv, { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
      const w: Worker = {
        id: cfg.workerId, child, reports: [], stderr: "",
        exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
      };
      let buffer = "";
      child.stdout?.on("data", (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) w.reports.push(JSON.parse(line) as WorkerReport);
      });
      child.stderr?.on("data", (d: Buffer) => (w.stderr = (w.stderr + d.toString()).slice(-8000)));
      workers.push(w);
      return w;
    }

    /** The latest report of each worker made at or before `t` and not older than `maxAgeMs`. */
    function viewAt(ws: Worker[], t: number, maxAgeMs: number): Map<string, WorkerReport> {
      const out = new Map<string, WorkerReport>();
      for (const w of ws) {
        const r = w.reports.findLast((x) => x.t <= t);
        if (r && t - r.t <= maxAgeMs) out.set(w.id, r);
      }
      return out;
    }

    /**
     * Where two workers named the same shard at once. A worker's ownership of a shard is a
     * stint: the reports from the first that names it to the last of the run of reports that
     * do. Two stints of one shard by different workers overlap when one worker still named
     * it in a report made after the other had already named it in one; the overlap is how
     * long that lasted. (Comparing each worker's latest report at an instant instead would
     * count the up-to-one-report-period staleness of every report as an overlap.)
     */
    function overlaps(ws: Worker[]) {
      const stints: { worker: string; shard: string; from: number; to: number }[] = [];
      for (const w of ws) {
        const open = new Map<string, { from: number; to: number }>();
        for (const r of w.reports) {
          for (const s of r.held) {
            const o = open.get(s);
            if (o) o.to = r.t;
            else open.set(s, { from: r.t, to: r.t });
          }
          for (const [s, o] of [...open]) {
            if (r.held.includes(s)) continue;
            stints.push({ worker: w.id, shard: s, ...o });
            open.delete(s);
          }
        }
        for (const [s, o] of open) stints.push({ worker: w.id, shard: s, ...o });
      }
      const out: { shard: string; workers: string; at: number; ms: number }[] = [];
      for (const [i, a] of stints.entries()) {
        for (const b of stints.slice(i + 1)) {
          if (a.shard !== b.shard || a.worker === b.worker) continue;
          const ms = Math.min(a.to, b.to) - Math.max(a.from, b.from);
          if (ms >= 0) out.push({ shard: a.shard, workers: `${a.worker}+${b.worker}`, at: Math.max(a.from, b.from), ms });
        }
      }
      return { stints: stints.length, overlaps: out };
    }

    test("share the shards one owner each, take over a killed worker's shards within two lease periods, and commit every record once", async () => {
      const stream = "workers";
      await kinesis.createStream(stream, 8);
      const shardIds = (await listShards(stream)).map((s) => s.ShardId!).sort();
      const folder = await tempFolder("workers");
      const store = new LocalStore(folder);
      const base: Omit<ReaderWorkerConfig, "workerId"> = {
        endpoint: kinesis.endpoint, stream, folder,
        leaseDurationMs: LEASE_MS, renewIntervalMs: RENEW_MS,
        maxBatchRecords: 200, maxBatchAgeMs: 100, idleDelayMs: 100, reportEveryMs: REPORT_MS,
      };
      const started = Date.now();
      const ws = ["w1", "w2", "w3"].map((id) => startWorker({ ...base, workerId: id }));
      const putter = keepPutting(stream, 0);
      let stopped = false;
      try {
        const alive = (w: Worker) => w.child.exitCode === null && w.child.signalCode === null;
        const failed = () => ws.find((w) => !alive(w));
        await waitFor("three workers reporting", () => {
          const dead = failed();
          if (dead) throw new Error(`worker ${dead.id} exited: ${dead.stderr}`);
          return ws.every((w) => w.reports.length > 0);
        }, 30_000).catch((err) => {
          throw new Error(`${err.message}: ${ws.map((w) => `${w.id}: ${w.stderr}`).join("\n")}`, { cause: err });
        });

        // (a) Balanced: every shard held by exactly one worker, each holding 2 or 3.
        let balancedAt = 0;
        await waitFor("balanced leases", () => {
          const dead = failed();
          if (dead) throw new Error(`worker ${dead.id} exited: ${dead.stderr}`);
          const now = Date.now();
          const view = viewAt(ws, now, 2 * REPORT_MS + 50);
          if (view.size !== 3) return false;
          const held = [...view.values()].flatMap((r) => r.held);
          const ok = [...view.values()].every((r) => r.held.length >= 2 && r.held.length <= 3) && held.length === 8 && new Set(held).size === 8;
          if (ok) balancedAt = now;
          return ok;
        }, 20_000);
        const balancedView = viewAt(ws, balancedAt, 2 * REPORT_MS + 50);
        assert.deepEqual([...balancedView.values()].flatMap((r) => r.held).sort(), shardIds, "every shard held by exactly one worker");
        await waitFor("first records committed, some by each worker", async () => (await committed(store)) >= 300 && ws.every((w) => (w.reports.at(-1)?.written ?? 0) > 0), 20_000);

        // (b) SIGKILL one worker: the survivors hold all its shards within two lease periods.
        const victim = ws[2]!;
        const survivors = ws.slice(0, 2);
        const orphaned = victim.reports.at(-1)!.held;
        const killedAt = Date.now();
        victim.child.kill("SIGKILL");
        await victim.exited;
        let takenAt = 0;
        await waitFor("the killed worker's shards taken over", () => {
          for (const t of survivors.flatMap((w) => w.reports.map((r) => r.t)).filter((t) => t > killedAt).sort((a, b) => a - b)) {
            const view = viewAt(survivors, t, 2 * REPORT_MS + 50);
            const held = new Set([...view.values()].flatMap((r) => r.held));
            if (view.size === 2 && shardIds.every((s) => held.has(s))) {
              takenAt = t;
              return true;
            }
          }
          return false;
        }, 4 * LEASE_MS + 5_000);
        const takeover = takenAt - killedAt;
        const bound = 2 * LEASE_MS + RENEW_MS + 2 * REPORT_MS + 100;
        console.log(`takeover of ${orphaned.length} shards (${orphaned.join(", ")}) by the survivors: ${takeover} ms (lease ${LEASE_MS} ms, renew ${RENEW_MS} ms, bound ${bound} ms)`);
        assert.ok(takeover <= bound, `taken over in ${takeover} ms: more than ${bound} ms`);

        // (c) More records; then every record in the log exactly once.
        const next = await putter.stop();
        const expected = [...putter.expected, ...(await put(stream, next, next + 300))];
        await waitFor("all records committed", async () => (await committed(store)) >= expected.length, 30_000);
        for (const w of survivors) w.child.kill("SIGTERM");
        const exits = await Promise.all(survivors.map((w) => w.exited));
        stopped = true;
        for (const [k, w] of survivors.entries()) {
          const e = exits[k]!;
          assert.equal(w.reports.at(-1)?.exitCode, 0, `${w.id} stopped cleanly (exit ${e.code}, signal ${e.signal}): ${w.stderr}`);
        }

        // (a) One owner per shard at every sampled moment. The lease itself is exclusive (a
        // compare-and-swap in the shared store), but a worker whose shard was stolen while
        // balancing learns it at its next renewal round, and until then still names it (its
        // CAS fences it off: part (c) checks nothing was committed twice). Allow the old and
        // the new owner to overlap while balancing by less than a lease period (a round is
        // due every renew interval; on an idle machine overlaps stay under it, on a loaded
        // one rounds run late), and not at all once balanced.
        const found = overlaps(ws);
        const longest = Math.max(0, ...found.overlaps.map((o) => o.ms));
        const samples = ws.reduce((n, w) => n + w.reports.length, 0);
        console.log(
          `${samples} reports, ${found.stints} ownership stints; a shard named by two workers at once: ${found.overlaps.length} time(s), longest ${longest} ms` +
            (found.overlaps.length ? ` (${found.overlaps.map((o) => `${o.shard.slice(-2)} ${o.workers} ${o.ms} ms at +${o.at - started} ms`).join(", ")})` : "") +
            `; balanced at +${balancedAt - started} ms`,
        );
        for (const o of found.overlaps) {
          assert.ok(o.ms < LEASE_MS, `${o.shard} named by ${o.workers} for ${o.ms} ms from +${o.at - started} ms`);
          assert.ok(o.at < balancedAt, `${o.shard} named by ${o.workers} at +${o.at - started} ms, after the leases were balanced (+${balancedAt - started} ms)`);
        }

        const entries = await readLog(store);
        checkExactlyOnce(entries, expected);
        checkBatchesPerShard(entries);
        const ids = entries.flatMap((e) => e.records.map((r) => `${r.shardId}/${r.sequenceNumber}/${r.subSequenceNumber}`));
        assert.equal(new Set(ids).size, ids.length, "no record appears in two log entries");
        console.log(`${expected.length} records in ${entries.length} batches, ${entries.filter((e) => e.replay).length} of them replays of the killed worker's intents`);
        const writers = new Set(entries.map((e) => e.worker));
        assert.ok(writers.size === 3, `all three workers committed batches: ${[...writers].join(", ")}`);
      } finally {
        if (!stopped) {
          await putter.stop().catch(() => {});
          for (const w of ws) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
        }
      }
    });
  });
});
