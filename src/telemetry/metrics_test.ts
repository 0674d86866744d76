import assert from "node:assert/strict";
import { test } from "node:test";
import { Metrics } from "./metrics.ts";

test("a counter's name must end in _total, and a metric must be declared before use", () => {
  const m = new Metrics();
  assert.throws(() => m.counter("data_subscriber_records", "Records."), /ends in _total: got 'data_subscriber_records'/);
  assert.throws(() => m.inc("data_subscriber_nothing_total"), /not declared/);
  m.counter("x_total", "X.", ["table"]);
  assert.throws(() => m.inc("x_total", { kind: "a" }), /has labels \[table\]: got \[kind\]/);
  assert.throws(() => m.gauge("x_total", "X."), /already declared as a counter/);
});

test("every declared family is rendered with HELP and TYPE before any event, label sets made at 0 with init", () => {
  const m = new Metrics();
  m.counter("a_total", "Things that happened.");
  m.counter("b_total", "Rows per table.", ["table"]);
  m.init("b_total", { table: "orders" });
  m.gauge("c_seconds", "Lag per shard.", ["shard"]);
  m.histogram("d_seconds", "Latency.", [], [0.5, 1]);
  assert.equal(
    m.render(),
    [
      "# HELP a_total Things that happened.", "# TYPE a_total counter", "a_total 0",
      "# HELP b_total Rows per table.", "# TYPE b_total counter", 'b_total{table="orders"} 0',
      "# HELP c_seconds Lag per shard.", "# TYPE c_seconds gauge",
      "# HELP d_seconds Latency.", "# TYPE d_seconds histogram",
      'd_seconds_bucket{le="0.5"} 0', 'd_seconds_bucket{le="1"} 0', 'd_seconds_bucket{le="+Inf"} 0', "d_seconds_sum 0", "d_seconds_count 0",
      "",
    ].join("\n"),
  );
});

test("counters only go up; histograms count into every bucket at or above the value; series can be removed", () => {
  const m = new Metrics();
  m.counter("a_total", "A.");
  m.histogram("h_seconds", "H.", [], [0.1, 1]);
  m.gauge("g", "G.", ["shard"]);
  assert.throws(() => m.inc("a_total", {}, -1), /only goes up/);
  m.inc("a_total", {}, 2);
  m.observe("h_seconds", {}, 0.5);
  m.set("g", { shard: "s1" }, 3);
  m.remove("g", { shard: "s1" });
  const text = m.render();
  assert.match(text, /^a_total 2$/m);
  assert.match(text, /^h_seconds_bucket\{le="0.1"\} 0$/m);
  assert.match(text, /^h_seconds_bucket\{le="1"\} 1$/m);
  assert.match(text, /^h_seconds_count 1$/m);
  assert.doesNotMatch(text, /^g\{/m);
});

test("label values and help texts are escaped; collectors run at each render", () => {
  const m = new Metrics();
  m.gauge("g", "Back\\slash and\nnewline.", ["v"]);
  let reads = 0;
  m.collect(() => m.set("g", { v: 'a"b\\c\nd' }, ++reads));
  const text = m.render();
  assert.match(text, /^# HELP g Back\\\\slash and\\nnewline\.$/m);
  assert.ok(text.includes('g{v="a\\"b\\\\c\\nd"} 1'), text);
  assert.match(m.render(), /\} 2$/m);
});
