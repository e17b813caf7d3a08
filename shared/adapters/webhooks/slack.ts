// An approval request as a Slack incoming-webhook message: the statement, who asks and why it is
// held, and how to decide. Slack's mrkdwn treats &, < and > as markup, so request text is escaped
// (a bot's SQL must not be able to render a link of its choosing in the reviewers' channel).
import type { ApprovalNotice } from '../../approvals/message.ts';
import { describeEstimate } from '../../blast-radius/describe.ts';

const SQL_SHOWN = 2500; // a section's text may be 3000 characters

export function slackMessage(n: ApprovalNotice): Record<string, unknown> {
  const who = n.requester.email ?? n.requester.subject;
  const sql = n.sql.length > SQL_SHOWN ? `${n.sql.slice(0, SQL_SHOWN)}\n… (${n.sql.length} characters; see the review page)` : n.sql;
  const facts = [
    `*Requester:* ${esc(who)}${n.model ? ` (model ${esc(n.model)})` : ''}`,
    `*Connection:* ${esc(n.connection)}    *Risk:* ${esc(n.risk.class)}`,
    `*Rule:* ${esc(n.rule)} — needs ${n.quorum} of ${esc(n.approvers.join(', '))}`,
    `*Expires:* ${esc(n.expiresAt)}`,
    ...(n.estimate ? [`*Blast radius:* ${esc(describeEstimate(n.estimate))}`] : []),
  ].join('\n');
  const reasons = n.risk.reasons.slice(0, 5).map((r) => `• ${esc(r)}`).join('\n');
  return {
    text: `Gatehouse approval requested: ${n.risk.class} on ${n.connection} by ${who} (${n.approvalId})`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: 'Gatehouse: approval requested' } },
      { type: 'section', text: { type: 'mrkdwn', text: facts } },
      { type: 'section', text: { type: 'mrkdwn', text: '```' + esc(sql).replaceAll('```', '`\u200b``') + '```' } },
      ...(reasons ? [{ type: 'section', text: { type: 'mrkdwn', text: reasons } }] : []),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `Review: ${esc(n.reviewUrl)} · decide with \`gatehouse approvals approve ${esc(n.approvalId)} --comment "…"\` (or \`reject\`)`,
          },
        ],
      },
    ],
  };
}

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
