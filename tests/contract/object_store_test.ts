import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe } from "node:test";
import { LocalStore } from "../../src/adapters/local/local_store.ts";
import { MemoryStore } from "../../src/adapters/memory/memory_store.ts";
import { openStore } from "../../src/adapters/open_store.ts";
import { startMoto, type Moto } from "../helpers/servers.ts";
import { runObjectStoreContract } from "./object_store_contract.ts";

describe("memory store", () => {
  runObjectStoreContract("memory", () => Promise.resolve(new MemoryStore()));
});

describe("local store", () => {
  let root: string;
  before(async () => (root = await fs.mkdtemp(path.join(os.tmpdir(), "ds-local-"))));
  after(() => fs.rm(root, { recursive: true, force: true }));
  let n = 0;
  runObjectStoreContract("local (plain path)", () => Promise.resolve(new LocalStore(path.join(root, `plain-${++n}`))));
  runObjectStoreContract("local (file:// URI)", () => Promise.resolve(openStore(`file://${path.join(root, `uri-${++n}`)}`)));
});

describe("s3 store on moto", () => {
  let moto: Moto;
  before(async () => (moto = await startMoto()));
  after(() => moto.stop());
  let n = 0;
  runObjectStoreContract("s3 (s3:// with prefix)", async () => openStore(`s3://${await moto.bucket()}/some/prefix-${++n}`, moto.s3));
  runObjectStoreContract("s3 (s3a:// at bucket root)", async () => openStore(`s3a://${await moto.bucket()}`, moto.s3));
});
