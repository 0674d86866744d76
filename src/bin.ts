/**
 * Entry point of the compiled binary (`bun build --compile src/bin.ts`): embeds the files
 * the program reads at run time, hands the Parquet WebAssembly module to the Parquet
 * codec, tells the demo where the local Kinesis and the clickstream example's tables file
 * are, then runs `main`.
 */
import * as fs from "node:fs";
// @ts-ignore: a file import, resolved by Bun's bundler to a path inside the binary
import parquetWasm from "parquet-wasm/esm/parquet_wasm_bg.wasm" with { type: "file" };
// @ts-ignore: as above
import kinesisLocalMain from "kinesis-local/main.js" with { type: "file" };
// @ts-ignore: as above
import kinesisLocalServerJson from "kinesis-local/server.json" with { type: "file" };
// @ts-ignore: as above
import clickstreamToml from "../deploy/examples/clickstream.toml" with { type: "file" };
import { initParquet } from "./core/parquet/parquet.ts";
import { main } from "./main.ts";

initParquet(fs.readFileSync(parquetWasm as string));
// src/adapters/kinesis/local_kinesis.ts looks for these when it starts the demo's Kinesis.
// src/app/demo.ts reads the clickstream example's tables file from there.
(globalThis as { __DS_EMBEDDED?: unknown }).__DS_EMBEDDED = { kinesisLocalMain, kinesisLocalServerJson, clickstreamToml };

process.exit(await main(process.argv.slice(2), process.env));
