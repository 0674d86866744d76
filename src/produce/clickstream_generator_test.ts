import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { declaredDomain } from "../domains/declared/declared_domain.ts";
import { loadTablesFile } from "../domains/declared/tables_file.ts";
import { brokenClickstream, generateClickstream } from "./clickstream_generator.ts";

const enc = new TextEncoder();
const record = (text: string, i: number) => ({ data: enc.encode(text), partitionKey: "k", sequenceNumber: String(i), subSequenceNumber: 0, aggregated: false });

test("the same seed makes the same clickstream", () => {
  assert.deepEqual(generateClickstream(50, 3), generateClickstream(50, 3));
  assert.notDeepEqual(generateClickstream(50, 3), generateClickstream(50, 4));
});

test("every generated event fits the example's tables, and every broken one is refused", async () => {
  const domain = declaredDomain(await loadTablesFile(fileURLToPath(new URL("../../deploy/examples/clickstream.toml", import.meta.url))));
  const events = generateClickstream(2000);
  let items = 0;
  const days = new Set<string>();
  events.forEach((e, i) => {
    const d = domain.decode(record(JSON.stringify(e), i));
    assert.ok(d.ok, `event ${i}: ${d.ok ? "" : d.reason}`);
    days.add(String(d.value[0]![0]!.view_date));
    items += d.value[1]!.length;
  });
  assert.equal(items, events.reduce((n, e) => n + ((e.cart as unknown[] | undefined)?.length ?? 0), 0));
  assert.deepEqual([...days].sort(), ["2025-03-01", "2025-03-02"], "2,000 events from 23:30 cross midnight");
  for (const [i, b] of brokenClickstream().entries()) assert.equal(domain.decode(record(b, i)).ok, false, b);
});
