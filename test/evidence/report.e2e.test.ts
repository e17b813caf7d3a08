// report.html in a real browser (Debian's chromium driven by playwright-core): offline — every
// request other than the file itself is blocked and recorded — with the right sessions, filters
// that work, a replay that shows the stored (masked) result, and hostile SQL rendered as text.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { DBA, HOSTILE_SQL, RAW_EMAIL, startEvidenceFixture, type EvidenceFixture, DESK_PUBLIC_KEY } from './fixture.ts';

const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

if (!existsSync(CHROMIUM)) {
  const reason = `${CHROMIUM} is not installed (Debian: apt-get install -y chromium; or set GATEHOUSE_CHROMIUM)`;
  console.error(`\n!!! report.html browser tests SKIPPED: ${reason} !!!\n`);
  if (process.env.GATEHOUSE_REQUIRE_CHROMIUM === '1') test('report.html renders in Chromium', (t) => t.fail(`GATEHOUSE_REQUIRE_CHROMIUM=1 but ${reason}`));
  else test.skip(`report.html renders in Chromium — SKIPPED: ${reason}`, () => {});
} else {
  registerBrowserTests();
}

function registerBrowserTests(): void {
  let fx: EvidenceFixture;
  let browser: Browser;
  let root: string;
  let full: string;
  let small: string;

  test.before(async () => {
    fx = await startEvidenceFixture();
    root = mkdtempSync(join(tmpdir(), 'gatehouse-report-'));
    full = join(root, 'full');
    small = join(root, 'small');
    await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out: full, source: 'test' });
    await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out: small, source: 'test', report: { maxSessions: 5 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  test.after.always(async () => {
    await browser?.close();
    await fx?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** The report open in a fresh, offline context; what it tried to fetch and any dialog it raised. */
  async function open(dir: string, hash = ''): Promise<{ page: Page; requests: string[]; dialogs: string[]; errors: string[] }> {
    const context = await browser.newContext({ offline: true, javaScriptEnabled: true });
    const requests: string[] = [];
    const dialogs: string[] = [];
    const errors: string[] = [];
    const file = pathToFileURL(join(dir, 'report.html')).href;
    // Blocks everything but the file; records every request the page makes, blocked or not.
    await context.route('**/*', (route) => (route.request().url() === file ? route.continue() : route.abort('blockedbyclient')));
    const page = await context.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(file + hash);
    await page.waitForSelector('body[data-browser-check]');
    return { page, requests, dialogs, errors };
  }

  const rows = (page: Page) => page.locator('[data-testid=session-row]');

  test('it lists every session, opens offline, and re-verifies the embedded chains in the browser', async (t) => {
    const { page, requests, errors } = await open(full);
    t.is(await rows(page).count(), fx.made.length);
    t.is(await page.getByTestId('match-count').textContent(), `${fx.made.length} of ${fx.made.length} embedded sessions match`);
    t.is(await page.getAttribute('body', 'data-browser-check'), 'ok');
    await page.click('nav a[href="#verification"]');
    t.is(await page.getByTestId('browser-check').textContent(), `${fx.made.length} of ${fx.made.length} embedded chains re-verified in this browser`);
    t.regex((await page.getByTestId('export-status').textContent()) ?? '', /every chain verified/);
    t.deepEqual(requests, [pathToFileURL(join(full, 'report.html')).href], 'nothing but the file itself was requested');
    t.deepEqual(errors, []);
  });

  test('filters: decision, identity, risk class, text, date range', async (t) => {
    const { page } = await open(full);
    await page.selectOption('[data-testid=filter-decision]', 'deny');
    t.is(await rows(page).count(), 2);
    t.is(await page.getByTestId('match-count').textContent(), `2 of ${fx.made.length} embedded sessions match`);
    await page.selectOption('[data-testid=filter-decision]', '');
    await page.selectOption('[data-testid=filter-identity]', DBA);
    t.is(await rows(page).count(), 1);
    t.is(await rows(page).first().getAttribute('data-session'), fx.byKind('dba-write').sessionId);
    await page.selectOption('[data-testid=filter-identity]', '');
    await page.selectOption('[data-testid=filter-risk]', 'destructive');
    t.is(await rows(page).count(), 1);
    await page.selectOption('[data-testid=filter-risk]', '');
    await page.fill('[data-testid=filter-text]', 'customers');
    t.is(await rows(page).count(), 2, 'the PII read and the masked read');
    await page.fill('[data-testid=filter-text]', '');
    await page.fill('[data-testid=filter-from]', '2999-01-01');
    t.is(await rows(page).count(), 0);
    await page.fill('[data-testid=filter-from]', fx.from.toISOString().slice(0, 10));
    t.is(await rows(page).count(), fx.made.length);
  });

  test('replay: who, what, decision, and the result table exactly as stored', async (t) => {
    const id = fx.byKind('read').sessionId;
    const { page } = await open(full);
    await page.click(`[data-session="${id}"] a`);
    const replay = page.getByTestId('replay');
    await replay.waitFor();
    const text = (await replay.textContent()) ?? '';
    for (const s of ['review-bot@acme-prod.iam.gserviceaccount.com', 'gemini-2.5-pro-002', 'run-42', 'bots-read', fx.gw.runtime.policy.sha256, 'READ ONLY']) t.true(text.includes(s), s);
    t.is(await page.getByTestId('replay-sql').textContent(), 'SELECT id, total FROM orders WHERE id <= $1 ORDER BY id');
    const cells = await page.locator('[data-testid=result-table] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    t.deepEqual(cells, [['1', '1.50'], ['2', '3.00'], ['3', '4.50']]);
  });

  for (const kind of ['pii-read', 'masked']) {
    test(`replay of a masked result shows the masked values only, with which column and why (${kind})`, async (t) => {
      const { page } = await open(full, `#session=${encodeURIComponent(fx.byKind(kind).sessionId)}`);
      await page.getByTestId('replay').waitFor();
      const table = page.getByTestId('result-table');
      t.is(await table.locator('th[data-masked]').count(), 1);
      t.regex((await table.locator('th[data-masked]').textContent()) ?? '', /email.*masked: email/);
      const cells = await table.locator('tbody td').allTextContents();
      t.deepEqual(cells, ['Ada', '***@example.com', 'Grace', '***@example.com']);
      // What the page shows (innerText), not the embedded data of other sessions.
      const all = await page.locator('main').innerText();
      t.false(all.includes(RAW_EMAIL));
      t.regex(all, /email → email \(provenance: public\.customers\.email\)/);
    });
  }

  test('replay of an approved write: the approver, the comment, and that it came before execution', async (t) => {
    const { page } = await open(full, `#session=${encodeURIComponent(fx.byKind('redeemed').sessionId)}`);
    const approvals = page.getByTestId('approvals');
    await approvals.waitFor();
    const text = (await approvals.textContent()) ?? '';
    t.true(text.includes(DBA));
    t.true(text.includes('checked the WHERE clause: one row'));
    t.is(await approvals.locator('.badge.good').textContent(), 'yes');
  });

  test('hostile SQL and result values render as text: no script runs, no element is injected', async (t) => {
    const { page, dialogs, requests } = await open(full);
    await page.fill('[data-testid=filter-text]', 'onerror');
    t.is(await rows(page).count(), 1);
    await rows(page).first().locator('a').click();
    await page.getByTestId('replay').waitFor();
    t.is(await page.getByTestId('replay-sql').textContent(), HOSTILE_SQL);
    const cells = await page.locator('[data-testid=result-table] tbody td').allTextContents();
    t.deepEqual(cells, ['</script><script>alert(1)</script>', '<img src=x onerror=alert(2)>']);
    t.is(await page.locator('img').count(), 0);
    t.is(await page.locator('script').count(), 3, 'the two data blocks and the client, nothing more');
    await page.waitForTimeout(200);
    t.deepEqual(dialogs, []);
    t.is(requests.length, 1);
  });

  test('SOC 2 page: the seven criteria with evidence and counts from this export', async (t) => {
    const { page } = await open(full, '#soc2');
    await page.getByTestId('soc2').waitFor();
    t.deepEqual(await page.locator('article.criterion').evaluateAll((as) => as.map((a) => a.getAttribute('data-criterion'))), ['CC6.1', 'CC6.2', 'CC6.3', 'CC6.6', 'CC7.2', 'CC8.1', 'C1.1']);
    const cc81 = (await page.locator('[data-criterion="CC8.1"]').textContent()) ?? '';
    t.regex(cc81, /approvals granted1/);
    t.regex(cc81, /… of which with a granted approval1/);
    const cc61 = (await page.locator('[data-criterion="CC6.1"]').textContent()) ?? '';
    t.regex(cc61, new RegExp(`statements recorded${fx.made.length}`));
  });

  test('a bounded report embeds the most recent sessions and says so', async (t) => {
    const { page } = await open(small);
    t.is(await rows(page).count(), 5);
    t.regex((await page.textContent('main')) ?? '', new RegExp(`embeds the 5 most recent of the ${fx.made.length} sessions`));
    const newest = fx.made.at(-1)!.sessionId;
    t.is(await rows(page).first().getAttribute('data-session'), newest);
  });
}
