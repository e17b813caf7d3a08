export { analyze } from './analyze.ts';
export { loadParser } from './parse.ts';
export { RISK_CLASSES, type Analysis, type RiskClass } from './analysis.ts';
export { SEVERITY } from './finding.ts';
export { SIDE_EFFECT_FUNCTIONS, sideEffectOf } from './side-effect-functions.ts';
