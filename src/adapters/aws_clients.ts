import type { S3ClientConfig } from "@aws-sdk/client-s3";
import type { KinesisClientConfig } from "@aws-sdk/client-kinesis";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { type CredentialSources, explainedCredentials } from "./aws_credentials.ts";

/** What the AWS clients are built from (resolved configuration, no environment reads here). */
export interface AwsSettings {
  region?: string;
  profile?: string;
  endpointUrl?: string;
  kinesisEndpointUrl?: string;
  s3EndpointUrl?: string;
  /** What the credential chain reads, for the message when it finds nothing (see `aws_credentials.ts`). */
  credentialSources?: CredentialSources;
}

/**
 * Credentials through the SDK's default chain: environment variables, the profile's
 * `~/.aws/credentials` and `~/.aws/config` entries (SSO and assume-role included), web
 * identity tokens (GitHub OIDC), then ECS and EC2 instance metadata. When none gives
 * credentials, requests fail with a `CredentialsError` saying what was tried and what to set.
 */
function common(s: AwsSettings) {
  return {
    ...(s.region ? { region: s.region } : {}),
    credentials: explainedCredentials(fromNodeProviderChain(s.profile ? { profile: s.profile } : {}), s.profile, s.credentialSources),
  };
}

export function s3Config(s: AwsSettings): S3ClientConfig {
  const endpoint = s.s3EndpointUrl ?? s.endpointUrl;
  return { ...common(s), ...(endpoint ? { endpoint, forcePathStyle: true } : {}) };
}

export function kinesisConfig(s: AwsSettings): KinesisClientConfig {
  const endpoint = s.kinesisEndpointUrl ?? s.endpointUrl;
  return { ...common(s), ...(endpoint ? { endpoint } : {}) };
}
