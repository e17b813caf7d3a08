// The real terraform/ tree, or a copy of it with one edit, loaded as the checks see it.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTerraform, type TerraformModel } from '../../scripts/terraform-check/model.ts';
import { checkTerraform, type Finding } from '../../scripts/terraform-check/rules.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const MODULE = 'terraform/modules/gatehouse';
export const EXAMPLE = 'terraform/example';

export const loadReal = (): Promise<TerraformModel> => loadTerraform([join(ROOT, MODULE), join(ROOT, EXAMPLE)], ROOT);

export interface Edit {
  /** Relative to terraform/modules/gatehouse. */
  readonly file: string;
  /** Text to replace (must occur), or undefined to append `to`. */
  readonly from?: string;
  readonly to: string;
}

/** The checks' findings on a copy of the module with the edits applied. */
export async function findingsAfter(...edits: Edit[]): Promise<Finding[]> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tf-'));
  try {
    cpSync(join(ROOT, MODULE), dir, { recursive: true });
    for (const e of edits) {
      const path = join(dir, e.file);
      const text = (() => {
        try {
          return readFileSync(path, 'utf8');
        } catch {
          return '';
        }
      })();
      if (e.from !== undefined && !text.includes(e.from)) throw new Error(`fixture: ${e.file} does not contain ${JSON.stringify(e.from)}`);
      writeFileSync(path, e.from === undefined ? `${text}\n${e.to}\n` : text.replace(e.from, e.to));
    }
    return checkTerraform(await loadTerraform([dir], dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const codes = (findings: readonly Finding[]): string[] => [...new Set(findings.map((f) => f.code))].sort();
