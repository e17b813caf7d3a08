// Google's own Firestore emulator for tests (docs/design.md#local-stand-ins-for-gcp), started
// directly rather than through `gcloud`. Its launcher is a bash script that runs Java as a child
// (not exec), so a kill of the script's pid leaves Java running: the emulator gets a process group
// of its own, and stopping signals the whole group.
import { existsSync } from 'node:fs';
import { startEmulatorProcess } from './process-group.ts';

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
  // Data lives in memory only and goes with the process. Tests isolate themselves with a
  // database id of their own: named databases in the emulator are separate.
  return startEmulatorProcess({ name: 'Firestore emulator', bin, args: (port) => ['start', '--host=127.0.0.1', `--port=${port}`], startTimeoutMs: options.startTimeoutMs });
}
