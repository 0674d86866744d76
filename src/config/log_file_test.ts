import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { checkLogFile } from "./log_file.ts";
import { ConfigError } from "./settings.ts";

let tmp: string;
before(async () => (tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ds-log-file-"))));
after(() => fs.rm(tmp, { recursive: true, force: true }));

test("a log file in a missing folder is a configuration error naming the setting, where it came from and the folder", async () => {
  const file = path.join(tmp, "missing", "app.log");
  await assert.rejects(checkLogFile(file, "LOG_FILE"), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^Cannot start: 'log-file' \(from LOG_FILE\) must be a file this user can append to: '.*app\.log' cannot be opened \(the folder '.*missing' does not exist\)/);
    assert.match(err.message, /or to '' for no log file/);
    return true;
  });
});

test("a folder given as the log file is refused; a file that can be appended to is accepted and kept", async () => {
  await assert.rejects(checkLogFile(tmp, "--log-file"), /'log-file' \(from --log-file\) .*cannot be opened \(it is a folder\)/);
  const file = path.join(tmp, "app.log");
  await fs.writeFile(file, "earlier line\n");
  await checkLogFile(file, "the default");
  assert.equal(await fs.readFile(file, "utf8"), "earlier line\n");
  await checkLogFile("", "LOG_FILE");
});
