// Google's own emulators for tests (docs/design.md#local-stand-ins-for-gcp). The launcher script in
// the Cloud SDK execs a Java child that outlives a plain kill of the script, so each emulator runs
// in a process group of its own and is stopped by signalling the whole group.
import { existsSync } from 'node:fs';
import { startEmulatorProcess } from './process-group.ts';

export const PUBSUB_EMULATOR_BIN = '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

export interface RunningEmulator {
  /** `127.0.0.1:PORT`, the form PUBSUB_EMULATOR_HOST and the client's `apiEndpoint` take. */
  readonly host: string;
  stop(): Promise<void>;
}

/** Why the Pub/Sub emulator cannot run here, or undefined when it can. */
export function pubSubEmulatorMissing(bin = PUBSUB_EMULATOR_BIN): string | undefined {
  if (!existsSync(bin)) return `${bin} not found (install the Google Cloud CLI with the pubsub-emulator component)`;
  return undefined;
}

export async function startPubSubEmulator(options: { bin?: string; startTimeoutMs?: number } = {}): Promise<RunningEmulator> {
  const bin = options.bin ?? PUBSUB_EMULATOR_BIN;
  const missing = pubSubEmulatorMissing(bin);
  if (missing) throw new Error(`Pub/Sub emulator unavailable: ${missing}`);
  return startEmulatorProcess({ name: 'Pub/Sub emulator', bin, args: (port) => ['--host=127.0.0.1', `--port=${port}`], startTimeoutMs: options.startTimeoutMs });
}
