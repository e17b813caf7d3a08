// The ApprovalNotifier of embedded mode (`gatehouse start`): no Pub/Sub, so a request is written
// to the console for whoever runs the server, and — when webhooks are configured — fanned out in
// this process by the same delivery code the notify function runs (so it posts once, too).
import { randomUUID } from 'node:crypto';
import type { ApprovalNotice, OutgoingMessage } from '../../approvals/message.ts';
import type { ApprovalNotifier } from '../../ports.ts';

export interface LocalNotifierOptions {
  readonly log?: (line: string) => void;
  /** In-process fan-out (webhooks); runs after publish returns, errors are logged. */
  readonly deliver?: (notice: ApprovalNotice, messageId: string) => Promise<unknown>;
  readonly newId?: () => string;
}

export function createLocalNotifier(options: LocalNotifierOptions = {}): ApprovalNotifier {
  const log = options.log ?? ((line: string) => console.log(line));
  const newId = options.newId ?? (() => `local-${randomUUID()}`);
  const inFlight = new Set<Promise<unknown>>();
  return {
    async publish(message: OutgoingMessage): Promise<string> {
      const n = message.body;
      const id = newId();
      log(
        `[gatehouse] approval ${n.approvalId} requested: ${n.risk.class} on ${n.connection} by ${n.requester.email ?? n.requester.subject}` +
          ` — needs ${n.quorum} of ${n.approvers.join(', ')} by ${n.expiresAt}\n` +
          `[gatehouse]   review: npx gatehouse approvals show ${n.approvalId}   (${n.reviewUrl})`,
      );
      const deliver = options.deliver;
      if (deliver) {
        const p = deliver(n, id)
          .catch((e: unknown) => log(`[gatehouse] approval ${n.approvalId}: webhook delivery failed: ${e instanceof Error ? e.message : String(e)}`))
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      return id;
    },
    async close() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
