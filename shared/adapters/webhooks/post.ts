// One JSON POST to a webhook, retried with backoff on what may pass (network errors, timeouts,
// 429, 5xx) and not on what will not (other 4xx). Webhook URLs are secrets — a Slack incoming
// webhook URL is the credential — so no error from here ever contains one.
import { setTimeout as delay } from 'node:timers/promises';

export interface PostOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** Per attempt. */
  readonly timeoutMs?: number;
  readonly attempts?: number;
  /** First delay between attempts; doubles each time. */
  readonly backoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly fetch?: typeof fetch;
}

export class WebhookError extends Error {
  override readonly name = 'WebhookError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export async function postJson(url: string, body: unknown, options: PostOptions = {}): Promise<void> {
  const { headers = {}, timeoutMs = 10_000, attempts = 4, backoffMs = 500, sleep = (ms) => delay(ms), fetch: doFetch = fetch } = options;
  const payload = JSON.stringify(body);
  let last: WebhookError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2));
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: payload,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      last = new WebhookError(`webhook answered ${res.status}`, res.status);
      if (res.status !== 429 && res.status < 500) throw last; // the request itself is wrong: retrying will not help
    } catch (e) {
      if (e instanceof WebhookError && e.status !== undefined && e.status !== 429 && e.status < 500) throw e;
      if (!(e instanceof WebhookError)) {
        // fetch's own errors can quote the URL: keep only their kind.
        const kind = e instanceof Error && e.name === 'TimeoutError' ? 'timed out' : 'could not be reached';
        last = new WebhookError(`webhook ${kind}`);
      }
    }
  }
  throw new WebhookError(`${last?.message ?? 'webhook failed'} (after ${attempts} attempts)`, last?.status);
}
