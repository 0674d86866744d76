/**
 * Help and shell completion as users meet them (the compiled binary when DS_BIN names one,
 * else src/main.ts): each command's help lists its own options only, groups of subcommands
 * have their help, `help <command> [subcommand]` works, and `completion bash|zsh|fish`
 * prints scripts that the shells accept and that complete commands, subcommands and flags.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.ts";

/** The `--name` options a help text lists. */
function options(help: string): string[] {
  return [...help.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]!);
}

describe("per-command help", () => {
  test("produce --help lists only what produce uses: its own flags, the stream, AWS access and console logging", async () => {
    const res = await runCli(["produce", "--help"], {});
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(options(res.stdout).sort(), [
      "bad", "config", "count", "endpoint-url", "example", "help", "kinesis-endpoint-url", "log-format", "log-level", "profile", "rate", "region", "s3-endpoint-url", "seed", "stream",
    ]);
  });

  test("status --help lists --json, the stream, where tables and checkpoints are and how to reach them, not the run's knobs", async () => {
    const res = await runCli(["status", "--help"], {});
    assert.equal(res.code, 0, res.stderr);
    const listed = options(res.stdout);
    for (const f of ["json", "stream", "tables-root", "checkpoints-root", "tables", "orders-folder", "package-table", "app-name", "region", "profile", "endpoint-url", "s3-endpoint-url", "kinesis-endpoint-url"]) {
      assert.ok(listed.includes(f), `--${f} in status --help:\n${res.stdout}`);
    }
    for (const f of ["once", "max-batch-records", "max-batch-age", "metrics-port", "shutdown-timeout", "compression", "worker-id", "log-file", "outage-budget"]) {
      assert.ok(!listed.includes(f), `--${f} is not a status option`);
    }
    assert.ok(listed.length < 30, `status lists ${listed.length} options`);
  });

  test("tables init-packages --help lists --from, --demo, --stock, --replace and where package_table is; run keeps every key", async () => {
    const res = await runCli(["tables", "init-packages", "--help"], {});
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(options(res.stdout).sort(), [
      "config", "demo", "endpoint-url", "from", "gold-folder", "help", "log-format", "log-level", "orders-folder", "package-table", "profile", "region", "replace", "s3-endpoint-url", "stock", "tables-root",
    ]);
    const run = options((await runCli(["run", "--help"], {})).stdout);
    for (const f of ["once", "max-batch-age", "metrics-port", "log-file", "tables-root", "outage-budget"]) assert.ok(run.includes(f), `run --help lists --${f}`);
  });

  test("a flag of another command is refused by name, with exit 2", async () => {
    const res = await runCli(["produce", "--max-batch-age", "1s"], {});
    assert.equal(res.code, 2);
    assert.match(res.stderr, /Unknown flag '--max-batch-age' for 'produce' \(see 'produce --help'\)/);
  });

  test("tables --help and checkpoints --help list their subcommands; a group alone or an unknown subcommand is a usage error", async () => {
    const tables = await runCli(["tables", "--help"], {});
    assert.equal(tables.code, 0, tables.stderr);
    assert.match(tables.stdout, /^tables: /);
    assert.match(tables.stdout, /Subcommands:\n {2}init-packages +create package_table/);
    assert.match(tables.stdout, /\n {2}describe +per table: version, protocol/);
    assert.match(tables.stdout, /\n {2}history +a table's commits, newest first/);
    assert.match(tables.stdout, /\n {2}vacuum +delete files no version within the retention references/);
    for (const [sub, flags] of [["describe", ["--json", "--target-size <value>", "--tables-root <value>", "--tables <value>"]], ["history", ["--limit <value>", "--json"]], ["optimize", ["--where <value>", "--target-size <value>", "--min-files <value>", "--json"]], ["vacuum", ["--retain <value>", "--dry-run", "--force", "--json", "--s3-endpoint-url <value>"]]] as const) {
      const help = await runCli(["tables", sub, "--help"], {});
      assert.equal(help.code, 0, help.stderr);
      for (const f of flags) assert.ok(help.stdout.includes(`--${f.slice(2)}`), `tables ${sub} --help lists ${f}:\n${help.stdout}`);
      for (const other of ["--once", "--stream", "--max-batch-age", "--kinesis-endpoint-url"]) assert.ok(!help.stdout.includes(other), `tables ${sub} --help does not list ${other}`);
    }
    const checkpoints = await runCli(["checkpoints", "-h"], {});
    assert.equal(checkpoints.code, 0, checkpoints.stderr);
    assert.match(checkpoints.stdout, /Subcommands:\n {2}reset +resume stopped shards/);
    const alone = await runCli(["tables"], {});
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /'tables' needs a subcommand: 'tables init-packages'/);
    const typo = await runCli(["tables", "init-pakages"], {});
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /Unknown subcommand 'init-pakages' of 'tables': did you mean 'tables init-packages'\?/);
    const group = await runCli(["tabels"], {});
    assert.match(group.stderr, /Unknown command 'tabels': did you mean 'tables'\?/);
  });

  test("help <command> works for one- and two-word commands and for groups", async () => {
    for (const [asked, direct] of [[["help", "tables", "init-packages"], ["tables", "init-packages", "--help"]], [["help", "checkpoints", "reset"], ["checkpoints", "reset", "--help"]], [["help", "status"], ["status", "--help"]], [["help", "tables"], ["tables", "--help"]]]) {
      const a = await runCli(asked!, {});
      const b = await runCli(direct!, {});
      assert.equal(a.code, 0, a.stderr);
      assert.equal(a.stdout, b.stdout, `${asked!.join(" ")} = ${direct!.join(" ")}`);
    }
    const unknown = await runCli(["help", "tables", "drop"], {});
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown subcommand 'drop' of 'tables'/);
  });
});

