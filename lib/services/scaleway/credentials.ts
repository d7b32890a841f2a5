// Scaleway API credentials: the inventory's secrets first, else the standard
// SCW_* environment, else the scw CLI's profile file (both read by
// @scaleway/configuration-loader; the environment wins over the file).
// Formats are checked here with our own messages: the SDK's own validation
// messages quote the value, and a secret key must never reach any output.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadProfileFromConfigurationFile, loadProfileFromEnvironmentValues, type Profile } from '@scaleway/configuration-loader';
import { load as loadYaml } from 'js-yaml';
import { Secret, isSecret } from '../../secrets.js';

export const DEFAULT_API_URL = 'https://api.scaleway.com';

export interface ScalewayCredentials {
  accessKey: Secret;
  secretKey: Secret;
  /** without a trailing slash */
  apiUrl: string;
  /** where each value came from, for messages (never the values) */
  origin: { accessKey: string; secretKey: string; apiUrl: string };
}

export interface CredentialInput {
  access_key?: Secret | string;
  secret_key?: Secret;
  api_url?: string;
  /** profile of the scw config file; default SCW_PROFILE, else the file's active_profile, else "default" */
  profile?: string;
}

export interface CredentialProblem {
  /** key under `scaleway` the problem is about */
  key: string;
  message: string;
}

const ACCESS_KEY = /^SCW[A-Z0-9]{17}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The scw CLI's file: SCW_CONFIG_PATH, else $XDG_CONFIG_HOME/scw/config.yaml, else ~/.config/scw/config.yaml. */
export function profileFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SCW_CONFIG_PATH) return env.SCW_CONFIG_PATH;
  const base = env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, 'scw') : join(homedir(), '.config', 'scw');
  return join(base, 'config.yaml');
}

/** The file's values (quotes the loader's line parser keeps are removed); undefined when there is no file. */
function fileProfile(input: CredentialInput, env: NodeJS.ProcessEnv): { profile?: Profile; label: string; problem?: string } {
  const filepath = profileFilePath(env);
  if (!existsSync(filepath)) return { label: filepath };
  let name = input.profile ?? env.SCW_PROFILE;
  if (!name) {
    try {
      const doc = loadYaml(readFileSync(filepath, 'utf8')) as { active_profile?: unknown } | null;
      if (doc && typeof doc.active_profile === 'string') name = doc.active_profile;
    } catch {
      return { label: filepath, problem: `${filepath} is not valid YAML` };
    }
  }
  name ??= 'default';
  const label = `${filepath} (profile ${name})`;
  try {
    const p = loadProfileFromConfigurationFile({ filepath, profileName: name });
    const unquote = (v?: string) => (v === undefined ? undefined : v.replace(/^(['"])(.*)\1$/, '$2'));
    return { label, profile: { accessKey: unquote(p.accessKey), secretKey: unquote(p.secretKey), apiURL: unquote(p.apiURL) } };
  } catch {
    return { label, problem: `${filepath} has no profile "${name}"` };
  }
}

/** SCW_* values that are set and not empty. */
function envProfile(): Profile {
  const p = loadProfileFromEnvironmentValues();
  return Object.fromEntries(Object.entries(p).filter(([, v]) => typeof v === 'string' && v !== '')) as Profile;
}

/**
 * Resolve the credentials, field by field (inventory > environment > profile
 * file; both read from process.env as the SDK's loader does). Values found in the environment or the file become Secrets, so the
 * redactor knows them too.
 */
export function resolveCredentials(input: CredentialInput): { credentials?: ScalewayCredentials; problems: CredentialProblem[] } {
  const env = process.env;
  const problems: CredentialProblem[] = [];
  const fromEnv = envProfile();
  let file: ReturnType<typeof fileProfile> | undefined;
  const fromFile = () => (file ??= fileProfile(input, env));

  const pick = (key: 'accessKey' | 'secretKey' | 'apiURL', inventory: Secret | string | undefined, envName: string): { value?: string; origin: string } => {
    if (inventory !== undefined) return { value: isSecret(inventory) ? inventory.reveal() : inventory, origin: `the inventory (${isSecret(inventory) ? inventory.source : 'scaleway'})` };
    if (fromEnv[key]) return { value: fromEnv[key], origin: envName };
    const f = fromFile();
    if (f.profile?.[key]) return { value: f.profile[key], origin: f.label };
    return { origin: '' };
  };

  const missing = (key: string, envName: string) => {
    const f = fromFile();
    const fileNote = f.problem ? ` (${f.problem})` : existsSync(profileFilePath(env)) ? '' : ', which does not exist';
    problems.push({ key, message: `no Scaleway ${key.replace('_', ' ')}: set scaleway.${key} in the inventory (a secret), ${envName} in the environment, or ${key} in the scw profile file ${f.label}${fileNote}` });
  };

  const access = pick('accessKey', input.access_key, 'SCW_ACCESS_KEY');
  const secret = pick('secretKey', input.secret_key, 'SCW_SECRET_KEY');
  const api = pick('apiURL', input.api_url, 'SCW_API_URL');
  // A placeholder of an unresolved inventory secret (--list-hosts and the like) is not checked.
  const unresolved = (s: Secret | string | undefined) => isSecret(s) && s.reveal() === '';

  if (access.value === undefined) missing('access_key', 'SCW_ACCESS_KEY');
  else if (!unresolved(input.access_key) && !ACCESS_KEY.test(access.value))
    problems.push({ key: 'access_key', message: `the Scaleway access key from ${access.origin} is malformed: expected "SCW" and 17 letters or digits` });
  if (secret.value === undefined) missing('secret_key', 'SCW_SECRET_KEY');
  else if (!unresolved(input.secret_key) && !UUID.test(secret.value))
    problems.push({ key: 'secret_key', message: `the Scaleway secret key from ${secret.origin} is malformed: expected a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)` });
  const apiUrl = (api.value ?? DEFAULT_API_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(apiUrl)) problems.push({ key: 'api_url', message: `the Scaleway API URL from ${api.origin || 'the default'} is not an http(s) URL` });

  if (problems.length || access.value === undefined || secret.value === undefined) return { problems };
  const asSecret = (v: Secret | string | undefined, value: string, source: string) => (isSecret(v) ? v : new Secret(value, source));
  return {
    problems,
    credentials: {
      accessKey: asSecret(input.access_key, access.value, access.origin),
      secretKey: asSecret(input.secret_key, secret.value, secret.origin),
      apiUrl,
      origin: { accessKey: access.origin, secretKey: secret.origin, apiUrl: api.origin || 'the default' },
    },
  };
}
