// What DISCARD ALL leaves behind: connections that extensions keep per backend. Today that is
// dblink's (named and unnamed); a bot that opened one could otherwise reach it again — or another
// bot could — in the next request on the same backend, outside READ ONLY. When the state cannot be
// established or cleaned, the caller destroys the backend instead of reusing it.
import type { PoolClient } from 'pg';
import { DBLINK_DISCONNECT_ALL, DBLINK_STATE } from './statements.ts';

/**
 * Runs after RESET_SESSION. Resolves true when the backend is clean to reuse, false when it must be
 * destroyed. Never throws.
 */
export async function closeExtensionConnections(client: Pick<PoolClient, 'query'>): Promise<boolean> {
  try {
    const { rows } = await client.query<{ reachable: boolean | null; closable: boolean | null }>(DBLINK_STATE);
    const state = rows[0];
    // No dblink, or none of its functions executable by this role: nothing this session could have
    // opened itself. (A SECURITY DEFINER function that opens one keeps it private to its owner's
    // code; the least-privilege script revokes dblink from PUBLIC.)
    if (!state || state.reachable !== true) return true;
    // Could open connections but cannot list or close them: only a new backend is clean.
    if (state.closable !== true) return false;
    await client.query(DBLINK_DISCONNECT_ALL);
    return true;
  } catch {
    return false;
  }
}
