// `gatehouse policy check FILE`: load and validate a policy exactly as the server would.
import { GatehouseError } from '../errors.ts';
import { loadPolicy } from '../policy/index.ts';

export async function policyCheckCommand(file: string, json: boolean): Promise<{ text: string; ok: boolean }> {
  try {
    const p = await loadPolicy(file);
    const summary = {
      ok: true,
      file,
      sha256: p.sha256,
      issuers: p.issuers.map((i) => i.issuer),
      connections: Object.keys(p.connections),
      rules: p.rules.map((r) => `${r.name}: ${r.action}`),
      maskedColumns: Object.keys(p.masking.columns).length,
    };
    if (json) return { ok: true, text: JSON.stringify(summary, null, 2) };
    return {
      ok: true,
      text: [
        `${file}: valid (sha256 ${p.sha256})`,
        `  issuers:     ${summary.issuers.join(', ')}`,
        `  connections: ${summary.connections.join(', ')}`,
        `  rules:       ${summary.rules.join('; ')}`,
        `  masked columns: ${summary.maskedColumns}`,
      ].join('\n'),
    };
  } catch (e) {
    if (!(e instanceof GatehouseError)) throw e;
    if (json) return { ok: false, text: JSON.stringify({ ok: false, error: { code: e.code, message: e.message, details: e.details } }, null, 2) };
    return { ok: false, text: e.message };
  }
}
