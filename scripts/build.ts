// `npm run build [-- --policy FILE] [--out DIR]`: the deployable source of the four Cloud Functions
// (functions/index.ts), compiled to plain JavaScript so the runtime needs no tsx. Paths are from
// the working directory (under npm, the repository root); defaults gatehouse.policy.yaml and
// build/functions. The output:
//   <out>/functions/index.js  <out>/shared/…  (with their .sql/.html/.css/.js assets)
//   <out>/package.json  <out>/package-lock.json  <out>/gatehouse.policy.yaml
// The functions read GATEHOUSE_POLICY, by default gatehouse.policy.yaml in the working directory,
// which on Cloud Functions is this folder. The policy is validated before anything is built, by
// the loader the functions use. The output is built beside <out> and renamed into place, so a
// failed build leaves no output at all rather than a partial one that looks deployable.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadPolicy } from '../shared/policy/index.ts';
import { checkOutDir, compile, copyAssets, listFiles, shown, totalBytes, writePackageFiles } from './build-steps.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const started = performance.now();
let staging: string | undefined;
try {
  const { values } = parseArgs({ options: { policy: { type: 'string' }, out: { type: 'string' } } });
  const out = resolve(values.out ?? join(root, 'build/functions'));
  const policyPath = resolve(values.policy ?? join(root, 'gatehouse.policy.yaml'));

  checkOutDir(root, out);
  rmSync(out, { recursive: true, force: true });
  const policy = await loadPolicy(policyPath);

  staging = `${out}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  compile(root, staging);
  copyAssets(root, staging);
  writePackageFiles(root, staging);
  const deployedPolicy = join(staging, 'gatehouse.policy.yaml');
  cpSync(policyPath, deployedPolicy);
  // The bytes deployed are the bytes validated (the file could change between the two reads).
  if (createHash('sha256').update(readFileSync(deployedPolicy)).digest('hex') !== policy.sha256) {
    throw new Error(`${policyPath} changed while the build read it; run the build again`);
  }
  renameSync(staging, out);
  staging = undefined;

  const files = listFiles(out);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`built ${shown(root, out)}/ in ${seconds} s: ${files.length} files, ${(totalBytes(out, files) / 1024).toFixed(0)} KiB`);
  console.log(`  entry point  functions/index.js (targets: query, approvals, notify, checkpoint)`);
  console.log(`  policy       gatehouse.policy.yaml from ${shown(root, policyPath)}, sha256 ${policy.sha256}`);
} catch (e) {
  if (staging) rmSync(staging, { recursive: true, force: true });
  console.error(`build failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
