// The "before" of lazy loading, for bench/cold-start.ts: preloaded with node --import, it imports
// every Google client library up front, as a module importing them at its top would.
await Promise.all([
  import('@google-cloud/firestore'),
  import('@google-cloud/pubsub'),
  import('@google-cloud/secret-manager'),
  import('google-auth-library'),
]);
