/**
 * The deployment files as the tools that read them see them:
 *
 * - `systemd-analyze verify` on deploy/systemd/data-subscriber.service, in a scratch root
 *   (`--root`) that has the system's units and a stand-in for the ExecStart binary, so
 *   that the check does not depend on /usr/local/bin/data-subscriber being installed;
 * - the unit's restart policy against the exit codes and the outage budget;
 * - `actionlint` on every workflow (.github/workflows and deploy/github-actions);
 * - the release workflow publishes what the deploy workflow downloads, under the names
 *   `make release` builds and deploy/README.md gives;
 * - deploy/release/check-version.sh accepts the sources' version and refuses any other.
 *
 * A check whose tool is not on this machine is skipped with the reason (`make test`
 * installs actionlint into .tools/bin when Go is there). Runs under `bun test` and
 * `deno test -A --no-check`.
 * @module
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const UNIT = path.join(ROOT, "deploy/systemd/data-subscriber.service");
const RELEASE_WORKFLOW = path.join(ROOT, ".github/workflows/release.yml");
const DEPLOY_WORKFLOW = path.join(ROOT, "deploy/github-actions/subscriber.yml");

/** The executable `name` in .tools/bin or on PATH, if any. */
function findTool(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...extraDirs, ...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface Ran {
  status: number | null;
  output: string;
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Ran {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

/** The key=value lines of a unit file, by key, in order (comments and sections dropped). */
function unitKeys(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return keys;
}

function one(keys: Map<string, string[]>, key: string): string {
  const values = keys.get(key);
  assert.ok(values && values.length > 0, `the unit sets ${key}=`);
  return values[values.length - 1]!;
}

/** A systemd time span in seconds: "30", "30s", "5min", "1h", "1min 30s". */
function seconds(span: string): number {
  const units: Record<string, number> = { "": 1, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const m = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(part);
    assert.ok(m && m[2]! in units, `a time span systemd reads: ${span}`);
    total += Number(m[1]) * units[m[2]!]!;
  }
  return total;
}

const systemdAnalyze = findTool("systemd-analyze");

test(
  "systemd-analyze verify finds nothing wrong with the unit",
  { skip: systemdAnalyze ? false : "systemd-analyze is not installed (it comes with systemd)" },
  () => {
    const unitText = fs.readFileSync(UNIT, "utf8");
    // ExecStart=[-@:+!]/path args: the binary the unit starts.
    const execStart = one(unitKeys(unitText), "ExecStart").replace(/^[-@:+!]+/, "").split(/\s+/)[0]!;
    assert.ok(path.isAbsolute(execStart), `ExecStart names an absolute path: ${execStart}`);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ds-unit-root-"));
    try {
      // The unit where it is installed, the system's units it refers to (network-online.target,
      // multi-user.target, ...), and a stand-in executable at the ExecStart path.
      fs.mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
      fs.copyFileSync(UNIT, path.join(root, "etc/systemd/system", path.basename(UNIT)));
      fs.mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
      const systemUnits = [...new Set(["/usr/lib/systemd/system", "/lib/systemd/system"].filter((d) => fs.existsSync(d)).map((d) => fs.realpathSync(d)))];
      assert.ok(systemUnits.length > 0, "the system's unit folder (/usr/lib/systemd/system) exists");
      for (const dir of systemUnits) {
        const copied = run("cp", ["-R", `${dir}/.`, path.join(root, "usr/lib/systemd/system")]);
        assert.equal(copied.status, 0, copied.output);
      }
      const bin = path.join(root, execStart);
      fs.mkdirSync(path.dirname(bin), { recursive: true });
      fs.writeFileSync(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });

      // --recursive-errors=no: only this unit's problems fail the check, not those of the
      // machine's own units that it pulls in (network-online.target, ...).
      const verify = () =>
        run(systemdAnalyze!, ["verify", "--recursive-errors=no", `--root=${root}`, path.basename(UNIT)], { env: { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" } });
      const clean = verify();
      assert.equal(clean.status, 0, `systemd-analyze verify failed:\n${clean.output}`);
      const ours = clean.output.split("\n").filter((l) => l.includes(path.basename(UNIT)));
      assert.deepEqual(ours, [], `systemd-analyze verify warned about the unit:\n${clean.output}`);

      // The scratch root is really what was checked: without the stand-in, verify fails.
      fs.rmSync(bin);
      const missing = verify();
      assert.notEqual(missing.status, 0, `verify should fail without ${execStart} in the root:\n${missing.output}`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  },
);

test(
  "systemd-analyze verify finds nothing wrong with the vacuum service and its timer",
  { skip: systemdAnalyze ? false : "systemd-analyze is not installed (it comes with systemd)" },
  () => {
    const units = ["data-subscriber-vacuum.service", "data-subscriber-vacuum.timer"].map((u) => path.join(ROOT, "deploy/systemd", u));
    const service = fs.readFileSync(units[0]!, "utf8");
    const execStart = one(unitKeys(service), "ExecStart").split(/\s+/);
    assert.deepEqual(execStart.slice(1), ["tables", "vacuum"], "the service vacuums every table with each table's own retention");
    assert.equal(one(unitKeys(fs.readFileSync(units[1]!, "utf8")), "Persistent"), "true");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ds-vacuum-root-"));
    try {
      fs.mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
      for (const u of units) fs.copyFileSync(u, path.join(root, "etc/systemd/system", path.basename(u)));
      fs.mkdirSync(path.join(root, "usr/lib/systemd/system"), { recursive: true });
      for (const dir of [...new Set(["/usr/lib/systemd/system", "/lib/systemd/system"].filter((d) => fs.existsSync(d)).map((d) => fs.realpathSync(d)))]) {
        const copied = run("cp", ["-R", `${dir}/.`, path.join(root, "usr/lib/systemd/system")]);
        assert.equal(copied.status, 0, copied.output);
      }
      const bin = path.join(root, execStart[0]!);
      fs.mkdirSync(path.dirname(bin), { recursive: true });
      fs.writeFileSync(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const verify = run(systemdAnalyze!, ["verify", "--recursive-errors=no", `--root=${root}`, ...units.map((u) => path.basename(u))], { env: { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" } });
      assert.equal(verify.status, 0, `systemd-analyze verify failed:\n${verify.output}`);
      const ours = verify.output.split("\n").filter((l) => l.includes("data-subscriber-vacuum"));
      assert.deepEqual(ours, [], `systemd-analyze verify warned about the units:\n${verify.output}`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  },
);

test("the maintenance IAM policy deletes only under the tables' folders, never the shard checkpoints; the subscriber's deletes only in _delta_log/", () => {
  type Statement = { Effect: string; Action: string | string[]; Resource: string | string[] };
  const statements = (file: string) => (JSON.parse(fs.readFileSync(path.join(ROOT, "deploy", file), "utf8")) as { Statement: Statement[] }).Statement;
  const list = (x: string | string[]) => (Array.isArray(x) ? x : [x]);
  const deletes = (file: string, effect: string) => statements(file).filter((s) => s.Effect === effect && list(s.Action).includes("s3:DeleteObject")).flatMap((s) => list(s.Resource));
  assert.deepEqual(deletes("iam-policy.json", "Allow"), ["arn:aws:s3:::BUCKET/TABLES_PREFIX/orders/*/_delta_log/*"]);
  const allowed = deletes("iam-policy-maintenance.json", "Allow");
  assert.deepEqual(allowed, ["arn:aws:s3:::BUCKET/TABLES_PREFIX/orders/delta/bronze/*", "arn:aws:s3:::BUCKET/TABLES_PREFIX/orders/gold/*"]);
  for (const r of allowed) assert.ok(!"arn:aws:s3:::BUCKET/TABLES_PREFIX/orders/delta/checkpoints/x".startsWith(r.replace(/\*$/, "")), `${r} does not cover the shard checkpoints`);
  assert.ok(deletes("iam-policy-maintenance.json", "Deny").includes("arn:aws:s3:::BUCKET/TABLES_PREFIX/orders/delta/checkpoints/*"));
  const maintenanceActions = new Set(statements("iam-policy-maintenance.json").flatMap((s) => list(s.Action)));
  assert.ok(![...maintenanceActions].some((a) => a.startsWith("kinesis:")), "maintenance needs no Kinesis");
});

test("the unit restarts what a restart can fix, and an outage never exhausts its start limit", () => {
  const keys = unitKeys(fs.readFileSync(UNIT, "utf8"));
  assert.equal(one(keys, "Restart"), "on-failure");
  // 2 (configuration or usage) and 5 (access, missing resource) need a person; 1, 3 and 4
  // are restarted (4: the outage is waited out one OUTAGE_BUDGET after another).
  const prevented = one(keys, "RestartPreventExitStatus").split(/\s+/).sort();
  assert.deepEqual(prevented, ["2", "5"]);

  const restartSec = seconds(one(keys, "RestartSec"));
  const interval = seconds(one(keys, "StartLimitIntervalSec"));
  const burst = Number(one(keys, "StartLimitBurst"));
  assert.ok(restartSec >= 10, `RestartSec=${restartSec}s gives a failing dependency time to recover`);
  // Exit 4 comes one outage budget (default 15 minutes; documented as "keep it above 3m")
  // after each start: the starts an outage of any length makes within one interval.
  for (const budget of [15 * 60, 3 * 60]) {
    const startsPerInterval = Math.floor(interval / (budget + restartSec)) + 1;
    assert.ok(startsPerInterval < burst, `an outage with OUTAGE_BUDGET=${budget}s makes ${startsPerInterval} starts per ${interval}s, limit ${burst}`);
  }
  // The case: ~30 s of S3 trouble put the old unit (RestartSec=5, burst 5) into
  // "failed". Even a process that exits at once is now restarted for minutes.
  const crashLoopSeconds = (burst - 1) * restartSec;
  assert.ok(crashLoopSeconds >= 120, `an immediate crash loop reaches the start limit after ${crashLoopSeconds}s`);
  // SIGTERM: SHUTDOWN_TIMEOUT (30 s by default) to commit and release, before SIGKILL.
  assert.ok(seconds(one(keys, "TimeoutStopSec")) > 30, "TimeoutStopSec= leaves room for SHUTDOWN_TIMEOUT");
});

const actionlint = findTool("actionlint", [path.join(ROOT, ".tools/bin")]);

/** Every workflow file the project has: its own CI and release, and the one users copy. */
function workflowFiles(): string[] {
  const files: string[] = [];
  for (const dir of [".github/workflows", "deploy/github-actions"]) {
    const abs = path.join(ROOT, dir);
    if (!fs.existsSync(abs)) continue;
    for (const f of fs.readdirSync(abs).sort()) if (/\.ya?ml$/.test(f)) files.push(path.join(dir, f));
  }
  return files;
}

test(
  "actionlint finds nothing wrong with any workflow",
  { skip: actionlint ? false : "actionlint is not installed (`make test` builds it into .tools/bin when Go is there)" },
  () => {
    const files = workflowFiles();
    assert.ok(files.includes(".github/workflows/release.yml") && files.includes(".github/workflows/ci.yml") && files.includes("deploy/github-actions/subscriber.yml"), files.join(" "));
    // shellcheck, when on PATH, checks the `run:` scripts as well.
    const lint = run(actionlint!, ["-no-color", ...files]);
    assert.equal(lint.status, 0, `actionlint:\n${lint.output}`);
  },
);

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}
interface Workflow {
  on: { push?: { tags?: string[] } };
  env?: Record<string, string>;
  jobs: Record<string, { steps: Step[]; permissions?: Record<string, string> }>;
}

function workflow(file: string): Workflow {
  return parseYaml(fs.readFileSync(file, "utf8")) as Workflow;
}

function steps(wf: Workflow): Step[] {
  return Object.values(wf.jobs).flatMap((j) => j.steps);
}

test("the deploy workflow downloads what the release workflow publishes", () => {
  const release = workflow(RELEASE_WORKFLOW);
  const deploy = workflow(DEPLOY_WORKFLOW);

  assert.deepEqual(release.on.push?.tags, ["v*"], "releases are made from v* tags");
  const assets = (release.env?.ASSETS ?? "").split(/\s+/).filter(Boolean);
  assert.ok(assets.length > 0, "release.yml names its assets in env.ASSETS");

  // What `make release` builds: data-subscriber-<target> for each target of its loop.
  const makefile = fs.readFileSync(path.join(ROOT, "Makefile"), "utf8");
  const recipe = /^release:.*\n((?:\t.*\n)+)/m.exec(makefile)?.[1] ?? "";
  const targets = /for t in ([^;]+);/.exec(recipe)?.[1]?.trim().split(/\s+/) ?? [];
  assert.ok(/--outfile dist\/release\/data-subscriber-\$\$t/.test(recipe), "make release writes dist/release/data-subscriber-<target>");
  assert.ok(/sha256sum data-subscriber-\* > SHA256SUMS/.test(recipe), "make release writes SHA256SUMS");
  assert.deepEqual([...assets].sort(), targets.map((t) => `data-subscriber-${t}`).sort(), "release.yml publishes exactly what make release builds");

  const buildRuns = steps(release).map((s) => s.run ?? "").join("\n");
  assert.match(buildRuns, /^make release$/m);
  assert.match(buildRuns, /deploy\/release\/check-version\.sh "\$GITHUB_REF_NAME"/, "the tag is checked against the sources");
  const create = steps(release).find((s) => s.run?.includes("gh release create"));
  assert.ok(create, "release.yml publishes with gh release create");
  assert.match(create.run!, /"\$\{assets\[@\]\}" SHA256SUMS/, "the release gets every asset and SHA256SUMS");
  // `gh release download` without a tag takes the latest published release: no drafts.
  assert.doesNotMatch(create.run!, /--draft/);
  assert.match(create.run!, /--latest\b/);
  const publishJob = Object.values(release.jobs).find((j) => j.steps.includes(create));
  assert.equal(publishJob?.permissions?.contents, "write", "only the publishing job may write");

  const download = steps(deploy).find((s) => s.run?.includes("gh release download"));
  assert.ok(download?.env, "subscriber.yml downloads with gh release download");
  const asset = download.env.ASSET!;
  assert.ok(assets.includes(asset), `subscriber.yml downloads ${asset}, which release.yml publishes (${assets.join(", ")})`);
  assert.match(download.run!, /--pattern "\$ASSET" --pattern SHA256SUMS/);
  assert.match(download.run!, /sha256sum "\$ASSET"/, "the download is checked against SHA256SUMS");
  // The releases are in the repository the release workflow runs in, unless told otherwise.
  assert.match(download.env.RELEASE_REPO!, /github\.repository/);

  const readme = fs.readFileSync(path.join(ROOT, "deploy/README.md"), "utf8");
  for (const a of [...assets, "SHA256SUMS"]) assert.ok(readme.includes(a), `deploy/README.md names ${a}`);
});

test("the deploy workflow and deploy/README.md cover every exit code", () => {
  const deploy = workflow(DEPLOY_WORKFLOW);
  const runStep = steps(deploy).find((s) => s.run?.includes("data-subscriber run --once"));
  assert.ok(runStep, "subscriber.yml runs data-subscriber run --once");
  const readme = fs.readFileSync(path.join(ROOT, "deploy/README.md"), "utf8");
  for (const code of [0, 1, 2, 3, 4, 5]) {
    assert.match(runStep.run!, new RegExp(`^\\s*${code}\\) echo `, "m"), `the run step says what exit ${code} means`);
    assert.match(readme, new RegExp(`^\\| \`${code}\` \\|`, "m"), `deploy/README.md has a row for exit ${code}`);
  }
  for (const code of [3, 4]) assert.match(runStep.run!, new RegExp(`^\\s*${code}\\) echo "::error `, "m"), `exit ${code} is an error annotation`);
  const upload = steps(deploy).find((s) => s.uses?.startsWith("actions/upload-artifact@"));
  assert.ok(upload, "app.log is uploaded");
  for (const endpoint of ["/healthz", "/readyz", "/metrics"]) assert.ok(readme.includes(endpoint), `deploy/README.md documents ${endpoint}`);
});

const bash = process.platform === "win32" ? undefined : findTool("bash");
const node = findTool("node");
const gnuTimeout = findTool("timeout");

/**
 * The deploy workflow's run step as GitHub runs it (`bash --noprofile --norc -eo pipefail`),
 * with a stand-in `data-subscriber` on PATH that exits with FAKE_CODE, or (FAKE_MODE=wait)
 * prints "started" and waits for SIGINT or SIGTERM, then exits 0.
 */
function runStepHarness(): { dir: string; script: string; summary: string; env: Record<string, string> } {
  const step = steps(workflow(DEPLOY_WORKFLOW)).find((s) => s.run?.includes("data-subscriber run --once"));
  assert.ok(step?.run);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ds-run-step-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(
    path.join(dir, "bin/data-subscriber"),
    [
      "#!/usr/bin/env bash",
      'echo "data-subscriber $*"',
      '[ "${FAKE_MODE:-exit}" = wait ] || exit "${FAKE_CODE:-0}"',
      "trap 'echo \"got INT\"; exit 0' INT",
      "trap 'echo \"got TERM\"; exit 0' TERM",
      'echo "started"',
      "while :; do sleep 0.1; done",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(dir, "step.sh"), step.run);
  const summary = path.join(dir, "summary.md");
  const env = { PATH: `${path.join(dir, "bin")}${path.delimiter}${process.env.PATH ?? ""}`, GITHUB_STEP_SUMMARY: summary, OUTAGE_BUDGET: "10m" };
  return { dir, script: path.join(dir, "step.sh"), summary, env };
}

test(
  "the deploy workflow's run step fails with the subscriber's exit code and says what it means",
  { skip: bash && gnuTimeout ? false : "needs bash and timeout (coreutils)" },
  () => {
    const h = runStepHarness();
    try {
      const titles: Record<number, RegExp> = { 1: /\(failed\)/, 2: /\(configuration\)/, 3: /\(a shard stopped at a gap\)::.*checkpoints reset/, 4: /\(unavailable\)::.*OUTAGE_BUDGET \(10m\)/, 5: /\(access or missing resource\)/, 9: /::Ended by a signal or an unknown failure/ };
      for (const code of [0, 1, 2, 3, 4, 5, 9]) {
        const r = run(bash!, ["--noprofile", "--norc", "-eo", "pipefail", h.script], { env: { ...h.env, FAKE_CODE: String(code) } });
        assert.equal(r.status, code, r.output);
        assert.match(r.output, /^data-subscriber run --once$/m);
        if (code === 0) assert.doesNotMatch(r.output, /::error/);
        else assert.match(r.output, new RegExp(`^::error title=data-subscriber run --once exited ${code}.*${titles[code]!.source}`, "m"), r.output);
      }
      assert.match(fs.readFileSync(h.summary, "utf8"), /exit code: \*\*9\*\*/);
    } finally {
      fs.rmSync(h.dir, { recursive: true, force: true });
    }
  },
);

test(
  "the deploy workflow's run step passes GitHub's cancellation signals on to the subscriber",
  { skip: bash && gnuTimeout ? false : "needs bash and timeout (coreutils)" },
  async () => {
    const h = runStepHarness();
    try {
      for (const sig of ["SIGINT", "SIGTERM"] as const) {
        const child = spawn(bash!, ["--noprofile", "--norc", "-eo", "pipefail", h.script], { env: { ...process.env, ...h.env, FAKE_MODE: "wait" }, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        const started = new Promise<void>((resolve) =>
          child.stdout!.on("data", (d: Buffer) => {
            out += d.toString();
            if (out.includes("started")) resolve();
          }),
        );
        child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
        const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
        try {
          await started;
          // To the step's shell only, as the runner does. (process.kill, not child.kill:
          // after child.kill Deno reports the signal as the cause of exit, whatever the code.)
          process.kill(child.pid!, sig);
          const code = await exited;
          assert.equal(code, 0, out);
          assert.match(out, new RegExp(`got ${sig.slice(3)}`), out);
        } finally {
          clearTimeout(deadline);
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        }
      }
    } finally {
      fs.rmSync(h.dir, { recursive: true, force: true });
    }
  },
);

test(
  "check-version.sh accepts a tag of the sources' version and refuses any other",
  { skip: bash && node ? false : "needs bash and node" },
  () => {
    const script = path.join(ROOT, "deploy/release/check-version.sh");
    const version = /^export const VERSION = "([^"]+)";/m.exec(fs.readFileSync(path.join(ROOT, "src/version.ts"), "utf8"))?.[1];
    assert.ok(version, "src/version.ts has VERSION");

    const ok = run(bash!, [script, `v${version}`]);
    assert.equal(ok.status, 0, ok.output);
    assert.match(ok.output, new RegExp(`version ${version.replaceAll(".", "\\.")}: tag, src/version\\.ts, package\\.json agree`));

    const other = run(bash!, [script, `v${version}-other.1`]);
    assert.equal(other.status, 1, other.output);
    assert.match(other.output, /::error title=Release version mismatch::tag 'v.*-other\.1' says version .* but src\/version\.ts says/);
    assert.match(other.output, /but package\.json says/);

    const noV = run(bash!, [script, version]);
    assert.equal(noV.status, 1, noV.output);
    assert.match(noV.output, /is not v<MAJOR>\.<MINOR>\.<PATCH>/);

    const usage = run(bash!, [script]);
    assert.equal(usage.status, 2, usage.output);
  },
);
