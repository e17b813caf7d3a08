// Google's own Firestore emulator for tests (DESIGN §4 "Local stand-ins for GCP"), started
// directly rather than through `gcloud`. Its launcher is a bash script that runs Java as a child
// (not exec), so a kill of the script's pid leaves Java running: the emulator gets a process group
// of its own, and stopping signals the whole group.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.ts';
import { stopGroup, waitUntilAnswering } from './process-group.ts';

export const FIRESTORE_EMULATOR_DIR = '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator';
export const FIRESTORE_EMULATOR_BIN = `${FIRESTORE_EMULATOR_DIR}/cloud_firestore_emulator`;

export interface FirestoreEmulator {
  /** `127.0.0.1:PORT`, the form FIRESTORE_EMULATOR_HOST takes. */
  readonly host: string;
  /** Milliseconds from spawn to the first answer. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** Why the emulator cannot run here, or undefined when it can. */
export function firestoreEmulatorMissing(bin = FIRESTORE_EMULATOR_BIN): string | undefined {
  if (!existsSync(bin)) return `${bin} not found (install the Google Cloud CLI with the cloud-firestore-emulator component)`;
  return undefined;
}

export async function startFirestoreEmulator(options: { bin?: string; startTimeoutMs?: number } = {}): Promise<FirestoreEmulator> {
  const bin = options.bin ?? FIRESTORE_EMULATOR_BIN;
  const missing = firestoreEmulatorMissing(bin);
  if (missing) throw new Error(`Firestore emulator unavailable: ${missing}`);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const started = performance.now();
  // Data lives in memory only and goes with the process. Tests isolate themselves with a
  // database id of their own: named databases in the emulator are separate.
  const child = spawn(bin, ['start', '--host=127.0.0.1', `--port=${port}`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
  });
  // Kept for the error message only: the emulator is chatty, and a start that fails says why here.
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A spawn failure (ENOENT, EACCES) arrives as an event; without a listener it would crash us.
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  const stop = () => stopGroup(child);
  try {
    await waitUntilAnswering(host, child, options.startTimeoutMs ?? 60_000, () => spawnError);
  } catch (e) {
    await stop();
    throw new Error(`Firestore emulator did not start: ${e instanceof Error ? e.message : String(e)}\n${output}`);
  }
  return { host, startMs: Math.round(performance.now() - started), stop };
}
