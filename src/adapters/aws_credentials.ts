/**
 * Credentials through the AWS SDK's default chain, with a failure that says what was tried.
 *
 * The SDK's chain ends with `CredentialsProviderError: Could not load credentials from any
 * providers` whatever was missing. {@link explainedCredentials} wraps the chain so that a
 * failure is a {@link CredentialsError} naming each source the chain tried (environment
 * variables, the profile in the shared files, a web identity token, container and instance
 * metadata), what it found there and what to set. Nothing here reads the environment: the
 * application hands in a {@link CredentialSources} made from it by {@link credentialSources}.
 * @module
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { fromNodeProviderChain } from "@aws-sdk/credential-providers";

/**
 * No credentials could be had from any source of the chain, or the profile named cannot
 * give any: a person must set something; retrying cannot help. The message names the
 * sources tried and what to set; `cause` is the SDK's error.
 */
export class CredentialsError extends Error {
  override name = "CredentialsError";
}

/** What the SDK's chain reads, as far as a message needs it (never a secret's value). */
export interface CredentialSources {
  /** `ENVIRONMENT=GITHUB_ACTIONS`: the original job's convention, the keys come from the job's environment. */
  githubActions: boolean;
  /** Whether AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set (non-empty). */
  envKeys: { accessKeyId: boolean; secretAccessKey: boolean };
  /** AWS_PROFILE, when set. */
  envProfile?: string;
  /** The shared credentials file: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials. */
  credentialsFile: string;
  /** The shared config file: AWS_CONFIG_FILE or ~/.aws/config. */
  configFile: string;
  /** AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, when set. */
  webIdentityTokenFile?: string;
  roleArn?: string;
  /** AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI is set (ECS, EKS Pod Identity). */
  containerCredentials: boolean;
  /** AWS_EC2_METADATA_DISABLED is set to something other than `false`. */
  instanceMetadataDisabled: boolean;
}

/**
 * The facts {@link explainedCredentials} reports, from an environment (as the SDK reads it).
 * @param home the home folder when HOME (or USERPROFILE) is not set.
 */
export function credentialSources(env: Record<string, string | undefined>, home: string): CredentialSources {
  const set = (name: string) => (env[name] ?? "") !== "";
  const homeDir = env.HOME || env.USERPROFILE || home;
  return {
    githubActions: env.ENVIRONMENT === "GITHUB_ACTIONS",
    envKeys: { accessKeyId: set("AWS_ACCESS_KEY_ID"), secretAccessKey: set("AWS_SECRET_ACCESS_KEY") },
    ...(set("AWS_PROFILE") ? { envProfile: env.AWS_PROFILE! } : {}),
    credentialsFile: env.AWS_SHARED_CREDENTIALS_FILE || path.join(homeDir, ".aws", "credentials"),
    configFile: env.AWS_CONFIG_FILE || path.join(homeDir, ".aws", "config"),
    ...(set("AWS_WEB_IDENTITY_TOKEN_FILE") ? { webIdentityTokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE! } : {}),
    ...(set("AWS_ROLE_ARN") ? { roleArn: env.AWS_ROLE_ARN! } : {}),
    containerCredentials: set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    instanceMetadataDisabled: set("AWS_EC2_METADATA_DISABLED") && env.AWS_EC2_METADATA_DISABLED!.toLowerCase() !== "false",
  };
}

type Provider = ReturnType<typeof fromNodeProviderChain>;

/**
 * Wraps the SDK's credential chain: its `CredentialsProviderError` becomes a
 * {@link CredentialsError} that says which sources were tried and what to set. Other errors
 * (e.g. an SSO token that expired) pass through unchanged.
 * @param profile the profile named by `--profile` or AWS_PROFILE, if any.
 */
export function explainedCredentials(chain: Provider, profile: string | undefined, sources: CredentialSources | undefined): Provider {
  const wrapped = async (props?: Parameters<Provider>[0]) => {
    try {
      return await chain(props);
    } catch (err) {
      if ((err as { name?: string } | null)?.name !== "CredentialsProviderError") throw err;
      throw new CredentialsError(await explainMissingCredentials(profile, sources, err as Error), { cause: err });
    }
  };
  return wrapped as Provider;
}

/** A profile's section in one of the shared files, as far as a message needs it. */
interface ProfileLookup {
  file: string;
  /** The file could not be read: why (absent, not readable). */
  unreadable?: string;
  /** Every profile the file has. */
  profiles: string[];
  /** The keys of the profile asked for, when the file has it. */
  keys?: string[];
}

/** The settings of a profile that give credentials, one of which a profile needs. */
const CREDENTIAL_KEYS = ["aws_access_key_id", "role_arn", "sso_session", "sso_start_url", "credential_process", "web_identity_token_file", "credential_source", "login_session"];

/**
 * The message of a {@link CredentialsError}: the sources of the chain in order, what each
 * had, and what to set. Under `ENVIRONMENT=GITHUB_ACTIONS` it opens with the original
 * job's words ("AWS credentials not found in GitHub Actions environment variables.").
 */
