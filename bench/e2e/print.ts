// The e2e bench's tables, as the README quotes them: gateway next to direct pg, the goals beside
// the figures, the typical request laid out, and what the gateway's CPU and the databases' backends
// were doing.
import type { E2eReport, PhaseFigures } from './report.ts';

export function printE2e(r: E2eReport): void {
  const out = (line = '') => console.log(line);
  const s = r.sequential;
  const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 }) : '—');
  const mark = (ok: boolean) => (ok ? 'met' : '**not met**');
  const addedP50 = s.gateway.p50Ms - s.direct.p50Ms;
  const addedP99 = s.gateway.p99Ms - s.direct.p99Ms;
  const rt = r.roundTrips;
  out(`\n${r.date} · ${r.machine} · load average ${r.loadAverage.start.join(' ')} → ${r.loadAverage.end.join(' ')}`);
  out(`session store: fsync=${r.store.fsync}, synchronous_commit=${r.store.synchronousCommit}; gateway pools: ${r.poolSize} target + ${r.poolSize} store connections\n`);
  out('| | direct `pg` | gateway | gateway − direct | goal |');
  out('|---|---|---|---|---|');
  out(`| one at a time: p50 ms | ${f(s.direct.p50Ms)} | ${f(s.gateway.p50Ms)} | +${f(addedP50)} | added ≤ 1 ms: ${mark(addedP50 <= 1)} |`);
  out(`| one at a time: p99 ms | ${f(s.direct.p99Ms)} | ${f(s.gateway.p99Ms)} | +${f(addedP99)} | added ≤ 5 ms: ${mark(addedP99 <= 5)} |`);
  out(`| one at a time: CPU ms/request (gateway · target PG · store PG) | — · ${f(s.direct.cpuMsPerRequest.target)} · — | ${cpu(s.gateway, f)} | | |`);
  for (const c of r.concurrent) {
    const non200 = Object.values(c.gateway.non200).reduce((a, b) => a + b, 0);
    const codes = Object.entries(c.gateway.errorCodes).map(([k, v]) => `${k} ${v}`).join(', ');
    out(`| ${c.inFlight} in flight: executed q/s | ${f(c.direct.executedPerSec, 0)} | ${f(c.gateway.executedPerSec, 0)} (non-200: ${non200}${codes ? `: ${codes}` : ''}) | ${f(c.gateway.executedPerSec / c.direct.executedPerSec, 3)}× | ≥ 1,500: ${mark(c.gateway.executedPerSec >= 1500)} |`);
    out(`| ${c.inFlight} in flight: p50 / p99 ms | ${f(c.direct.p50Ms)} / ${f(c.direct.p99Ms)} | ${f(c.gateway.p50Ms)} / ${f(c.gateway.p99Ms)} | | |`);
    out(`| ${c.inFlight} in flight: CPU ms/request (gateway · target PG · store PG) | — · ${f(c.direct.cpuMsPerRequest.target)} · — | ${cpu(c.gateway, f)} | | |`);
    out(`| ${c.inFlight} in flight: CPU ms/request of the load generator | ${f(c.direct.cpuMsPerRequest.loadgen)} | ${f(c.gateway.cpuMsPerRequest.loadgen)} | | |`);
  }
  out(`| round trips within the request, counted (target + store) | ${f(rt.direct.criticalPath.total)} | ${f(rt.gateway.criticalPath.total)} (${f(rt.gateway.criticalPath.target)} + ${f(rt.gateway.criticalPath.store)}) | | |`);
  // The critical path: only turns the answer waited for one after another (a turn beside another,
  // such as a read's session reset beside the result append, is within the request but not on it).
  const seq = rt.gateway.criticalPath.sequential;
  if (seq !== undefined) out(`| round trips on the critical path: the longest chain of turns that do not overlap | ${f(rt.direct.criticalPath.sequential ?? 0)} | ${f(seq)} | | ≤ 3: ${mark(seq <= 3)} |`);
  out(`| round trips per request, all (incl. after the answer); connections opened | ${f(rt.direct.all.total)}; ${rt.direct.connectionsOpened.target} | ${f(rt.gateway.all.total)} (${f(rt.gateway.all.target)} + ${f(rt.gateway.all.store)}); ${rt.gateway.connectionsOpened.target} + ${rt.gateway.connectionsOpened.store} | | |`);
  for (const gc of rt.gatewayConcurrent) {
    out(`| round trips per request at ${gc.inFlight} in flight, all (target + store); connections opened | | ${f(gc.all.total)} (${f(gc.all.target)} + ${f(gc.all.store)}); ${gc.connectionsOpened.target} + ${gc.connectionsOpened.store} | | |`);
  }
  out(`| client writes per request seen by the relay (target + store) | ${f(rt.direct.clientWrites.target)} | ${f(rt.gateway.clientWrites.target)} + ${f(rt.gateway.clientWrites.store)} | | |`);
  for (const c of r.concurrent) {
    out(`| write syscalls per request, whole process (${c.inFlight} in flight) | ${f(c.direct.writeSyscallsPerRequest.loadgen)} (load generator) | ${f(c.gateway.writeSyscallsPerRequest.gateway)} (gateway: HTTP answer, log line, both databases) | | |`);
  }
  const w = rt.gateway.waterfall;
  if (w) {
    out(`\nOne request at a time, laid out (the counting run, through the relays: ${w.requests} of ${w.of} requests had this order of turns; mean ${f(w.meanMs)} ms):\n`);
    out('| step | where | mean ms | bytes sent / received |');
    out('|---|---|---|---|');
    w.steps.forEach((x, i) => out(`| ${i + 1} | ${x.where === 'gateway' ? 'gateway (its own work; HTTP legs at both ends)' : `${x.where} round trip`} | ${f(x.meanMs, 3)} | ${x.clientBytes === undefined ? '' : `${x.clientBytes} / ${x.serverBytes}`} |`));
    const sum = (k: string) => w.steps.filter((x) => x.where === k).reduce((a, x) => a + x.meanMs, 0);
    out(`| | total: gateway ${f(sum('gateway'))} · target ${f(sum('target'))} · store ${f(sum('store'))} | ${f(w.meanMs)} | |`);
  }
  for (const b of r.breakdown) {
    out(`\nWhere the gateway's CPU goes at ${b.inFlight} in flight (${b.requests} requests, ${f(b.executedPerSec, 0)}/s under the profiler; V8 profile: busy ${f(b.busyMs, 0)} ms = ${f(b.busyMs / b.requests, 3)} ms/request, idle ${f(b.idleMs, 0)} ms):\n`);
    out('| code | self time: ms/request | share | with the Node internals it called: ms/request | share |');
    out('|---|---|---|---|---|');
    const charged = new Map(b.attributed.map((x) => [x.where, x]));
    const names = [...new Set([...b.attributed, ...b.shares].filter((x) => x.percent >= 1).map((x) => x.where))];
    const self = new Map(b.shares.map((x) => [x.where, x]));
    names.sort((x, y) => (charged.get(y)?.ms ?? 0) - (charged.get(x)?.ms ?? 0));
    const cell = (x: { ms: number; percent: number } | undefined) => (x ? `${f(x.ms / b.requests, 3)} | ${f(x.percent, 1)}%` : '0 | 0%');
    for (const name of names) out(`| ${name} | ${cell(self.get(name))} | ${cell(charged.get(name))} |`);
    out(`\nThe databases' client backends meanwhile (mean number in each state, pg_stat_activity every 25 ms):\n`);
    for (const [db, sample] of Object.entries(b.backends)) {
      const states = Object.entries(sample.backends).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${f(v)}`).join(' · ');
      out(`- ${db}: ${states || 'none busy'} (${sample.samples} samples)`);
    }
  }
}

function cpu(p: PhaseFigures, f: (x: number, d?: number) => string): string {
  return `${f(p.cpuMsPerRequest.gateway)} · ${f(p.cpuMsPerRequest.target)} · ${f(p.cpuMsPerRequest.store)}`;
}
