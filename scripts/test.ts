// `npm test`: start what the tests need, run ava with any arguments given, stop it all afterwards.
// Services are started once here rather than per test file: initdb costs seconds, and each test
// file gets its own database inside the one cluster (test/helpers/pg.ts).
import { spawn } from 'node:child_process';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';

const pg = await startTestPostgres();
console.log(`test services: ${pg.kind === 'postgres' ? 'PostgreSQL cluster' : 'PGlite (no PostgreSQL binaries found)'} at ${pg.url}`);

const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, GATEHOUSE_TEST_PG_URL: pg.url, GATEHOUSE_TEST_PG_KIND: pg.kind },
});
const stopAll = async () => {
  await pg.stop().catch((e: unknown) => console.error('stopping test PostgreSQL failed:', e));
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => child.kill(sig));
}
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await stopAll();
process.exit(code);
