export type {
  AgentsConfig,
  ConnectionConfig,
  Decision,
  IssuerConfig,
  MaskingConfig,
  MaskStrategy,
  Policy,
  Rule,
  RuleAction,
} from './types.ts';
export { loadPolicy, parsePolicy, type PolicyProblem } from './load.ts';
export { checkAgentModel, decide, globMatches, principalMatches, type DecideInput, type ModelCheck } from './decide.ts';
export {
  DEFAULT_APPROVAL_TTL_MS,
  DETECTORS,
  GOOGLE_ISSUER,
  MASK_STRATEGIES,
  MAX_MODEL_LENGTH,
  RULE_ACTIONS,
  policyFileSchema,
  validatePolicyFile,
  type PolicyFile,
  type SchemaProblem,
} from './schema.ts';
