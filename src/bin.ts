/**
 * Entry point of the compiled binary (`bun build --compile src/bin.ts`): embeds the files
 * the program reads at run time (the Parquet WebAssembly module, the local Kinesis of the
 * demo) and tells the code where they are before loading it.
 */
// @ts-ignore: a file import, resolved by Bun's bundler to a path inside the binary
import parquetWasm from "parquet-wasm/esm/parquet_wasm_bg.wasm" with { type: "file" };
// @ts-ignore: as above
import kinesisLocalMain from "kinesis-local/main.js" with { type: "file" };
// @ts-ignore: as above
import kinesisLocalServerJson from "kinesis-local/server.json" with { type: "file" };

(globalThis as { __DS_EMBEDDED?: unknown }).__DS_EMBEDDED = { parquetWasm, kinesisLocalMain, kinesisLocalServerJson };

const { main } = await import("./main.ts");
process.exit(await main(process.argv.slice(2), process.env));
