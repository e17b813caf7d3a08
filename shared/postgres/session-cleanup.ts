// What DISCARD ALL leaves behind: connections that extensions keep per backend. Today that is
// dblink's (named and unnamed); a bot that opened one could otherwise reach it again — or another
// bot could — in the next request on the same backend, outside READ ONLY. When the state cannot be
// established or cleaned, the caller destroys the backend instead of reusing it.
import type { PoolClient } from 'pg';
import { DBLINK_CLEAN_UP, DBLINK_INSTALLED } from './statements.ts';

/**
 * Runs after RESET_SESSION. Resolves true when the backend is clean to reuse, false when it must be
 * destroyed (the clean-up failed, or the role could hold a connection it cannot close). Never throws.
 */
export async function closeExtensionConnections(client: Pick<PoolClient, 'query'>): Promise<boolean> {
  try {
    const installed = await client.query(DBLINK_INSTALLED);
    if (installed.rows.length === 0) return true;
    await client.query(DBLINK_CLEAN_UP);
    return true;
  } catch {
    return false;
  }
}
