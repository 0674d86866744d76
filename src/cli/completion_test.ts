import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { type CompletionSpec, completionScript, SHELLS } from "./completion.ts";

const SPEC: CompletionSpec = {
  program: "my-tool",
  commands: [
    { name: "go", summary: "go: somewhere [fast] isn't it", flags: [{ name: "mode", doc: "one of 'a' or \"b\": $HOME `x` \\ done", choices: ["a", "b"] }, { name: "quiet", boolean: true, doc: "say nothing" }] },
    { name: "db migrate", summary: "migrate the database", flags: [{ name: "file", doc: "a file", file: true }] },
    { name: "help", summary: "help", flags: [], args: "commands" },
  ],
  groups: { db: "the database" },
};

const has = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0;

test("descriptions with quotes, colons, brackets, dollars and backslashes keep every script valid", () => {
  for (const shell of SHELLS) {
    const text = completionScript(shell, SPEC);
    if (!has(shell)) continue;
    const res = spawnSync(shell, ["-n"], { input: text, encoding: "utf8" });
    assert.equal(res.status, 0, `${shell} -n: ${res.stderr}\n${text}`);
  }
});

test("the bash script completes groups, subcommands, choices, and commands after help", () => {
  const text = completionScript("bash", SPEC);
  const complete = (words: string) => {
    const res = spawnSync("bash", ["-c", `${text}\nCOMP_WORDS=(${words}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _my_tool; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" });
    assert.equal(res.status, 0, res.stderr);
    return res.stdout.trim();
  };
  assert.equal(complete(`my-tool ''`), "go db help");
  assert.equal(complete(`my-tool db ''`), "migrate");
  assert.equal(complete(`my-tool go --mode ''`), "a b");
  assert.equal(complete(`my-tool go --quiet --m`), "--mode");
  assert.equal(complete(`my-tool help d`), "db");
});
