export { createFirestoreSessionLog, type FirestoreSessionLogOptions } from './session-log.ts';
export { firestoreSettings } from './client.ts';
