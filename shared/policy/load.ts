import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { GatehouseError } from '../errors.ts';
import { validatePolicyFile } from './schema.ts';
import type { Policy } from './types.ts';

/** One thing wrong with a policy file. `line` is 1-based; `null` when the problem is the file itself. */
export interface PolicyProblem {
  readonly line: number | null;
  /** Where in the YAML tree, e.g. `rules[1].classes[0]`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

// YAML's alias expansion is the billion-laughs vector; a policy file has no need for many.
const MAX_ALIASES = 100;

/**
 * Parses and validates a policy. Throws `policy_invalid` listing every problem found, each as
 * `source:line: path: message`, one per line of the error message.
 */
export function parsePolicy(text: string, source: string): Policy {
  const sha256 = createHash('sha256').update(text, 'utf8').digest('hex');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;

  // Warnings too: an unresolved tag silently becomes a string, which is not what its author meant.
  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0) {
    fail(
      source,
      syntax.map((e) => ({
        line: lineOf(e.pos[0]),
        path: '',
        // yaml's own wording here advises an API call, which means nothing to someone editing the file.
        message: e.code === 'MULTIPLE_DOCS' ? 'YAML: a policy file holds one document (remove the second ---)' : `YAML: ${e.message}`,
      })),
    );
  }
  if (doc.contents === null) {
    fail(source, [{ line: 1, path: '', message: 'the file is empty (a policy needs version, issuers, connections and rules)' }]);
  }
  if (!isMap(doc.contents)) {
    const line = doc.contents.range ? lineOf(doc.contents.range[0]) : 1;
    fail(source, [{ line, path: '', message: 'the top level must be a mapping (version: 1, issuers: …, rules: …)' }]);
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    fail(source, [{ line: 1, path: '', message: `YAML: ${e instanceof Error ? e.message : String(e)}` }]);
  }

  const result = validatePolicyFile(data);
  if (!result.ok) {
    fail(
      source,
      result.problems.map((p) => ({ line: lineOfPath(doc, p.path, lineOf), path: formatPath(p.path), message: p.message })),
    );
  }
  return deepFreeze({ ...result.value, sha256, source });
}

/** Reads and parses a policy file; its `sha256` is that of the file's exact bytes. */
export async function loadPolicy(path: string): Promise<Policy> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(e)})`;
    throw new GatehouseError('policy_invalid', `${path}: ${message}`, { problems: [{ line: null, path: '', message }] }, { cause: e });
  }
  let text: string;
  try {
    // Strict UTF-8 that keeps a BOM: the text then re-encodes to exactly these bytes, so the
    // sha256 parsePolicy computes is the sha256 of the file.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    const message = 'is not valid UTF-8';
    throw new GatehouseError('policy_invalid', `${path}: ${message}`, { problems: [{ line: null, path: '', message }] }, { cause: e });
  }
  return parsePolicy(text, path);
}

function fail(source: string, problems: PolicyProblem[]): never {
  const sorted = [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const lines = sorted.map((p) => `${source}:${p.line ?? 1}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  throw new GatehouseError('policy_invalid', lines.join('\n'), { problems: sorted });
}

/**
 * The line a problem belongs to: a mapping entry's key line (where the field is named), a list
 * item's own line, or, when the path does not exist (a missing field), the line where the
 * deepest existing parent starts.
 */
function lineOfPath(doc: Document, path: readonly (string | number)[], lineOf: (offset: number) => number): number {
  const startOf = (n: unknown) => {
    const range = (n as { range?: [number, number, number] | null } | null)?.range;
    return range ? lineOf(range[0]) : undefined;
  };
  let node: unknown = doc.contents;
  let line = startOf(node) ?? 1;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return line;
      line = startOf(pair.key) ?? startOf(pair.value) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return line;
      line = startOf(item) ?? line;
      node = item;
    } else {
      return line;
    }
  }
  return line;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `rules[1].classes[0]`, with keys that are not plain names quoted: `masking.columns["a.b.c"]`. */
function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

// A policy is shared by every request the process serves; freezing it stops one caller from
// quietly widening a rule for all the others.
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
