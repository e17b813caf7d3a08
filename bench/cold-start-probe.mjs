// Preloaded into a function process by bench/cold-start.ts (node --import): on SIGUSR2, writes
// which Google client libraries this process has loaded to the file named by
// GATEHOUSE_BENCH_PROBE_OUT. Plain JS, so it costs nothing to load and adds no transpiling.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const LIBS = ['@google-cloud/firestore', '@google-cloud/pubsub', '@google-cloud/secret-manager', 'google-auth-library'];
const require = createRequire(import.meta.url);
process.on('SIGUSR2', () => {
  const files = Object.keys(require.cache);
  const loaded = LIBS.filter((lib) => files.some((f) => f.includes(`/node_modules/${lib}/`)));
  writeFileSync(process.env.GATEHOUSE_BENCH_PROBE_OUT, JSON.stringify(loaded));
});
