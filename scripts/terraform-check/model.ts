// The Terraform tree as data: every .tf file of the given folders parsed with HashiCorp's own HCL
// parser (compiled to WASM in @cdktf/hcl2json), then flattened into blocks a rule can walk. No
// terraform binary is needed, so CI can check what the deployment grants without a GCP project.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

// Loaded without its type declarations: they pull the DOM library into the whole program.
const hcl2json = createRequire(import.meta.url)('@cdktf/hcl2json') as { parse(filename: string, contents: string): Promise<unknown> };

/** One HCL file (a .tf or a .tfvars) as JSON. */
export const parseHcl = (filename: string, contents: string): Promise<unknown> => hcl2json.parse(filename, contents);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One `resource` / `data` block: `google_x.name`, its file, and its body as hcl2json gives it. */
export interface Block {
  readonly kind: 'resource' | 'data';
  readonly type: string;
  readonly name: string;
  readonly file: string;
  readonly body: Record<string, Json>;
}

export interface TerraformModel {
  readonly blocks: readonly Block[];
  /** Every `locals` entry of every file, by name. */
  readonly locals: Readonly<Record<string, Json>>;
  readonly variables: readonly { readonly name: string; readonly file: string; readonly body: Record<string, Json> }[];
  readonly outputs: readonly { readonly name: string; readonly file: string; readonly body: Record<string, Json> }[];
  /** Each file's parsed JSON, for rules that scan everything. */
  readonly files: readonly { readonly file: string; readonly json: Json }[];
}

export class TerraformParseError extends Error {
  override readonly name = 'TerraformParseError';
}

export async function loadTerraform(dirs: readonly string[], root = process.cwd()): Promise<TerraformModel> {
  const blocks: Block[] = [];
  const locals: Record<string, Json> = {};
  const variables: TerraformModel['variables'][number][] = [];
  const outputs: TerraformModel['outputs'][number][] = [];
  const files: { file: string; json: Json }[] = [];
  for (const dir of dirs) {
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.tf')).sort()) {
      const path = join(dir, name);
      const file = relative(root, path);
      let json: Record<string, Json>;
      try {
        json = (await parseHcl(name, readFileSync(path, 'utf8'))) as Record<string, Json>;
      } catch (e) {
        throw new TerraformParseError(`${file}: ${(e as Error).message}`);
      }
      files.push({ file, json });
      for (const kind of ['resource', 'data'] as const) {
        for (const [type, byName] of entries(json[kind])) {
          for (const [blockName, bodies] of entries(byName)) {
            for (const body of asArray(bodies)) blocks.push({ kind, type, name: blockName, file, body: asObject(body) });
          }
        }
      }
      for (const l of asArray(json.locals ?? [])) Object.assign(locals, asObject(l));
      for (const [n, bodies] of entries(json.variable)) variables.push({ name: n, file, body: asObject(asArray(bodies)[0] ?? {}) });
      for (const [n, bodies] of entries(json.output)) outputs.push({ name: n, file, body: asObject(asArray(bodies)[0] ?? {}) });
    }
  }
  return { blocks, locals, variables, outputs, files };
}

/** `${ expr }` → `expr`, when the whole string is one interpolation; otherwise undefined. */
export function soleExpression(value: Json | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\$\{([^]*)\}$/.exec(value);
  return m && !m[1]!.includes('${') ? m[1]!.trim() : undefined;
}

/** Every string inside a value, with the path that leads to it. */
export function* strings(value: Json, path = ''): Generator<{ path: string; value: string }> {
  if (typeof value === 'string') yield { path, value };
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, `${path}[${i}]`);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* strings(v, path ? `${path}.${k}` : k);
}

/** A nested block (`condition { … }`) as hcl2json gives it: a one-element array of objects. */
export function nested(body: Record<string, Json>, key: string): Record<string, Json> | undefined {
  const v = body[key];
  const first = Array.isArray(v) ? v[0] : v;
  return first && typeof first === 'object' && !Array.isArray(first) ? first : undefined;
}

const entries = (v: Json | undefined): [string, Json][] => (v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v) : []);
const asArray = (v: Json): Json[] => (Array.isArray(v) ? v : [v]);
const asObject = (v: Json): Record<string, Json> => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
