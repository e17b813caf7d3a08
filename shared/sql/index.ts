export { analyze, inspect, type Inspected } from './analyze.ts';
export { resolveAnalysis, resolveCalls, type ResolvePorts } from './resolve.ts';
export { HARMLESS_VOLATILE, REFUSED_BUILTINS, routineVerdict, type ListedFunctions } from './allowlist.ts';
export { normalizeSignature, signatureOf, type Routine, type RoutineCatalog } from './routines.ts';
export { loadParser } from './parse.ts';
export { RISK_CLASSES, type Analysis, type RiskClass } from './analysis.ts';
export { SEVERITY } from './finding.ts';
export { SIDE_EFFECT_FUNCTIONS, sideEffectOf } from './side-effect-functions.ts';
