/**
 * The world an end-to-end test runs in: kinesis-local, moto S3 and the delta-rs reader,
 * plus helpers to make a stream with orders on it and to read back the tables.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { putRecords } from "../../src/adapters/kinesis/kinesis_producer.ts";
import { generateOrders, generatePackages } from "../../src/produce/order_generator.ts";
import { type DeltaWorker, startDeltaWorker } from "./delta_worker.ts";
import { type KinesisLocal, startKinesisLocal } from "./kinesis_local.ts";
import { type Moto, startMoto } from "./servers.ts";

export interface World {
  kinesis: KinesisLocal;
  moto: Moto;
  delta: DeltaWorker;
  tmp: string;
  stop(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const [kinesis, moto, delta] = await Promise.all([startKinesisLocal(), startMoto(), startDeltaWorker()]);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ds-e2e-"));
  return {
    kinesis, moto, delta, tmp,
    async stop() {
      await Promise.allSettled([kinesis.stop(), moto.stop(), delta.close()]);
      await fs.rm(tmp, { recursive: true, force: true });
    },
  };
}

/** Environment for the CLI against this world: endpoints, dummy credentials, region. */
export function cliEnv(w: World, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_KINESIS: w.kinesis.endpoint,
    AWS_ENDPOINT_URL_S3: w.moto.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    LOG_FILE: "",
    LOG_LEVEL: "warning",
    ...extra,
  };
}

export function storageOptions(w: World): Record<string, string> {
  return { AWS_ENDPOINT_URL: w.moto.endpoint, AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_REGION: "us-east-1", AWS_ALLOW_HTTP: "true" };
}

/** Half the package groups get ample stock, the other half none (see expected_tables.ts). */
export function richAndPoorPackages(): { rows: Record<string, unknown>[]; rich: Set<string>; stock: Map<string, number> } {
  const rows = generatePackages((i) => (i % 2 === 0 ? 1_000_000 : 0));
  const rich = new Set<string>();
  const stock = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.package_id}/${r.subpackage_id}`;
    stock.set(key, r.stock_quantity as number);
    if ((r.stock_quantity as number) > 0) rich.add(key);
  }
  return { rows, rich, stock };
}

export function makeOrders(count: number, seed: number): Record<string, unknown>[] {
  return generateOrders(count, seed, Date.UTC(2025, 2, 1, 8, 0, 0));
}

/** Puts records with the product's producer (PutRecords of 500, failed entries retried). */
export async function putAll(w: World, stream: string, records: { data: Uint8Array; key: string }[]): Promise<void> {
  await putRecords(w.kinesis.client, stream, records.map((r) => ({ data: r.data, partitionKey: r.key })));
}

export const enc = new TextEncoder();
