import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import type { LogRecord } from "@logtape/logtape";
import { closeLogging, jsonLine, logger, loggingActive, PROGRESS, setupLogging } from "./logging.ts";

const record = (message: unknown[], properties: Record<string, unknown> = {}): LogRecord =>
  ({ category: ["data-subscriber", "subscriber"], level: "info", message, rawMessage: "", timestamp: Date.UTC(2026, 0, 2, 3, 4, 5), properties }) as LogRecord;

test("a JSON line renders the message's values bare, as the same sentence as in text mode, with the values in properties", () => {
  const line = jsonLine(record(["Took the lease of shard ", "shardId-000000000001", " at batch ", 0, "", "", "."], { shardId: "shardId-000000000001", batch: 0, big: 2n ** 70n }));
  assert.ok(line.endsWith("}\n") && !line.slice(0, -1).includes("\n"), "one line");
  assert.deepEqual(JSON.parse(line), {
    "@timestamp": "2026-01-02T03:04:05.000Z",
    level: "INFO",
    message: "Took the lease of shard shardId-000000000001 at batch 0.",
    logger: "data-subscriber.subscriber",
    properties: { shardId: "shardId-000000000001", batch: 0, big: "1180591620717411303424" },
  });
});

test("the log file holds each line as soon as it is logged, and closing it ends logging without errors", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ds-logging-"));
  const file = path.join(dir, "app.log");
  try {
    await setupLogging({ level: "info", format: "text", file });
    assert.equal(loggingActive(), true);
    logger("test").info("First line of {what}.", { what: "the test" });
    assert.match(fs.readFileSync(file, "utf8"), /\[INF\] data-subscriber\.test: First line of the test\.\n$/, "written before any flush or close");
    logger("test").debug("Not at this level.");
    closeLogging();
    closeLogging();
    assert.equal(loggingActive(), false);
    logger("test").info("After closing: goes nowhere.");
    assert.equal(fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length, 1);
  } finally {
    closeLogging();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("progress lines reach the console and the file whatever the log level; other INFO lines follow the level", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ds-logging-"));
  const file = path.join(dir, "app.log");
  try {
    await setupLogging({ level: "warning", format: "text", file });
    logger("run").info("Hidden at warning.");
    logger(PROGRESS).info("Done in {seconds} s.", { seconds: 1.5 });
    logger(PROGRESS).debug("Hidden: progress is INFO.");
    closeLogging();
    const lines = fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0]!, /\[INF\] data-subscriber\.progress: Done in 1\.5 s\.$/);
  } finally {
    closeLogging();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
