/**
 * `make bench-peer`: the same orders through this pipeline and through a Polars +
 * deltalake job (`polars_peer.py`, one thread), both pinned to the same core, side by
 * side: orders/s, CPU-seconds, peak RSS and the ratio; then checks with delta-rs
 * (`compare_peer.py`) that both wrote the same rows and left the same stock. The orders
 * are the bench's generator's, written to one file (one JSON per line) that the peer
 * reads; ours reads the same bytes from the generator. Never asserts a time.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { DeltaTable } from "../../src/core/delta/table.ts";
import { PACKAGE_TABLE } from "../../src/domains/orders/package_table.ts";
import { generatePackages } from "../../src/produce/order_generator.ts";
import { runtimeCommand } from "../helpers/runtime.ts";
import { pythonBin } from "../helpers/servers.ts";
import { GeneratedSource } from "./generated_source.ts";

const ORDERS = Number(process.env.ORDERS ?? 200_000);
const SHARDS = 4;
const here = path.dirname(new URL(import.meta.url).pathname);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-peer-"));
const pinned = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const pin = (cmd: string, args: string[]): [string, string[]] => (pinned ? ["taskset", ["-c", "0", cmd, ...args]] : [cmd, args]);

function run(cmd: string, args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${path.basename(args.find((a) => /\.(py|ts)$/.test(a)) ?? cmd)} failed (${r.status}): ${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

try {
  // The orders, as the generator serves them, one per line.
  const file = path.join(root, "orders.jsonl");
  const source = new GeneratedSource(ORDERS, SHARDS);
  const per = Math.ceil(ORDERS / SHARDS);
  const fd = fs.openSync(file, "w");
  const nl = new Uint8Array([10]);
  for (let s = 0; s < SHARDS; s++) {
    for (let i = 0; i < per; i++) {
      fs.writeSync(fd, source.record(s, i));
      fs.writeSync(fd, nl);
    }
  }
  fs.closeSync(fd);
  const peerRoot = path.join(root, "peer");
  const pkg = await DeltaTable.openOrCreate(new LocalStore(path.join(peerRoot, "package_table")), PACKAGE_TABLE.spec);
  await pkg.append(generatePackages(100_000_000));

  const oursRoot = path.join(root, "ours");
  const ours = run(...pin(...runtimeCommand(path.join(here, "bench_pipeline.ts"), ["--pipeline", oursRoot])));
  const peer = run(...pin(pythonBin(), [path.join(here, "polars_peer.py"), file, peerRoot, "10000"]), { POLARS_MAX_THREADS: "1", RAYON_NUM_THREADS: "1" });
  const check = spawnSync(pythonBin(), [path.join(here, "compare_peer.py"), oursRoot, peerRoot], { encoding: "utf8" });

  const total = per * SHARDS;
  const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d });
  const line = (name: string, s: number, cpu: number, rss: number) =>
    console.log(`${name.padEnd(40)} ${fmt(total / s).padStart(10)} ${fmt(s, 2).padStart(8)} ${fmt(cpu, 2).padStart(7)} ${fmt(rss, 1).padStart(13)}`);
  console.log(`bench-peer: ${fmt(total)} orders, batches of 10,000, ${pinned ? "both on one core (taskset -c 0)" : "unpinned (no taskset)"}\n`);
  console.log(`${"".padEnd(40)} ${"orders/s".padStart(10)} ${"seconds".padStart(8)} ${"CPU-s".padStart(7)} ${"peak RSS MiB".padStart(13)}`);
  line("data-subscriber", ours.seconds as number, ours.cpuSeconds as number, ours.rss as number);
  line("Polars + deltalake, one thread", peer.seconds as number, peer.cpu_seconds as number, peer.peak_rss_mib as number);
  console.log(`\nours / peer: ${((peer.seconds as number) / (ours.seconds as number)).toFixed(2)}× in orders/s, ${((peer.cpu_seconds as number) / (ours.cpuSeconds as number)).toFixed(2)}× in CPU-seconds (target ≥ 1.5×)`);
  console.log(`same rows and stock (read with delta-rs): ${check.status === 0 ? "yes" : "NO"} ${check.stdout.trim()}${check.status === 0 ? "" : `\n${check.stderr}`}`);
  if (check.status !== 0) process.exitCode = 1;
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
