// cloudbuild.yaml as Cloud Build will read it: the steps issue 7 asks for, in order, each naming a
// script or npm script that exists; the plan saved as an artifact; apply of that saved plan, and
// only on main. (Cloud Build itself cannot run here; this is what can be proven without it.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { ROOT } from './fixtures.ts';

interface Step {
  id: string;
  name: string;
  entrypoint?: string;
  args: string[];
  dir?: string;
  env?: string[];
}
const build = parse(readFileSync(join(ROOT, 'cloudbuild.yaml'), 'utf8')) as {
  steps: Step[];
  artifacts: { objects: { location: string; paths: string[] } };
  substitutions: Record<string, string>;
};
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const command = (s: Step) => [s.entrypoint ?? '', ...s.args].join(' ');
const step = (id: string) => {
  const s = build.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};

test('the steps run in the order issue 7 gives', (t) => {
  t.deepEqual(
    build.steps.map((s) => s.id),
    ['install', 'typecheck', 'test', 'build', 'check-terraform', 'terraform-init', 'terraform-validate', 'terraform-plan', 'terraform-apply'],
  );
  t.is(command(step('install')), 'npm ci');
});

test('every npm script and repository script a step runs exists', (t) => {
  for (const s of build.steps) {
    for (const m of command(s).matchAll(/npm (?:run )?([\w:-]+)/g)) {
      const script = m[1]!;
      if (script === 'ci' || script === 'run') continue;
      t.true(script in pkg.scripts, `${s.id}: npm script ${script}`);
    }
    for (const m of command(s).matchAll(/\b(scripts\/[\w./-]+)/g)) t.true(existsSync(join(ROOT, m[1]!)), `${s.id}: ${m[1]}`);
  }
  t.is(command(step('test')), 'bash -c bash scripts/install-ci-services.sh && npm test');
  t.true(step('test').env?.includes('GATEHOUSE_REQUIRE_SERVICES=1'), 'a missing service fails the build instead of skipping suites');
});

test('the deployed policy is the substitution the build is given', (t) => {
  t.deepEqual(step('build').args, ['run', 'build', '--', '--policy', '${_POLICY}']);
  t.true(existsSync(join(ROOT, build.substitutions._POLICY!)), build.substitutions._POLICY);
  t.true(existsSync(join(ROOT, build.substitutions._TF_DIR!, 'main.tf')));
});

test('the plan is saved, kept as an artifact, and exactly that plan is applied, on main only', (t) => {
  const plan = command(step('terraform-plan'));
  t.regex(plan, /terraform plan [^&]*-out=tfplan/);
  t.true(build.artifacts.objects.paths.includes('${_TF_DIR}/tfplan'));
  const apply = command(step('terraform-apply'));
  t.regex(apply, /if \[ "\$BRANCH_NAME" = "main" \]; then\s+terraform apply -input=false tfplan\s+else/);
  t.notRegex(apply, /-auto-approve|terraform apply(?! -input=false tfplan)/, 'nothing but the saved plan is applied');
  for (const id of ['terraform-init', 'terraform-validate', 'terraform-plan', 'terraform-apply']) t.is(step(id).dir, '${_TF_DIR}', id);
});
