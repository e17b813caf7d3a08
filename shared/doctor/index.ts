export { runDoctor, type DoctorOptions } from './run.ts';
export { buildChecks, connectionReport, unreachableReport, isOk } from './checks.ts';
export { probe, GATEHOUSE_APPLICATION_NAMES } from './probe.ts';
export { formatReport, summaryLine } from './format.ts';
export { DANGEROUS_FUNCTIONS, DANGEROUS_FUNCTION_PATTERNS, SERVER_ROLES, SQL_RUNNER_EXTENSIONS } from './dangerous.ts';
export type { Check, CheckId, CheckStatus, ConnectionReport, DoctorReport, Facts, Probe } from './types.ts';