export async function explainMissingCredentials(profile: string | undefined, sources: CredentialSources | undefined, sdkError: Error): Promise<string> {
  const s = sources;
  const profileName = profile ?? s?.envProfile ?? "default";
  const named = profile !== undefined || s?.envProfile !== undefined;
  const profileFrom = profile !== undefined && profile !== s?.envProfile ? "--profile" : "AWS_PROFILE";
  const credentials = s ? await lookUpProfile(s.credentialsFile, profileName, false) : undefined;
  const config = s ? await lookUpProfile(s.configFile, profileName, true) : undefined;

  const missingKeys = s ? [!s.envKeys.accessKeyId ? "AWS_ACCESS_KEY_ID" : "", !s.envKeys.secretAccessKey ? "AWS_SECRET_ACCESS_KEY" : ""].filter(Boolean) : [];
  const tried: string[] = [];
  // 1. Environment variables (skipped by the SDK when a profile is named).
  if (named) {
    tried.push(`environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: skipped, because a profile is named (${profileFrom}=${profileName}) and the SDK then reads the profile only`);
  } else if (!s) {
    tried.push("environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: not both set");
  } else {
    tried.push(`environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: ${missingKeys.length === 2 ? "neither is set" : `${missingKeys[0]} is not set`}`);
  }
  // 2. The profile in the shared files.
  tried.push(`the profile '${profileName}'${named ? ` (from ${profileFrom})` : " (no AWS_PROFILE or --profile: the default one)"}: ${describeProfile(profileName, credentials, config)}`);
  // 3. Web identity.
  tried.push(
    s?.webIdentityTokenFile || s?.roleArn
      ? `a web identity token: AWS_WEB_IDENTITY_TOKEN_FILE${s.webIdentityTokenFile ? ` ('${s.webIdentityTokenFile}')` : " is not set"} with AWS_ROLE_ARN${s.roleArn ? ` ('${s.roleArn}')` : " not set"} gave none`
      : "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, as on EKS or with GitHub OIDC): not set",
  );
  // 4. Container, then instance metadata.
  if (s?.containerCredentials) tried.push("container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI): set, but the endpoint gave none");
  else tried.push("container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI, as on ECS): not set");
  if (s?.instanceMetadataDisabled) tried.push("EC2 instance metadata: turned off by AWS_EC2_METADATA_DISABLED");
  else if (!s?.containerCredentials) tried.push("EC2 instance metadata: no instance role answered (not on EC2, or no role attached)");

  const list = tried.map((t, i) => `${i + 1}) ${t}`).join("; ");
  const sdk = `(the SDK said: ${sdkError.message})`;
  const profileMissing = named && !credentials?.keys && !config?.keys;
  if (s?.githubActions && !named && missingKeys.length > 0) {
    return `AWS credentials not found in GitHub Actions environment variables. ENVIRONMENT=GITHUB_ACTIONS expects the keys in the job's environment, and ${
      missingKeys.join(" and ")
    } ${missingKeys.length === 2 ? "are" : "is"} not set: add them to the step's env from the repository's secrets ` +
      "(AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}, AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}), " +
      `or run aws-actions/configure-aws-credentials (OIDC, role-to-assume) before this step, which sets them. Sources tried: ${list}. ${sdk}`;
  }
  if (profileMissing) {
    return `No AWS credentials: the profile '${profileName}' (from ${profileFrom}) is not found in ${where(credentials, s?.credentialsFile)} nor in ${where(config, s?.configFile)}. ` +
      `Create it (aws configure --profile ${profileName}), point AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE at the files that have it, or name a profile that exists. Sources tried: ${list}. ${sdk}`;
  }
  return `No AWS credentials found. Sources tried, in the SDK's order: ${list}. ` +
    "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary keys), or name a profile with AWS_PROFILE or --profile " +
    `(aws configure --profile NAME writes one), or run where a role is attached (EC2, ECS, EKS, GitHub OIDC). ${sdk}`;
}

function where(l: ProfileLookup | undefined, file: string | undefined): string {
  if (!l) return file ? `'${file}'` : "the shared credentials and config files";
  if (l.unreadable) return `'${l.file}' (${l.unreadable})`;
  return `'${l.file}' (${l.profiles.length ? `profiles there: ${l.profiles.join(", ")}` : "no profiles there"})`;
}

function describeProfile(name: string, credentials: ProfileLookup | undefined, config: ProfileLookup | undefined): string {
  if (!credentials || !config) return "not found, or without credentials, in ~/.aws/credentials and ~/.aws/config";
  const found = [credentials, config].filter((l) => l.keys);
  if (found.length === 0) return `not in ${where(credentials, undefined)} nor in ${where(config, undefined)}`;
  const usable = found.some((l) => l.keys!.some((k) => CREDENTIAL_KEYS.includes(k)));
  const files = found.map((l) => `'${l.file}'`).join(" and ");
  if (!usable) {
    return `in ${files}, but without credentials (it needs aws_access_key_id with aws_secret_access_key, role_arn, sso_session, credential_process or web_identity_token_file)`;
  }
  return `in ${files}, but it gave none (see what the SDK said below)`;
}

/**
 * Reads a shared file's profile names and the keys of profile `name`. The config file writes
 * `[profile NAME]` (and `[default]`), the credentials file `[NAME]`.
 */
async function lookUpProfile(file: string, name: string, isConfig: boolean): Promise<ProfileLookup> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { file, profiles: [], unreadable: code === "ENOENT" ? "absent" : `not readable: ${code ?? (err as Error).message}` };
  }
  const profiles: string[] = [];
  let current: string | undefined;
  let keys: string[] | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      const section = header[1]!;
      const m = /^profile\s+(.+)$/.exec(section);
      current = isConfig ? (m ? m[1]! : section === "default" ? "default" : undefined) : section;
      if (current !== undefined) {
        profiles.push(current);
        if (current === name) keys ??= [];
      }
      continue;
    }
    if (current === name && keys) {
      const kv = /^([^=:#;\s][^=:]*?)\s*[=:]/.exec(line);
      if (kv) keys.push(kv[1]!.toLowerCase());
    }
  }
  return { file, profiles, ...(keys ? { keys } : {}) };
}
