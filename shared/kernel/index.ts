export { authenticate, type BodyReader, type Caller, type RequestFacts, type TokenVerifier } from './caller.ts';
export { asGatehouseError, recordOrFail, SessionError, type SessionRecorder } from './record.ts';
