export { createFirestoreSessionLog, type FirestoreSessionLogOptions } from './session-log.ts';
export { firestoreSettings } from './client.ts';
// The approval store (mutable, in the state database) lives in ../firestore-approvals/: this
// folder's files are checked never to call set, update or delete.
export { createFirestoreApprovalStore, type FirestoreApprovalStoreOptions } from '../firestore-approvals/index.ts';
