/**
 * The common mistakes of issue 10, as users make them through the binary (DS_BIN) or
 * src/main.ts, with no server needed: malformed storage URIs, `tables init-packages` without
 * `--from`, missing credentials (exit 5, saying what was tried and what to set), a log file
 * that cannot be opened; and what must not be a mistake: levels and positions in any case,
 * the INI file's `KEY: value` form.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../helpers/cli.ts";

let tmp: string;
before(async () => (tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ds-mistakes-"))));
after(() => fs.rm(tmp, { recursive: true, force: true }));

/** An environment in which the AWS SDK's credential chain finds nothing, quickly. */
function noCredentials(home: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    HOME: home,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_ROLE_ARN: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_SHARED_CREDENTIALS_FILE: undefined,
    AWS_CONFIG_FILE: undefined,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_REGION: "us-east-1",
    // Nothing listens there: the chain fails before any request is sent.
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    ENVIRONMENT: undefined,
    LOG_FILE: "",
    ...extra,
  };
}

describe("malformed storage URIs are refused at start (exit 2), naming the key", () => {
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ["--tables-root s3:/bucket", ["--tables-root", "s3:/bucket"], {}, /'tables-root' \(from --tables-root\) must be an S3 URI with two slashes after the scheme, like 's3:\/\/bucket': got 's3:\/bucket'/],
    ["TABLES_ROOT=s3:bucket", [], { TABLES_ROOT: "s3:bucket" }, /'tables-root' \(from TABLES_ROOT\) must be an S3 URI with two slashes.*like 's3:\/\/bucket'/],
    ["BUCKET_NAME=s3a:/lake", [], { BUCKET_NAME: "s3a:/lake" }, /'tables-root' \(from BUCKET_NAME\) .*like 's3a:\/\/lake'/],
    ["TABLES_ROOT=s3://", [], { TABLES_ROOT: "s3://" }, /'tables-root' \(from TABLES_ROOT\) must be an S3 URI with a bucket name/],
    ["--checkpoints-root s3:/bucket/cp", ["--checkpoints-root", "s3:/bucket/cp"], {}, /'checkpoints-root' \(from --checkpoints-root\) must be an S3 URI with two slashes/],
    ["CHECKPOINTS_ROOT=s3://", [], { CHECKPOINTS_ROOT: "s3://" }, /'checkpoints-root' \(from CHECKPOINTS_ROOT\) must be an S3 URI with a bucket name/],
  ];
  for (const [name, args, env, message] of cases) {
    test(`${name}: exit 2, and no local folder named like the URI`, async () => {
      const cwd = await fs.mkdtemp(path.join(tmp, "cwd-"));
      const res = await runCli(["run", "--once", "--stream", "s", "--log-file=", ...args], { AWS_REGION: "us-east-1", ...env }, cwd);
      assert.equal(res.code, 2, `${name}: ${res.stdout}${res.stderr}`);
      assert.match(res.stderr, message);
      assert.deepEqual(await fs.readdir(cwd), [], "nothing written to the working folder");
    });
  }
});

describe("tables init-packages writes demo rows only when asked for by name", () => {
  test("without --from it refuses (exit 2), says why and what to pass, and writes nothing", async () => {
    const root = path.join(tmp, "no-from");
    const res = await runCli(["tables", "init-packages", "--tables-root", root], {});
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /'tables init-packages' needs '--from <file>': a JSON array, JSON lines or CSV file with the packages .* pass '--demo'/);
    await assert.rejects(fs.stat(root), "no table made");
    const stock = await runCli(["tables", "init-packages", "--stock", "5", "--tables-root", root], {});
    assert.equal(stock.code, 2);
    assert.match(stock.stderr, /'--stock' sets the stock of the demo catalog's rows, so it goes with '--demo'/);
    const both = await runCli(["tables", "init-packages", "--demo", "--from", "p.json", "--tables-root", root], {});
    assert.equal(both.code, 2);
    assert.match(both.stderr, /takes '--from <file>' or '--demo', not both/);
    await assert.rejects(fs.stat(root), "still no table");
  });

  test("with --demo it writes the demo catalog", async () => {
    const root = path.join(tmp, "demo-rows");
    const res = await runCli(["tables", "init-packages", "--demo", "--stock", "7", "--tables-root", root], {});
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /package_table at .*demo-rows\/orders\/gold\/package_table: 90 rows \(version \d+\)\./);
  });
});

