// Applying a plan: one precompiled function per column, so the per-cell cost is a call and, for
// text, the detectors' pre-checks. Rows are copied, never changed in place: the raw rows are still
// needed for the keyed digest.
import type { MaskStrategy } from '../policy/types.ts';
import type { DetectorName, Detectors } from './detectors.ts';
import { MASKED_CELL_NOT_KEPT } from '../target-port.ts';
import { REDACTED, type MaskFn } from './strategies.ts';
import type { ColumnMask, ColumnOutcome, MaskDecision, MaskedResult } from './types.ts';

/** A column either masked whole, scanned by the detectors, or passed through. */
export type CompiledColumn =
  | { readonly kind: 'mask'; readonly column: ColumnMask; readonly fn: MaskFn }
  | { readonly kind: 'scan'; readonly column: ColumnMask }
  | { readonly kind: 'pass'; readonly column: ColumnMask };

// Types whose text cannot hold anything a detector looks for: booleans, small integers, dates and
// times, intervals, UUIDs (and arrays of them). int8, numeric and float8 can hold a card number.
const UNSCANNED_TYPES = new Set([16, 21, 23, 26, 700, 1082, 1083, 1114, 1184, 1186, 1266, 2950, 1000, 1005, 1007, 1028, 1021, 1182, 1115, 1185, 1187, 1270, 2951]);

export function compileColumn(column: ColumnMask, dataTypeID: number, fn: MaskFn | undefined, detectors: Detectors): CompiledColumn {
  if (fn !== undefined) return { kind: 'mask', column, fn };
  if (detectors.enabled.size === 0 || UNSCANNED_TYPES.has(dataTypeID)) return { kind: 'pass', column };
  return { kind: 'scan', column };
}

/** Per column, per detector: how many cells it changed. */
type Hits = Map<DetectorName, number>;

export function applyCompiled(compiled: readonly CompiledColumn[], detectors: Detectors, rows: readonly (readonly unknown[])[]): MaskedResult {
  const width = compiled.length;
  const masked = new Array<number>(width).fill(0);
  const hits: (Hits | undefined)[] = new Array(width).fill(undefined);
  const out: unknown[][] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const copy = new Array<unknown>(width);
    for (let c = 0; c < width; c++) {
      const value = row[c];
      const col = compiled[c]!;
      if (col.kind === 'mask') {
        // A masked cell too long to keep (the byte budget): nothing of it is left to mask.
        if (value === null || value === undefined) copy[c] = null;
        else copy[c] = value === MASKED_CELL_NOT_KEPT ? (col.column.strategy === 'null' ? null : REDACTED) : col.fn(value);
        // Every cell of the column, NULL included: under `null` a NULL and a value come back
        // alike, and so must the recorded count (an event's size is answered: event_too_large).
        masked[c]!++;
      } else if (col.kind === 'pass' || value === null || value === undefined) {
        copy[c] = value ?? null;
      } else {
        const found: DetectorName[] = [];
        copy[c] = scanValue(value, detectors, found);
        if (found.length > 0) {
          let h = hits[c];
          if (h === undefined) hits[c] = h = new Map();
          for (const d of new Set(found)) h.set(d, (h.get(d) ?? 0) + 1);
        }
      }
    }
    out[r] = copy;
  }
  return { rows: out, decisions: decisions(compiled, masked, hits), columns: outcomes(compiled, hits) };
}

/** A value with every detected span masked; JSON is walked (keys too), other values returned as they are. */
export function scanValue(value: unknown, detectors: Detectors, found: DetectorName[]): unknown {
  if (typeof value === 'string') {
    const m = detectors.mask(value);
    if (m === undefined) return value;
    found.push(...m.found);
    return m.text;
  }
  if (typeof value === 'number') {
    // float8 can hold a 16-digit card number exactly; nothing shorter than 13 digits is one.
    if (Math.abs(value) < 1e12) return value;
    const m = detectors.mask(String(value));
    if (m === undefined) return value;
    found.push(...m.found);
    return REDACTED;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = scanValue(value[i], detectors, found);
      if (v !== value[i]) (copy ??= value.slice())[i] = v;
    }
    return copy ?? value;
  }
  if (typeof value === 'object' && value !== null) {
    let changed = false;
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // json_object_agg(email, …) puts values into keys.
      let key = k;
      const mk = detectors.mask(k);
      if (mk !== undefined) {
        found.push(...mk.found);
        key = mk.text;
        for (let n = 2; Object.hasOwn(copy, key); n++) key = `${mk.text} (${n})`;
        changed = true;
      }
      const mv = scanValue(v, detectors, found);
      if (mv !== v) changed = true;
      copy[key] = mv;
    }
    return changed ? copy : value;
  }
  return value;
}

function decisions(compiled: readonly CompiledColumn[], masked: readonly number[], hits: readonly (Hits | undefined)[]): MaskDecision[] {
  const out: MaskDecision[] = [];
  compiled.forEach((col, i) => {
    const { name, index, strategy, why, source } = col.column;
    if (col.kind === 'mask') {
      out.push({ column: name, index, strategy, why: why ?? 'provenance', ...(source && source.length > 0 ? { source: [...source] } : {}), cells: masked[i]! });
    }
    for (const [detector, cells] of hits[i] ?? []) {
      out.push({ column: name, index, strategy: detector === 'email' ? 'email' : 'redact', why: 'detector', detector, cells });
    }
  });
  return out;
}

function outcomes(compiled: readonly CompiledColumn[], hits: readonly (Hits | undefined)[]): ColumnOutcome[] {
  return compiled.map((col, i) => {
    const { name, strategy } = col.column;
    if (col.kind === 'mask' && strategy !== null) return { name, masked: true, mask: strategy };
    const h = hits[i];
    if (h === undefined || h.size === 0) return { name, masked: false };
    const mask: MaskStrategy = h.size === 1 && h.has('email') ? 'email' : 'redact';
    return { name, masked: true, mask };
  });
}
