import type { IssuerConfig } from './issuer-config.ts';
import { emailKey } from './normalise.ts';

export interface VerifierOptions {
  /** The policy's `issuers`: tokens from anyone else are refused. */
  readonly issuers: readonly IssuerConfig[];
  /** The policy's `groups`: group name → member emails. */
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly clock?: () => Date;
  /** Allowed clock skew for `exp`, `iat` and `nbf`; default 30 s, at most 300 s. */
  readonly clockToleranceSec?: number;
  /** Google's signing certificates, kid → PEM. Default: fetched from Google, lazily. */
  readonly googleCerts?: () => Promise<Record<string, string>>;
  /** How long one JWKS fetch may take; default 5000 ms. */
  readonly jwksTimeoutMs?: number;
  /** How JWKS are fetched; default the global fetch. For tests that count or fail fetches. */
  readonly fetch?: typeof fetch;
  /** Monotonic milliseconds for the JWKS refetch cooldown and max age; default performance.now. */
  readonly keyClock?: () => number;
}

/** An issuer as the verifiers use it: one or several audiences, always as a non-empty list. */
export interface CheckedIssuer extends Omit<IssuerConfig, 'audience'> {
  readonly audiences: readonly [string, ...string[]];
}

export interface CheckedOptions {
  readonly issuers: ReadonlyMap<string, CheckedIssuer>;
  /** Member email by emailKey() (normalise.ts) → the policy groups naming it. */
  readonly groupsByEmail: ReadonlyMap<string, readonly string[]>;
  readonly clock: () => Date;
  readonly toleranceSec: number;
  readonly googleCerts: (() => Promise<Record<string, string>>) | undefined;
  readonly jwksTimeoutMs: number;
}

// Google's ID tokens carry either spelling of its issuer; keys for both come from Google itself.
export const GOOGLE_ISSUERS: ReadonlySet<string> = new Set(['https://accounts.google.com', 'accounts.google.com']);

// google-auth-library always allows 300 s of skew against the real clock, so a larger tolerance
// here would be silently cut to 300 s for Google tokens only.
const MAX_TOLERANCE_SEC = 300;
/** A verified token is reused for at most this long (issuers[].tokenCache). */
export const MAX_TOKEN_CACHE_SEC = 60;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Checks the options once, at start-up: every problem here is the caller's, hence TypeError. */
export function checkVerifierOptions(options: VerifierOptions): CheckedOptions {
  if (!Array.isArray(options.issuers) || options.issuers.length === 0) {
    throw new TypeError('identity: at least one issuer must be configured (policy `issuers`)');
  }
  const issuers = new Map<string, CheckedIssuer>();
  options.issuers.forEach((cfg, i) => {
    const checked = checkIssuer(cfg, `issuers[${i}]`);
    if (issuers.has(checked.issuer)) throw new TypeError(`identity: issuers[${i}]: issuer ${checked.issuer} is configured twice`);
    // With two issuers, a claim naming any group would let either one grant the other's groups
    // (or the policy's): each must say which groups it may assert (attack review of issue 16).
    if (options.issuers.length > 1 && checked.groupsClaim !== undefined && checked.claimGroups === undefined) {
      throw new TypeError(`identity: issuers[${i}]: more than one issuer is trusted, so groupsClaim needs claimGroups (the groups this issuer's claim may grant)`);
    }
    issuers.set(checked.issuer, checked);
  });

  const toleranceSec = options.clockToleranceSec ?? 30;
  if (!Number.isFinite(toleranceSec) || toleranceSec < 0 || toleranceSec > MAX_TOLERANCE_SEC) {
    throw new TypeError(`identity: clockToleranceSec must be between 0 and ${MAX_TOLERANCE_SEC}`);
  }
  const jwksTimeoutMs = options.jwksTimeoutMs ?? 5000;
  if (!Number.isInteger(jwksTimeoutMs) || jwksTimeoutMs <= 0) {
    throw new TypeError('identity: jwksTimeoutMs must be a positive integer');
  }
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw new TypeError('identity: clock must be a function returning a Date');
  }
  if (options.googleCerts !== undefined && typeof options.googleCerts !== 'function') {
    throw new TypeError('identity: googleCerts must be a function');
  }
  return {
    issuers,
    groupsByEmail: indexGroups(options.groups),
    clock: options.clock ?? (() => new Date()),
    toleranceSec,
    googleCerts: options.googleCerts,
    jwksTimeoutMs,
  };
}

