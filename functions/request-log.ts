// One structured log line per HTTP request, in the shape Cloud Logging reads from a function's
// stdout (https://cloud.google.com/logging/docs/structured-logging): `severity`, `message`,
// `httpRequest`, and the trace the request belongs to. The local server and the deployed functions
// both write it, so a line reads the same wherever it came from.
//
// What a line may carry is an allowlist (RequestLine below): the session id, the verified subject,
// the decision, the statement's fingerprint, the error code. Never SQL text, parameters, result
// values, tokens or error messages — those can quote row data; the session log is where they live.
import { pino, type Logger } from 'pino';
import type { RequestFacts } from './http.ts';

export type { Logger } from 'pino';

const SEVERITY: Readonly<Record<string, string>> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export interface LoggerOptions {
  /** Where lines go; default stdout. Tests pass a stream to read them back. */
  readonly destination?: NodeJS.WritableStream;
  /** Human-readable lines (pino-pretty); default: when stdout is a terminal. */
  readonly pretty?: boolean;
  readonly level?: string;
}

/** A pino logger writing Cloud Logging's field names. */
export async function createLogger(options: LoggerOptions = {}): Promise<Logger> {
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  const common = {
    level: options.level ?? process.env.GATEHOUSE_LOG_LEVEL ?? 'info',
    messageKey: 'message',
    base: undefined, // no pid/hostname: Cloud Logging adds the resource itself
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    // Loaded only on a terminal: a server writing JSON never pays for it. Synchronous stream in
    // this thread (no worker), so a line is out before the process exits. pino-pretty colours
    // pino's own numeric level, so the Cloud Logging severity is not added here.
    const { default: pinoPretty } = await import('pino-pretty');
    // One line per request for a person: the message already says method, path, status and
    // latency; the ids that lead into the session log stay, the rest is for machines.
    const stream = pinoPretty({
      messageKey: 'message',
      colorize: true,
      sync: true,
      singleLine: true,
      translateTime: 'HH:MM:ss.l',
      ignore: 'httpRequest,latencyMs,fingerprint,logging\\.googleapis\\.com/spanId,logging\\.googleapis\\.com/trace_sampled,url,version,policy,policySha256,connections,readyMs,firstStart',
      ...(options.destination ? { destination: options.destination } : {}),
    });
    return pino(common, stream);
  }
  const json = { ...common, formatters: { level: (label: string) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }) } };
  return pino(json, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

export interface Trace {
  readonly traceId: string;
  readonly spanId?: string;
  readonly sampled?: boolean;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const CLOUD_TRACE = /^([0-9a-f]{32})(?:\/(\d{1,20}))?(?:;o=([01]))?$/i;

/**
 * The trace a request belongs to: W3C `traceparent` first, else Google's `X-Cloud-Trace-Context`.
 * Anything malformed (or all-zero ids, which W3C declares invalid) is no trace at all: a header is
 * caller-controlled text and only well-formed hex ever reaches a log line.
 */
export function traceOf(headers: Readonly<Record<string, string | undefined>>): Trace | undefined {
  const tp = TRACEPARENT.exec((headers['traceparent'] ?? '').trim().toLowerCase());
  if (tp && !/^0+$/.test(tp[1]!) && !/^0+$/.test(tp[2]!)) {
    return { traceId: tp[1]!, spanId: tp[2]!, sampled: (parseInt(tp[3]!, 16) & 1) === 1 };
  }
  const ct = CLOUD_TRACE.exec((headers['x-cloud-trace-context'] ?? '').trim());
  if (ct && !/^0+$/.test(ct[1]!)) {
    const span = ct[2] === undefined ? undefined : BigInt(ct[2]).toString(16).padStart(16, '0').slice(-16);
    return { traceId: ct[1]!.toLowerCase(), ...(span ? { spanId: span } : {}), ...(ct[3] ? { sampled: ct[3] === '1' } : {}) };
  }
  return undefined;
}

/** Cloud Logging links `projects/P/traces/T`; off GCP (no project known) the bare id. */
export function traceField(trace: Trace, projectId = googleProject()): Record<string, unknown> {
  return {
    'logging.googleapis.com/trace': projectId ? `projects/${projectId}/traces/${trace.traceId}` : trace.traceId,
    ...(trace.spanId ? { 'logging.googleapis.com/spanId': trace.spanId } : {}),
    ...(trace.sampled !== undefined ? { 'logging.googleapis.com/trace_sampled': trace.sampled } : {}),
  };
}

function googleProject(): string | undefined {
  const p = process.env.GOOGLE_CLOUD_PROJECT ?? process.env.GCLOUD_PROJECT ?? process.env.GCP_PROJECT;
  return p && /^[a-z][a-z0-9-]{4,61}[a-z0-9]$/.test(p) ? p : undefined;
}

export interface RequestLine {
  readonly method: string;
  /** The path only: a query string is caller text and is left out. */
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly remoteIp?: string;
  /** What the handler learnt (session, subject, decision, fingerprint). */
  readonly facts: RequestFacts;
  /** The answer's body: only its `sessionId` and `error.code` are read. */
  readonly body?: unknown;
}

/** Writes the one line for a finished request. */
export function logRequest(logger: Logger, line: RequestLine): void {
  const answer = (line.body ?? {}) as { sessionId?: unknown; error?: { code?: unknown } };
  const sessionId = line.facts.sessionId ?? (typeof answer.sessionId === 'string' ? answer.sessionId : undefined);
  const errorCode = typeof answer.error?.code === 'string' ? answer.error.code : undefined;
  const trace = traceOf(line.headers);
  // A path is caller text: bounded, so a request cannot make its own line arbitrarily long.
  const path = line.path.length > 200 ? `${line.path.slice(0, 200)}…` : line.path;
  const entry: Record<string, unknown> = {
    httpRequest: {
      requestMethod: line.method,
      requestUrl: path,
      status: line.status,
      latency: `${(line.latencyMs / 1000).toFixed(3)}s`,
      ...(line.remoteIp ? { remoteIp: line.remoteIp } : {}),
      ...(line.headers['user-agent'] ? { userAgent: line.headers['user-agent'].slice(0, 200) } : {}),
    },
    ...(trace ? traceField(trace) : {}),
    ...(sessionId ? { sessionId } : {}),
    ...(line.facts.subject ? { subject: line.facts.subject } : {}),
    ...(line.facts.decision ? { decision: line.facts.decision } : {}),
    ...(line.facts.riskClass ? { riskClass: line.facts.riskClass } : {}),
    ...(line.facts.fingerprint ? { fingerprint: line.facts.fingerprint } : {}),
    ...(errorCode ? { errorCode } : {}),
    latencyMs: Math.round(line.latencyMs),
  };
  const message = `${line.method.slice(0, 16)} ${path} ${line.status}${errorCode ? ` ${errorCode}` : ''} ${Math.round(line.latencyMs)} ms`;
  if (line.status >= 500) logger.error(entry, message);
  else if (line.status >= 400) logger.warn(entry, message);
  else logger.info(entry, message);
}
