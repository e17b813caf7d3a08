// Locally, `gatehouse mcp --dev-sub EMAIL` identifies the agent with tokens from the dev issuer
// of `gatehouse start` (its key in the state dir, its URL and audience from the policy), minted
// per call with a short lifetime — the same tokens `gatehouse token` prints.
import { readFileSync } from 'node:fs';
import { parsePolicy } from '../shared/policy/index.ts';
import { loadOrCreateDevKey, mintDevToken } from './dev-issuer.ts';

export function devTokenProvider(o: { policyPath: string; stateDir: string; sub: string; groups?: readonly string[] }): () => Promise<string> {
  const policy = parsePolicy(readFileSync(o.policyPath, 'utf8'), o.policyPath);
  const dev = policy.issuers.find((i) => /\/dev$/.test(i.issuer));
  if (!dev) throw new TypeError(`${o.policyPath} has no dev issuer (an issuer ending in /dev)`);
  const aud = typeof dev.audience === 'string' ? dev.audience : dev.audience[0]!;
  const key = loadOrCreateDevKey(o.stateDir);
  return async () => mintDevToken(await key, { issuer: dev.issuer, sub: o.sub, groups: o.groups, aud, ttlSec: 300 });
}
