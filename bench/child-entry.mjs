// Entry of the evidence bench's child processes. tsx is registered here, in this thread only:
// with `--import tsx` every worker thread verify starts would inherit the loader, which
// `gatehouse evidence verify` (compiled, from dist/) never has. Plain JavaScript for that reason.
import { register } from 'tsx/esm/api';

register();
await import('./evidence.ts');
