import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { BUILD_DATE, COMMIT, VERSION } from "./version.ts";

test("the version is the one package.json gives", () => {
  const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test("run from sources, the commit and build date say so", () => {
  assert.equal(COMMIT, "unknown");
  assert.equal(BUILD_DATE, "dev");
});
