// The fan-out of functions/notify.ts: post an approval request to people (Slack, a webhook), once.
// Pub/Sub delivers at least once, and the republisher may publish a second message for the same
// approval, so "once" is kept in the ApprovalStore: which channels have been posted (per
// approval), which message ids were handled, and a lease while a delivery is posting. A delivery
// that finds another one's lease still running refuses (the message comes back later) rather
// than acknowledging: if that other one crashed, its post must not be lost.
import { randomUUID } from 'node:crypto';
import type { ApprovalStore } from './ports.ts';
import type { ApprovalNotice } from './message.ts';
import { shortError } from './publish.ts';
import { isMalformedRow } from './record.ts';
import { statusAt } from './state.ts';
import type { Approval } from './types.ts';

export interface DeliveryChannel {
  /** Stable: it keys what was posted (`slack`, `webhook`). */
  readonly name: string;
  /** Posts the notice, retrying within its own bounds; rejects when it could not. */
  post(notice: ApprovalNotice): Promise<void>;
}

export interface DeliveryDeps {
  readonly store: ApprovalStore;
  readonly channels: readonly DeliveryChannel[];
  readonly clock: () => Date;
  /** How long a delivery may post before another may take over; longer than a channel's retries. */
  readonly leaseMs?: number;
  readonly newToken?: () => string;
}

export type DeliveryOutcome =
  | { readonly kind: 'posted'; readonly channels: readonly string[] }
  | { readonly kind: 'skipped'; readonly reason: 'unknown_approval' | 'not_pending' | 'already_posted' | 'no_channels' | 'row_malformed' };

/** Thrown to have the message delivered again later (the Functions Framework answers 500). */
export class DeliveryIncomplete extends Error {
  override readonly name = 'DeliveryIncomplete';
}

const HANDLED_KEPT = 20;

export async function deliverApprovalNotice(deps: DeliveryDeps, notice: ApprovalNotice, messageId: string): Promise<DeliveryOutcome> {
  const { store, channels, clock } = deps;
  const leaseMs = deps.leaseMs ?? 120_000;
  const token = (deps.newToken ?? randomUUID)();
  if (channels.length === 0) return { kind: 'skipped', reason: 'no_channels' };

  // 1. Claim the approval for this delivery, or find there is nothing to do.
  let skip: DeliveryOutcome | undefined;
  let busy = false;
  let todo: DeliveryChannel[] = [];
  const claimApproval = () => store.update(notice.approvalId, (a) => {
    skip = undefined;
    busy = false;
    const now = clock();
    todo = channels.filter((c) => !Object.hasOwn(a.delivery.posted, c.name));
    if (todo.length === 0 || a.delivery.handled.includes(messageId)) {
      skip = { kind: 'skipped', reason: 'already_posted' };
      return a.delivery.handled.includes(messageId) ? a : handled(a, messageId);
    }
    if (statusAt(a, now) !== 'pending') {
      // Decided or expired before anyone was told: telling them now would only mislead.
      skip = { kind: 'skipped', reason: 'not_pending' };
      return handled(a, messageId);
    }
    const claim = a.delivery.claim;
    if (claim && Date.parse(claim.until) > now.getTime()) {
      busy = true;
      return a;
    }
    return { ...a, delivery: { ...a.delivery, claim: { token, messageId, until: new Date(now.getTime() + leaseMs).toISOString() } } };
  });
  let claimed: Approval | undefined;
  try {
    claimed = await claimApproval();
  } catch (e) {
    // An approval whose stored row was edited into something malformed (record.ts) is never
    // posted — its text is whatever the editor wrote — and never will be: acknowledged, not
    // thrown, or Pub/Sub would deliver the message again forever.
    if (isMalformedRow(e)) return { kind: 'skipped', reason: 'row_malformed' };
    throw e;
  }
  if (claimed === undefined) return { kind: 'skipped', reason: 'unknown_approval' };
  if (skip) return skip;
  if (busy) throw new DeliveryIncomplete(`approval ${notice.approvalId}: another delivery is posting it; try again later`);

  // 2. Post to each channel not yet posted; record each success at once, so a retry skips it.
  const failed: string[] = [];
  const posted: string[] = [];
  for (const channel of todo) {
    try {
      await channel.post(notice);
    } catch (e) {
      failed.push(`${channel.name} (${shortError(e)})`);
      continue;
    }
    posted.push(channel.name);
    const at = clock().toISOString();
    await store.update(notice.approvalId, (a) =>
      Object.hasOwn(a.delivery.posted, channel.name)
        ? a
        : { ...a, delivery: { ...a.delivery, posted: { ...a.delivery.posted, [channel.name]: { at, messageId } } } },
    );
  }

  // 3. Release the lease; the message is handled when nothing failed.
  await store.update(notice.approvalId, (a) => {
    const { claim, ...rest } = a.delivery;
    const released = claim?.token === token ? { ...a, delivery: rest } : a;
    return failed.length === 0 ? handled(released, messageId) : released;
  });
  if (failed.length > 0) throw new DeliveryIncomplete(`approval ${notice.approvalId}: posting failed for ${failed.join(', ')}`);
  return { kind: 'posted', channels: posted };
}

function handled(a: Approval, messageId: string): Approval {
  const kept = [...a.delivery.handled.filter((m) => m !== messageId), messageId].slice(-HANDLED_KEPT);
  return { ...a, delivery: { ...a.delivery, handled: kept } };
}
