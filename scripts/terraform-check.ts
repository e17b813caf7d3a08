// `npm run check:terraform [DIR…]`: the IAM and durability rules of scripts/terraform-check/rules.ts
// on the deployment (default: the module and the example root). Exit 1 with every finding listed.
import { loadTerraform } from './terraform-check/model.ts';
import { checkTerraform } from './terraform-check/rules.ts';

const DEFAULT_DIRS = ['terraform/modules/gatehouse', 'terraform/example'];

const dirs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT_DIRS;
try {
  const model = await loadTerraform(dirs);
  const findings = checkTerraform(model);
  for (const f of findings) console.error(`${f.code}  ${f.where}  ${f.message}`);
  console.log(`${findings.length === 0 ? 'ok' : 'FAILED'}: ${model.blocks.length} blocks in ${model.files.length} files, ${findings.length} finding(s)`);
  process.exitCode = findings.length === 0 ? 0 : 1;
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 2;
}
