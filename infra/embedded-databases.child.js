// Child-process entry for infra/embedded-databases.ts: load TypeScript through tsx, then run.
import { register } from 'tsx/esm/api';

register();
await import('./embedded-databases-main.ts');
