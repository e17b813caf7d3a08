// Evidence for auditors (docs/design.md#evidence, issue 6): the public surface.
export { exportEvidence, type ExportOptions, type ExportSummary } from './export.ts';
export { verifyEvidence, type VerifyResult } from './verify.ts';
export { sampleEvidence, type SampleOptions, type SampleResult } from './sample.ts';
export { sessionFacts, storedResult, type SessionFacts } from './facts.ts';
export { PROBLEM_KINDS, type Problem, type ProblemKind } from './problems.ts';
export { MERKLE_DEFINITION, merkleLeaf, merkleRoot } from './merkle.ts';
export { FORMAT, FILES, type Manifest } from './manifest.ts';
