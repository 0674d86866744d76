import assert from "node:assert/strict";
import { test } from "node:test";
import { TableError } from "./errors.ts";
import {
  APPEND_ONLY,
  CHECKPOINT_INTERVAL,
  checkTableProperties,
  DATA_SKIPPING_NUM_INDEXED_COLS,
  DELETED_FILE_RETENTION_DURATION,
  ENABLE_EXPIRED_LOG_CLEANUP,
  LOG_RETENTION_DURATION,
  parseInterval,
  tableProperty,
} from "./table_properties.ts";

const DAY = 86_400_000;

test("an unset property has Delta's default", () => {
  assert.equal(tableProperty(undefined, CHECKPOINT_INTERVAL), 10);
  assert.equal(tableProperty({}, LOG_RETENTION_DURATION), 30 * DAY);
  assert.equal(tableProperty({}, DELETED_FILE_RETENTION_DURATION), 7 * DAY);
  assert.equal(tableProperty({}, DATA_SKIPPING_NUM_INDEXED_COLS), 32);
  assert.equal(tableProperty({}, ENABLE_EXPIRED_LOG_CLEANUP), true);
  assert.equal(tableProperty({}, APPEND_ONLY), false);
});

test("a set property is read as its type", () => {
  const config = {
    "delta.checkpointInterval": "100",
    "delta.logRetentionDuration": "interval 2 days",
    "delta.dataSkippingNumIndexedCols": "-1",
    "delta.enableExpiredLogCleanup": "FALSE",
    "delta.appendOnly": "true",
  };
  assert.equal(tableProperty(config, CHECKPOINT_INTERVAL), 100);
  assert.equal(tableProperty(config, LOG_RETENTION_DURATION), 2 * DAY);
  assert.equal(tableProperty(config, DATA_SKIPPING_NUM_INDEXED_COLS), Infinity);
  assert.equal(tableProperty(config, ENABLE_EXPIRED_LOG_CLEANUP), false);
  assert.equal(tableProperty(config, APPEND_ONLY), true);
});

test("intervals are read as Spark writes them: several units, singular or plural, any case", () => {
  assert.equal(parseInterval("interval 30 days"), 30 * DAY);
  assert.equal(parseInterval("interval 1 week"), 7 * DAY);
  assert.equal(parseInterval("1 week 12 hours"), 7.5 * DAY);
  assert.equal(parseInterval("INTERVAL 1 Day -1 hour"), 23 * 3_600_000);
  assert.equal(parseInterval("interval 1.5 seconds 250 milliseconds 1000 microseconds"), 1751);
});

test("an interval that is not a fixed duration is refused, saying what was expected", () => {
  for (const text of ["interval 1 month", "2 years", "interval", "30", "interval 1.5 days", "interval 3 fortnights", "interval -1 day", "1 day and 2 hours"]) {
    assert.throws(() => parseInterval(text), (err: unknown) => err instanceof RangeError && err.message.includes(`got '${text}'`), text);
  }
});

test("a property set to a value that is not valid is a TableError naming it", () => {
  assert.throws(() => tableProperty({ "delta.checkpointInterval": "0" }, CHECKPOINT_INTERVAL), (err: unknown) => {
    return err instanceof TableError && /'delta\.checkpointInterval'.*positive integer.*got '0'/.test(err.message) && err.cause instanceof RangeError;
  });
  assert.throws(() => checkTableProperties({ "delta.appendOnly": "yes" }), /'delta\.appendOnly'.*got 'yes'/);
  checkTableProperties({ "delta.appendOnly": "false", "spark.other": "anything" });
});
