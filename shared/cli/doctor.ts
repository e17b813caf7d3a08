// `gatehouse doctor [--connection NAME] [--json]`: is each connection's role as small as it should
// be? Checked with the role's real credentials, so what it reports is what a bot's statement gets.
import { formatReport, runDoctor } from '../doctor/index.ts';
import type { DoctorReport } from '../doctor/types.ts';
import type { Policy } from '../policy/types.ts';
import type { SecretSource } from '../ports.ts';

export interface DoctorCommandOptions {
  readonly policy: Pick<Policy, 'connections'>;
  readonly secrets: SecretSource;
  readonly connection?: string;
  readonly json: boolean;
  readonly timeoutMs?: number;
}

export async function doctorCommand(o: DoctorCommandOptions): Promise<{ ok: boolean; text: string; report: DoctorReport }> {
  const report = await runDoctor({
    connections: o.policy.connections,
    secrets: o.secrets,
    ...(o.connection !== undefined ? { only: [o.connection] } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
  return { ok: report.ok, report, text: o.json ? JSON.stringify(report, null, 2) : formatReport(report) };
}
