import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { credentialSources, CredentialsError, explainedCredentials, explainMissingCredentials } from "./aws_credentials.ts";

let home: string;
before(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), "ds-creds-"));
  await fs.mkdir(path.join(home, ".aws"));
  await fs.writeFile(path.join(home, ".aws/credentials"), "[other]\naws_access_key_id = AKIAOTHER0000000000\naws_secret_access_key = othersecret\n[regiononly]\nregion = eu-west-1\n");
  await fs.writeFile(path.join(home, ".aws/config"), "[default]\nregion = eu-west-1\n[profile sso]\nsso_session = corp\n");
});
after(() => fs.rm(home, { recursive: true, force: true }));

const sdkError = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
const sources = (env: Record<string, string>) => credentialSources({ HOME: home, AWS_EC2_METADATA_DISABLED: "true", ...env }, "/nowhere");

test("with nothing configured, the message lists every source of the chain in order, what each had, and what to set", async () => {
  const m = await explainMissingCredentials(undefined, sources({}), sdkError);
  assert.match(m, /^No AWS credentials found\. Sources tried, in the SDK's order: 1\) environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: neither is set; /);
  assert.match(m, /2\) the profile 'default' \(no AWS_PROFILE or --profile: the default one\): in '.*config', but without credentials/);
  assert.match(m, /3\) a web identity token \(AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN.*\): not set; 4\) container credentials .*: not set; 5\) EC2 instance metadata: turned off by AWS_EC2_METADATA_DISABLED/);
  assert.match(m, /Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY .* or name a profile with AWS_PROFILE or --profile/);
  assert.match(m, /\(the SDK said: Could not load credentials from any providers\)$/);
  assert.doesNotMatch(m, /othersecret|AKIAOTHER/, "no secret, no key id");
});

test("a profile that is in neither file is named, with the files looked in and the profiles they have", async () => {
  const m = await explainMissingCredentials(undefined, sources({ AWS_PROFILE: "prod" }), sdkError);
  assert.match(m, /^No AWS credentials: the profile 'prod' \(from AWS_PROFILE\) is not found in '.*\.aws\/credentials' \(profiles there: other, regiononly\) nor in '.*\.aws\/config' \(profiles there: default, sso\)\./);
  assert.match(m, /aws configure --profile prod/);
  assert.match(m, /1\) environment variables .*: skipped, because a profile is named \(AWS_PROFILE=prod\)/);
  const flag = await explainMissingCredentials("staging", sources({}), sdkError);
  assert.match(flag, /the profile 'staging' \(from --profile\) is not found/);
  const absent = await explainMissingCredentials("x", credentialSources({ HOME: path.join(home, "none") }, "/"), sdkError);
  assert.match(absent, /is not found in '.*none\/\.aws\/credentials' \(absent\) nor in '.*none\/\.aws\/config' \(absent\)/);
});

test("a profile without credentials says so and what it needs", async () => {
  const m = await explainMissingCredentials("regiononly", sources({}), sdkError);
  assert.match(m, /the profile 'regiononly' \(from --profile\): in '.*credentials', but without credentials \(it needs aws_access_key_id with aws_secret_access_key, role_arn/);
});

test("under ENVIRONMENT=GITHUB_ACTIONS the original job's words open the message, naming the missing keys", async () => {
  const m = await explainMissingCredentials(undefined, sources({ ENVIRONMENT: "GITHUB_ACTIONS", AWS_ACCESS_KEY_ID: "AKIAEXAMPLE00000000" }), sdkError);
  assert.match(m, /^AWS credentials not found in GitHub Actions environment variables\. ENVIRONMENT=GITHUB_ACTIONS expects the keys in the job's environment, and AWS_SECRET_ACCESS_KEY is not set: /);
  assert.match(m, /secrets\.AWS_SECRET_ACCESS_KEY/);
  assert.match(m, /aws-actions\/configure-aws-credentials/);
  assert.doesNotMatch(m, /AKIAEXAMPLE/);
});

test("the wrapped chain fails with a typed CredentialsError carrying the SDK's error; credentials found pass through", async () => {
  const failing = explainedCredentials((async () => {
    throw sdkError;
  }) as unknown as ReturnType<typeof fromNodeProviderChain>, undefined, sources({}));
  await assert.rejects(failing(), (err: Error) => {
    assert.ok(err instanceof CredentialsError);
    assert.equal(err.name, "CredentialsError");
    assert.equal(err.cause, sdkError);
    assert.match(err.message, /Sources tried/);
    return true;
  });
  const other = explainedCredentials((async () => {
    throw new TypeError("boom");
  }) as unknown as ReturnType<typeof fromNodeProviderChain>, undefined, undefined);
  await assert.rejects(other(), TypeError, "other errors are not explained as missing credentials");
  const ok = explainedCredentials((async () => ({ accessKeyId: "a", secretAccessKey: "b" })) as unknown as ReturnType<typeof fromNodeProviderChain>, undefined, undefined);
  assert.deepEqual(await ok(), { accessKeyId: "a", secretAccessKey: "b" });
});

test("the SDK's real chain, finding nothing, fails with the explained error", async () => {
  const saved = { ...process.env };
  for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"]) delete process.env[k];
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(home, "none-credentials");
  process.env.AWS_CONFIG_FILE = path.join(home, "none-config");
  try {
    const chain = explainedCredentials(fromNodeProviderChain(), undefined, credentialSources(process.env, os.homedir()));
    await assert.rejects(chain(), (err: Error) => err instanceof CredentialsError && /none-credentials' \(absent\)/.test(err.message));
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});