describe("missing credentials: exit 5, naming the sources tried and what to set", () => {
  let home: string;
  before(async () => {
    home = path.join(tmp, "home");
    await fs.mkdir(path.join(home, ".aws"), { recursive: true });
    await fs.writeFile(path.join(home, ".aws/credentials"), "[dev]\naws_access_key_id = AKIADEV000000000000\naws_secret_access_key = devsecret\n");
  });

  test("with nothing configured (reading Kinesis, then S3), whatever words the paths in the message hold", async () => {
    // 'network' and 'closed' in a path must not make the message pass for an outage.
    const empty = path.join(tmp, "empty-home-network-closed");
    await fs.mkdir(empty, { recursive: true });
    const kinesis = await runCli(["status", "--stream", "orders", "--tables-root", path.join(tmp, "t")], noCredentials(empty));
    assert.equal(kinesis.code, 5, kinesis.stderr);
    const s3 = await runCli(["tables", "init-packages", "--demo", "--tables-root", "s3://lake"], noCredentials(empty));
    assert.equal(s3.code, 5, s3.stderr);
    for (const res of [kinesis, s3]) {
      assert.match(res.stderr, /No AWS credentials found\. Sources tried, in the SDK's order: 1\) environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: neither is set; 2\) the profile 'default'/);
      assert.match(res.stderr, /not in '.*empty-home-network-closed\/\.aws\/credentials' \(absent\) nor in '.*empty-home-network-closed\/\.aws\/config' \(absent\)/);
      assert.match(res.stderr, /web identity token .*: not set; .*container credentials .*: not set; .*EC2 instance metadata: turned off by AWS_EC2_METADATA_DISABLED/);
      assert.match(res.stderr, /Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
      assert.doesNotMatch(res.stderr, /CredentialsProviderError: Could not load/);
    }
  });

  test("with a profile that does not exist: the profile and the files looked in", async () => {
    const res = await runCli(["status", "--stream", "orders", "--tables-root", path.join(tmp, "t")], noCredentials(home, { AWS_PROFILE: "prod" }));
    assert.equal(res.code, 5, res.stderr);
    assert.match(res.stderr, /No AWS credentials: the profile 'prod' \(from AWS_PROFILE\) is not found in '.*home\/\.aws\/credentials' \(profiles there: dev\) nor in '.*home\/\.aws\/config' \(absent\)\./);
    assert.doesNotMatch(res.stderr, /devsecret/);
    const flag = await runCli(["status", "--profile", "staging", "--stream", "orders", "--tables-root", path.join(tmp, "t")], noCredentials(home));
    assert.equal(flag.code, 5, flag.stderr);
    assert.match(flag.stderr, /the profile 'staging' \(from --profile\) is not found/);
  });

  test("under ENVIRONMENT=GITHUB_ACTIONS: the original job's words, and the keys to set", async () => {
    const res = await runCli(["status", "--stream", "orders", "--tables-root", path.join(tmp, "t")], noCredentials(home, { ENVIRONMENT: "GITHUB_ACTIONS", AWS_ACCESS_KEY_ID: "AKIAONLY00000000000" }));
    assert.equal(res.code, 5, res.stderr);
    assert.match(res.stderr, /AWS credentials not found in GitHub Actions environment variables\. ENVIRONMENT=GITHUB_ACTIONS expects the keys in the job's environment, and AWS_SECRET_ACCESS_KEY is not set/);
    assert.match(res.stderr, /secrets\.AWS_SECRET_ACCESS_KEY/);
  });
});

describe("a log file that cannot be opened names the setting (exit 2)", () => {
  test("LOG_FILE in a missing folder, or --log-file naming a folder", async () => {
    const missing = await runCli(["run", "--once", "--stream", "s"], { LOG_FILE: path.join(tmp, "no-such-folder", "app.log"), AWS_REGION: "us-east-1" });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /'log-file' \(from LOG_FILE\) must be a file this user can append to: '.*app\.log' cannot be opened \(the folder '.*no-such-folder' does not exist\)/);
    const folder = await runCli(["demo", "--log-file", tmp, "--tables-root", path.join(tmp, "demo-never")], {});
    assert.equal(folder.code, 2, folder.stderr);
    assert.match(folder.stderr, /'log-file' \(from --log-file\) .*cannot be opened \(it is a folder\)/);
    await assert.rejects(fs.stat(path.join(tmp, "demo-never")), "the demo did not start");
  });
});

describe("what is not a mistake", () => {
  test("LOG_LEVEL=DEBUG, WARN or WARNING and INITIAL_POSITION=latest or at_timestamp:… are accepted", async () => {
    for (const env of [{ LOG_LEVEL: "DEBUG" }, { LOG_LEVEL: "WARN" }, { LOG_LEVEL: "WARNING" }, { INITIAL_POSITION: "latest" }, { INITIAL_POSITION: "at_timestamp:2025-03-01T00:00:00Z" }]) {
      const res = await runCli(["status", "--tables-root", path.join(tmp, "levels")], { ...env, STREAM_NAME: "" });
      assert.equal(res.code, 0, `${JSON.stringify(env)}: ${res.stderr}`);
      assert.match(res.stdout, /^tables\n {2}events +missing/);
    }
  });

  test("the config file's 'KEY: value' lines are read as configparser reads them", async () => {
    const ini = path.join(tmp, "colon.ini");
    const root = path.join(tmp, "from-ini");
    await fs.writeFile(ini, ["[paths]", `BUCKET_NAME: ${root}`, "GOLD: golden", "[table_names]", "PACKAGE_TABLE: packages", ""].join("\n"));
    const res = await runCli(["status", "--config", ini], { STREAM_NAME: "", TABLES_ROOT: "", BUCKET_NAME: "" });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(res.stdout.includes(`${root}/orders/golden/packages`), res.stdout);
  });
});
