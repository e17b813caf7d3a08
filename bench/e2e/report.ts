// The e2e bench's report: what one run of `npm run bench -- e2e` measured (bench/e2e.ts fills it,
// bench/e2e/print.ts prints it next to the goals).
import type { ProfileSummary } from './profile.ts';
import type { Waterfall } from './relay.ts';
import type { WaitSample } from './waits.ts';

export interface E2eOptions {
  /** One-at-a-time requests per path (in alternating blocks of a fifth). */
  readonly sequential?: number;
  /** How long each concurrent phase runs. */
  readonly durationMs?: number;
  readonly concurrency?: readonly number[];
  /** Round-trip counting: one-at-a-time requests, through the relays. */
  readonly counted?: number;
  /** Extra phases at each concurrency: a CPU profile of the gateway, the databases' wait events. */
  readonly breakdown?: boolean;
  /** The gateway's pools (target and session store); default the largest concurrency. */
  readonly poolSize?: number;
}

export interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

export interface PhaseFigures extends Latency {
  readonly requests: number;
  /** Requests answered 200 (direct pg: a result) per second of the phase. */
  readonly executedPerSec: number;
  /** Everything but 200: status (or `error`) → count, and the error codes seen. */
  readonly non200: Readonly<Record<string, number>>;
  readonly errorCodes: Readonly<Record<string, number>>;
  /** CPU ms per request: the gateway's process, each PostgreSQL server, the load generator. */
  readonly cpuMsPerRequest: { readonly gateway: number; readonly target: number; readonly store: number; readonly loadgen: number };
  /** Write-type syscalls per request (/proc/PID/io syscw) of the gateway's process and the load generator. */
  readonly writeSyscallsPerRequest: { readonly gateway: number; readonly loadgen: number };
}

export interface RoundTrips {
  readonly requests: number;
  /** Per request, turns that began and were answered while the HTTP request was open. */
  readonly criticalPath: { readonly target: number; readonly store: number; readonly total: number; readonly sequential?: number };
  /** Per request, every turn, including those after the answer (COMMIT, DISCARD ALL, …). */
  readonly all: { readonly target: number; readonly store: number; readonly total: number };
  /** Per request, client chunks the relay received (≈ the client's write syscalls/flushes). */
  readonly clientWrites: { readonly target: number; readonly store: number };
  /** Connections the gateway opened during the counted requests (0 with warm pools). */
  readonly connectionsOpened: { readonly target: number; readonly store: number };
  /** One at a time: the typical request laid out in time (through the relays). */
  readonly waterfall?: Waterfall;
}

export interface Breakdown extends ProfileSummary {
  readonly inFlight: number;
  readonly requests: number;
  readonly executedPerSec: number;
  /** What each database's client backends were doing, sampled from pg_stat_activity. */
  readonly backends: Readonly<Record<string, WaitSample>>;
}

export interface E2eReport {
  readonly date: string;
  readonly machine: string;
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly store: { readonly fsync: string; readonly synchronousCommit: string };
  readonly poolSize: number;
  readonly sequential: { readonly direct: PhaseFigures; readonly gateway: PhaseFigures };
  readonly concurrent: readonly { readonly inFlight: number; readonly direct: PhaseFigures; readonly gateway: PhaseFigures }[];
  readonly roundTrips: {
    readonly gateway: RoundTrips;
    readonly direct: RoundTrips;
    /** The same at each concurrency (no windows: all turns): what batching across requests saves. */
    readonly gatewayConcurrent: readonly (Omit<RoundTrips, 'criticalPath' | 'waterfall'> & { readonly inFlight: number })[];
  };
  /** Per concurrency: a CPU profile of the gateway and the databases' wait events, in extra phases. */
  readonly breakdown: readonly Breakdown[];
}
