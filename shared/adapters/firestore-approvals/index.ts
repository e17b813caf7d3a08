export { createFirestoreApprovalStore, type FirestoreApprovalStoreOptions } from './approval-store.ts';
