import assert from "node:assert/strict";
import { test } from "node:test";
import { iniGet, parseIni } from "./ini.ts";

test("'KEY: value' is read as configparser reads it, beside 'KEY = value'; the first delimiter ends the key", () => {
  const ini = parseIni(["[default]", "REGION: eu-south-2", "STREAM_NAME = orders", "[paths]", "BUCKET_NAME: s3a://lake", "URL = http://x:1/a", "; a comment", "# another"].join("\n"));
  assert.equal(iniGet(ini, "default", "region"), "eu-south-2");
  assert.equal(iniGet(ini, "DEFAULT", "STREAM_NAME"), "orders");
  assert.equal(iniGet(ini, "paths", "BUCKET_NAME"), "s3a://lake", "the value keeps its own colons");
  assert.equal(iniGet(ini, "paths", "URL"), "http://x:1/a");
});

test("a line that is neither a section nor a key and value names the file, the line and both forms", () => {
  assert.throws(() => parseIni("[default]\nREGION eu-south-2\n", "config.ini"), /config\.ini:2: expected 'KEY = value', 'KEY: value' or '\[section\]', got 'REGION eu-south-2'/);
  assert.throws(() => parseIni(": value\n", "c"), /c:1: expected/);
});
