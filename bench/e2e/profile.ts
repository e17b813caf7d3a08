// What the gateway's CPU time is made of: a V8 CPU profile (node:inspector, taken in the gateway's
// process during one concurrent phase) summarised as self time by where the code lives — our
// folders (shared/identity, shared/sql, …), each dependency (pg, jose, libpg-query, …), Node's
// own HTTP/net/streams, the garbage collector. A frame without a script (a native call) counts for
// the nearest caller that has one, so `crypto.verify` lands in whoever called it.

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly url: string; readonly functionName: string };
  readonly children?: readonly number[];
}
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileShare {
  readonly where: string;
  readonly ms: number;
  /** Of the busy (non-idle) time. */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  /** Self time by where the code lives (Node's own code counted as Node's). */
  readonly shares: readonly ProfileShare[];
  /**
   * Self time charged to the nearest caller in our code or a dependency: Node's crypto under
   * shared/identity counts for shared/identity. Time with no such caller (socket reads, timers,
   * the event loop's own work) stays Node's.
   */
  readonly attributed: readonly ProfileShare[];
}

/** The bucket a script URL belongs to. `root` is the repository's file:// URL prefix. */
export function bucketOf(url: string, root: string): string | undefined {
  if (url === '') return undefined;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith(root)) {
    const rel = url.slice(root.length).replace(/^\/+/, '');
    const parts = rel.split('/');
    if (parts[0] === 'shared') return parts.length > 2 ? `shared/${parts[1]}` : 'shared/*.ts (gateway, config, …)';
    return parts.length > 1 ? parts[0]! : rel;
  }
  // libpg-query's parser is WebAssembly: its frames have a wasm:// URL of their own.
  if (url.startsWith('wasm://')) return 'WebAssembly (libpg-query parser)';
  if (url.startsWith('node:')) {
    const mod = url.slice(5).replace(/^internal\//, '');
    if (/^_?http|^http/.test(mod)) return 'node: http';
    if (/^(net|stream|streams\/|tcp|dns|socket)/.test(mod)) return 'node: net + streams';
    if (/crypto/.test(mod)) return 'node: crypto';
    if (/^(timers|process\/task_queues|async_hooks|event_target|events)/.test(mod)) return 'node: timers + events';
    return 'node: other';
  }
  return 'other scripts';
}

// Node's native stream writes: the time inside them is mostly the write(2)/writev(2) system call
// (on loopback the kernel also runs the receiver's TCP path), so they get a line of their own.
const SOCKET_WRITES = new Set(['writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String']);

export function summariseProfile(profile: CpuProfile, root: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const bucketCache = new Map<number, string>();
  const bucket = (id: number): string => {
    const cached = bucketCache.get(id);
    if (cached) return cached;
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    let b: string | undefined;
    if (name === '(idle)') b = '(idle)';
    else if (name === '(garbage collector)') b = 'garbage collector';
    else if (name === '(program)') b = '(program: V8 and native, no JS frame)';
    else if (name === '(root)') b = '(root)';
    else if (node.callFrame.url === '' && SOCKET_WRITES.has(name)) b = 'socket write syscalls';
    else b = bucketOf(node.callFrame.url, root);
    if (b === undefined) {
      const p = parent.get(id);
      b = p === undefined ? 'native' : bucket(p);
      if (b === '(root)') b = 'native';
    }
    bucketCache.set(id, b);
    return b;
  };
  const isNode = (b: string) => b.startsWith('node: ') || b === 'native';
  const ownerCache = new Map<number, string>();
  const owner = (id: number): string => {
    const cached = ownerCache.get(id);
    if (cached) return cached;
    const b = bucket(id);
    let o = b;
    if (isNode(b)) {
      const p = parent.get(id);
      const up = p === undefined ? undefined : owner(p);
      o = up !== undefined && !isNode(up) && !up.startsWith('(') ? up : b;
    }
    ownerCache.set(id, o);
    return o;
  };
  const self = new Map<string, number>();
  const charged = new Map<string, number>();
  // timeDeltas[i] is the time before sample i; the time a sample stands for is the next delta.
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    const b = bucket(id);
    self.set(b, (self.get(b) ?? 0) + dt);
    const o = b === '(idle)' ? b : owner(id);
    charged.set(o, (charged.get(o) ?? 0) + dt);
  }
  const idleUs = self.get('(idle)') ?? 0;
  self.delete('(idle)');
  charged.delete('(idle)');
  const busyUs = [...self.values()].reduce((a, b) => a + b, 0);
  const table = (m: Map<string, number>) =>
    [...m.entries()]
      .map(([where, t]) => ({ where, ms: Math.round(t / 100) / 10, percent: busyUs ? Math.round((t / busyUs) * 1000) / 10 : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return { busyMs: Math.round(busyUs / 1000), idleMs: Math.round(idleUs / 1000), shares: table(self), attributed: table(charged) };
}