function checkIssuer(cfg: IssuerConfig, where: string): CheckedIssuer {
  if (typeof cfg?.issuer !== 'string' || cfg.issuer === '') throw new TypeError(`identity: ${where}: issuer is required`);
  const { audience, ...rest } = cfg;
  const checked: CheckedIssuer = { ...rest, audiences: checkAudiences(audience, where) };
  if (cfg.groupsClaim !== undefined && (typeof cfg.groupsClaim !== 'string' || cfg.groupsClaim === '')) {
    throw new TypeError(`identity: ${where}: groupsClaim must be a non-empty string`);
  }
  if (cfg.claimGroups !== undefined) {
    const list: unknown = cfg.claimGroups;
    if (!Array.isArray(list) || list.length === 0 || !list.every((g) => typeof g === 'string' && g !== '') || new Set(list).size !== list.length) {
      throw new TypeError(`identity: ${where}: claimGroups must be a non-empty list of distinct group names`);
    }
    if (cfg.groupsClaim === undefined) throw new TypeError(`identity: ${where}: claimGroups needs a groupsClaim to read them from`);
  }
  if (cfg.emailVerified !== undefined && cfg.emailVerified !== 'required' && cfg.emailVerified !== 'trusted') {
    throw new TypeError(`identity: ${where}: emailVerified must be required or trusted`);
  }
  if (cfg.authorizedParty !== undefined && (typeof cfg.authorizedParty !== 'string' || cfg.authorizedParty === '')) {
    throw new TypeError(`identity: ${where}: authorizedParty must be a non-empty string`);
  }
  if (cfg.maxTokenLifetimeSec !== undefined && !(Number.isInteger(cfg.maxTokenLifetimeSec) && cfg.maxTokenLifetimeSec > 0)) {
    throw new TypeError(`identity: ${where}: maxTokenLifetimeSec must be a positive whole number of seconds`);
  }
  if (cfg.tokenCacheSec !== undefined && !(Number.isInteger(cfg.tokenCacheSec) && cfg.tokenCacheSec >= 0 && cfg.tokenCacheSec <= MAX_TOKEN_CACHE_SEC)) {
    throw new TypeError(`identity: ${where}: tokenCacheSec must be a whole number of seconds from 0 to ${MAX_TOKEN_CACHE_SEC}`);
  }
  if (GOOGLE_ISSUERS.has(cfg.issuer)) {
    // A Google account may carry an address nobody verified; only email_verified says otherwise.
    if (cfg.emailVerified === 'trusted') throw new TypeError(`identity: ${where}: emailVerified cannot be trusted for Google's issuer (its email_verified is always checked)`);
    // Google's keys are fetched by google-auth-library; a jwksUri here would suggest it is used.
    if (cfg.jwksUri !== undefined) throw new TypeError(`identity: ${where}: jwksUri is not used for Google's issuer; remove it`);
    return checked;
  }
  if (cfg.jwksUri === undefined) throw new TypeError(`identity: ${where}: jwksUri is required for issuer ${cfg.issuer}`);
  let url: URL;
  try {
    url = new URL(cfg.jwksUri);
  } catch {
    throw new TypeError(`identity: ${where}: jwksUri is not a URL`);
  }
  // Whoever can change the JWKS in transit can sign tokens for anyone: plain HTTP only on loopback.
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  if (!secure) throw new TypeError(`identity: ${where}: jwksUri must use https (http only on 127.0.0.1/localhost)`);
  return checked;
}

// Refused here as well as by the policy schema, because createVerifier can be called without it:
// google-auth-library skips the audience check entirely when it is given no audience.
function checkAudiences(audience: unknown, where: string): readonly [string, ...string[]] {
  if (typeof audience === 'string' && audience !== '') return [audience];
  if (audience === undefined || audience === '') throw new TypeError(`identity: ${where}: audience is required`);
  if (!Array.isArray(audience)) throw new TypeError(`identity: ${where}: audience must be a string or a list of strings`);
  const audiences: string[] = [];
  for (const a of audience as unknown[]) {
    if (typeof a !== 'string' || a === '') throw new TypeError(`identity: ${where}: audience must list only non-empty strings`);
    if (audiences.includes(a)) throw new TypeError(`identity: ${where}: audience lists ${a} twice`);
    audiences.push(a);
  }
  const [first, ...rest] = audiences;
  if (first === undefined) throw new TypeError(`identity: ${where}: audience must not be an empty list`);
  return [first, ...rest];
}

function indexGroups(groups: Readonly<Record<string, readonly string[]>>): Map<string, string[]> {
  if (typeof groups !== 'object' || groups === null) throw new TypeError('identity: groups must be an object');
  const byEmail = new Map<string, string[]>();
  for (const [name, members] of Object.entries(groups)) {
    if (!Array.isArray(members) || !members.every((m) => typeof m === 'string')) {
      throw new TypeError(`identity: groups.${name} must be a list of emails`);
    }
    for (const member of members) {
      const key = emailKey(member);
      const names = byEmail.get(key) ?? [];
      if (!names.includes(name)) names.push(name);
      byEmail.set(key, names);
    }
  }
  return byEmail;
}
