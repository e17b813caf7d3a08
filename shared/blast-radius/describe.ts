// One line for people: "≈ 48,000 rows · ModifyTable (Update) · public.orders". Used by the CLI,
// the Slack message and the MCP tools, so every reviewer reads the estimate the same way.
import type { PlanEstimate } from './types.ts';

export function describeEstimate(e: PlanEstimate | undefined): string {
  if (!e) return 'no estimate';
  if (e.state !== 'estimated') return `no estimate (${e.reason ?? 'unavailable'})`;
  const rows = e.rows === undefined ? 'rows unknown' : `≈ ${Math.round(e.rows).toLocaleString('en-US')} row${Math.round(e.rows) === 1 ? '' : 's'}`;
  return [rows, e.topNode, e.tables?.length ? e.tables.join(', ') : undefined].filter(Boolean).join(' · ') + " (planner's estimate)";
}
