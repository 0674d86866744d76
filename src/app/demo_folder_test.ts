import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { ConfigError } from "../config/settings.ts";
import { checkDemoFolder, DEMO_MARKER, recordDemoFolder } from "./demo_folder.ts";

let tmp: string;
before(async () => (tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ds-demo-folder-"))));
after(() => fs.rm(tmp, { recursive: true, force: true }));

/** A folder as a finished demo leaves it: one table with one commit, and the record. */
async function demoFolder(name: string): Promise<string> {
  const root = path.join(tmp, name);
  await fs.mkdir(path.join(root, "orders/delta/bronze/orders/_delta_log"), { recursive: true });
  await fs.writeFile(path.join(root, "orders/delta/bronze/orders/_delta_log/00000000000000000000.json"), "{}\n");
  await fs.writeFile(path.join(root, "orders/delta/bronze/orders/part-0.parquet"), "PAR1");
  await fs.writeFile(path.join(root, DEMO_MARKER), "");
  recordDemoFolder(root);
  return root;
}

test("the demo may empty an absent or empty folder, and one it made that nobody wrote to since", async () => {
  await checkDemoFolder(path.join(tmp, "absent"));
  await fs.mkdir(path.join(tmp, "empty"));
  await checkDemoFolder(path.join(tmp, "empty"));
  await checkDemoFolder(await demoFolder("untouched"));
});

test("a commit added to a demo table since the demo made it stops the demo, naming the table", async () => {
  const root = await demoFolder("run-wrote");
  await fs.writeFile(path.join(root, "orders/delta/bronze/orders/_delta_log/00000000000000000001.json"), "{}\n");
  await assert.rejects(checkDemoFolder(root), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /something other than the demo has written there since the demo made it, and the demo never deletes tables it did not make: new commits in 'orders\/delta\/bronze\/orders'/);
    assert.match(err.message, /00000000000000000001\.json \(new\)/);
    assert.match(err.message, /give the demo another folder with --tables-root/);
    return true;
  });
});

test("a new table, or a file the demo made that changed since, stops the demo", async () => {
  const added = await demoFolder("new-table");
  await fs.mkdir(path.join(added, "clicks/_delta_log"), { recursive: true });
  await fs.writeFile(path.join(added, "clicks/_delta_log/00000000000000000000.json"), "{}\n");
  await assert.rejects(checkDemoFolder(added), /new commits in 'clicks'/);
  const changed = await demoFolder("changed");
  await fs.writeFile(path.join(changed, "orders/delta/bronze/orders/part-0.parquet"), "PAR1 and more");
  await assert.rejects(checkDemoFolder(changed), /part-0\.parquet \(changed\)/);
});

test("a folder without the marker, or whose demo never finished, is refused with what to do", async () => {
  const foreign = path.join(tmp, "foreign");
  await fs.mkdir(foreign);
  await fs.writeFile(path.join(foreign, "data.csv"), "a,b\n");
  await assert.rejects(checkDemoFolder(foreign), /holds files the demo did not make/);
  const unfinished = path.join(tmp, "unfinished");
  await fs.mkdir(unfinished);
  await fs.writeFile(path.join(unfinished, DEMO_MARKER), JSON.stringify({ madeBy: "data-subscriber demo", finished: false, files: {} }));
  await assert.rejects(checkDemoFolder(unfinished), /the demo that made this folder did not finish .* no record of what it made/);
  const old = path.join(tmp, "old-marker");
  await fs.mkdir(old);
  await fs.writeFile(path.join(old, DEMO_MARKER), "Made by `data-subscriber demo`, which empties this folder on its next run.\n");
  await assert.rejects(checkDemoFolder(old), /rm -rf/);
});