describe("shell completion", () => {
  let tmp: string;
  before(async () => (tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ds-completion-"))));
  after(() => fs.rm(tmp, { recursive: true, force: true }));

  async function script(shell: string): Promise<string> {
    const res = await runCli(["completion", shell], {});
    assert.equal(res.code, 0, res.stderr);
    const file = path.join(tmp, `completion.${shell}`);
    await fs.writeFile(file, res.stdout);
    return file;
  }

  const has = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0;

  test("completion --help shows how to install each script; a missing or unknown shell is a usage error", async () => {
    const help = await runCli(["completion", "--help"], {});
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /bash +echo 'source <\(data-subscriber completion bash\)' >> ~\/\.bashrc/);
    assert.match(help.stdout, /zsh +data-subscriber completion zsh > "\$\{fpath\[1\]\}\/_data-subscriber"/);
    assert.match(help.stdout, /fish +data-subscriber completion fish > ~\/\.config\/fish\/completions\/data-subscriber\.fish/);
    for (const args of [["completion"], ["completion", "powershell"]]) {
      const res = await runCli(args, {});
      assert.equal(res.code, 2);
      assert.match(res.stderr, /'completion' needs one shell, 'bash', 'zsh', 'fish'/);
    }
  });

  test("the bash script is valid and completes commands, subcommands, each command's flags and their values", async () => {
    const file = await script("bash");
    assert.equal(spawnSync("bash", ["-n", file]).status, 0, "bash -n");
    const complete = (words: string[], cword = words.length - 1) => {
      const quoted = words.map((w) => `'${w}'`).join(" ");
      const res = spawnSync("bash", ["-c", `source '${file}'; COMP_WORDS=(${quoted}); COMP_CWORD=${cword}; _data_subscriber; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" });
      assert.equal(res.status, 0, res.stderr);
      return res.stdout.trim().split(/\s+/).filter(Boolean);
    };
    assert.deepEqual(complete(["data-subscriber", "ru"]), ["run"]);
    assert.deepEqual(complete(["data-subscriber", ""]), ["run", "demo", "produce", "status", "tables", "checkpoints", "completion", "version", "help"]);
    assert.deepEqual(complete(["data-subscriber", "tables", ""]), ["init-packages", "describe", "history", "optimize", "vacuum"]);
    assert.deepEqual(complete(["data-subscriber", "tables", "vacuum", "--d"]), ["--dry-run"]);
    assert.deepEqual(complete(["data-subscriber", "tables", "history", "--l"]), ["--limit", "--log-level", "--log-format"]);
    assert.deepEqual(complete(["data-subscriber", "checkpoints", "r"]), ["reset"]);
    assert.deepEqual(complete(["data-subscriber", "run", "--on"]), ["--once"]);
    assert.deepEqual(complete(["data-subscriber", "status", "--j"]), ["--json"]);
    assert.deepEqual(complete(["data-subscriber", "tables", "init-packages", "--d"]), ["--demo"]);
    assert.deepEqual(complete(["data-subscriber", "produce", "--max-batch"]), [], "produce has no batch flags");
    assert.deepEqual(complete(["data-subscriber", "run", "--log-level", ""]), ["debug", "info", "warning", "error"]);
    assert.deepEqual(complete(["data-subscriber", "run", "--stream", "orders", "--log-f"]), ["--log-format", "--log-file"], "a flag's value is skipped");
    assert.deepEqual(complete(["data-subscriber", "completion", ""]), ["bash", "zsh", "fish"]);
    assert.deepEqual(complete(["data-subscriber", "help", "checkpoints", ""]), ["reset"]);
  });

  test("the zsh script is valid zsh (when zsh is installed) and describes commands, subcommands and flags", async () => {
    const file = await script("zsh");
    const text = await fs.readFile(file, "utf8");
    if (has("zsh")) assert.equal(spawnSync("zsh", ["-n", file]).status, 0, "zsh -n");
    assert.match(text, /^#compdef data-subscriber\n/);
    assert.match(text, /'run:read the stream/);
    assert.match(text, /'init-packages:create package_table/);
    assert.match(text, /'tables init-packages'\)\n\s+_arguments -S \\\n(\s+'--[^\n]+\n)*\s+'--demo\[/);
    assert.match(text, /'--log-level=\[[^\]]*\]:log-level:\(debug info warning error\)'/);
    assert.match(text, /'--config=\[[^\]]*\]:config:_files'/);
    assert.match(text, /compdef _data_subscriber data-subscriber/);
  });

  test("the fish script is valid fish (when fish is installed) and completes commands, subcommands and flags", async () => {
    const file = await script("fish");
    const text = await fs.readFile(file, "utf8");
    assert.match(text, /complete -c data-subscriber -n __fish_use_subcommand -a run -d 'read the stream/);
    assert.match(text, /-n '__fish_seen_subcommand_from tables; and __fish_seen_subcommand_from init-packages' -l demo /);
    if (!has("fish")) return;
    assert.equal(spawnSync("fish", ["-n", file]).status, 0, "fish -n");
    const complete = (line: string) =>
      spawnSync("fish", ["-c", `source '${file}'; complete -C '${line}'`], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
    assert.deepEqual(complete("data-subscriber ru"), ["run"]);
    assert.deepEqual(complete("data-subscriber tables "), ["init-packages"]);
    assert.deepEqual(complete("data-subscriber status --j"), ["--json"]);
    assert.deepEqual(complete("data-subscriber completion ").sort(), ["bash", "fish", "zsh"]);
  });
});
