export { bearerToken } from './bearer.ts';
export type { VerifierOptions } from './options.ts';
export type { Principal } from './principal.ts';
export { createVerifier } from './verifier.ts';
