// Google's own emulators for tests (DESIGN §4 "Local stand-ins for GCP"). The launcher script in
// the Cloud SDK execs a Java child that outlives a plain kill of the script, so each emulator runs
// in a process group of its own and is stopped by signalling the whole group.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.ts';
import { stopGroup, waitUntilAnswering } from './process-group.ts';

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
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const child = spawn(bin, [`--host=127.0.0.1`, `--port=${port}`], {
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
  const stop = () => stopGroup(child);
  try {
    await waitUntilAnswering(host, child, options.startTimeoutMs ?? 60_000);
  } catch (e) {
    await stop();
    throw new Error(`Pub/Sub emulator did not start: ${e instanceof Error ? e.message : String(e)}\n${output}`);
  }
  return { host, stop };
}
