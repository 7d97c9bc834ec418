// The web console in a real browser: Debian's Chromium, driven by Playwright, against a Keel server on a random port
// with a scripted model. A session started through the API is watched live, its refund approved after an edit the
// schema first refuses, then its explain, replay, diff and audit views are opened. No page may log an error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeel } from '../../src/index.ts';
import type { Keel } from '../../src/index.ts';
import { createKeelServer, createServerLogger } from '../../src/server/create-server.ts';
import { startMockAnthropicServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';
import type { KeelServer } from '../../src/server/create-server.ts';
import { buildConsole, launchChromium, openPage, screenshot, startDroppingProxy } from './browser-harness.ts';
import type { DroppingProxy } from './browser-harness.ts';
import { createSupportAgent, createSupportModel, maxRefund, ModelPacer } from './fixtures/support-agent.ts';

let folder: string;
let keel: Keel;
let server: KeelServer;
let browser: Browser;
let url: string;
/** The browser reaches the server through this proxy, which the test can cut. */
let proxy: DroppingProxy;
/** The provider a counterfactual calls: a mock of Anthropic's Messages API. */
let anthropic: MockServer;
let adminKey: string;
const refunds: { order: string; amount: number }[] = [];
const pacer = new ModelPacer();

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'keel-console-'));
  const consoleFolder = join(folder, 'console');
  const [launched] = await Promise.all([launchChromium(), buildConsole(consoleFolder)]);
  browser = launched;
  keel = createKeel({ database: join(folder, 'keel.db'), model: createSupportModel(pacer) });
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  anthropic = await startMockAnthropicServer({ script: [{ content: [{ type: 'text', text: 'I would ask the customer before refunding.' }] }] });
  const env = { ANTHROPIC_API_KEY: 'console-test-key', ANTHROPIC_BASE_URL: anthropic.baseURL };
  server = createKeelServer({ keel, agents: [createSupportAgent(refunds)], consoleFolder, logger: createServerLogger(silent), rateLimit: false, env });
  adminKey = (await server.keys.create({ name: 'console test', tenant: 'default', roles: ['admin'], createdBy: null })).key;
  const listening = await server.listen({ port: 0 });
  proxy = await startDroppingProxy({ host: '127.0.0.1', port: listening.port });
  url = proxy.url;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await anthropic?.close();
  await server?.close();
  await keel?.close();
  if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
});

async function startSession(task: string): Promise<string> {
  const response = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'support', task }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The waterfall's step rows once there are at least `atLeast` of them. */
async function waterfallRows(page: Page, atLeast: number): Promise<number> {
  const rows = page.getByRole('table', { name: /Waterfall/ }).locator('tbody tr[data-kind]');
  await expect.poll(() => rows.count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(atLeast);
  return rows.count();
}

describe('the web console', () => {
  it('refuses a wrong key with the server’s reason and signs in with a good one', async () => {
    const { page, errors } = await openPage(browser);
    await signIn(page, 'keel_nope_nope');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/key/i);
    await page.getByLabel('API key').fill(adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    // The refused key's 401 is logged by Chromium as a failed resource load; nothing else may be.
    expect(errors.filter((error) => !/401/.test(error))).toEqual([]);
    await page.context().close();
  });

  it('watches a session live, approves an edited refund, and opens explain, replay, diff and audit', async () => {
    const { page, errors } = await openPage(browser);
    await signIn(page, adminKey);
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();

    const sessionId = await startSession('Refund order o-17, the customer was charged twice.');
    await page.goto(`${url}/sessions/${encodeURIComponent(sessionId)}`);
    await page.getByRole('heading', { name: `Session ${sessionId}` }).waitFor();

    // The waterfall grows as events arrive: first the turn with its model call drawn open (it waits for its answer)…
    const openModelCall = page.locator('tr[data-kind="model"][data-state="running"]');
    await openModelCall.waitFor();
    const first = await waterfallRows(page, 3);
    // The connection drops while the model thinks; the page reconnects with Last-Event-ID.
    const dropped = proxy.dropAll();
    expect(dropped).toBeGreaterThan(0);
    await page.getByText(/\((reconnecting…|live)\)/).waitFor();
    // …then the answer, the lookup it asked for, and the next turn's call, open again…
    pacer.release();
    await page.locator('tr[data-kind="tool"][data-state="ok"]').filter({ hasText: 'Tool lookup_order' }).waitFor();
    const second = await waterfallRows(page, first + 3);
    await expect.poll(() => openModelCall.count()).toBe(1);
    // …then the refund the model asks for, which waits for a person.
    pacer.release();
    const awaiting = page.locator('tr[data-kind="tool"][data-state="awaiting-approval"]');
    await awaiting.waitFor();
    expect(await waterfallRows(page, second + 1)).toBeGreaterThan(second);
    await expect.poll(() => awaiting.textContent()).toContain('needs approval (risk:irreversible)');
    // The rest answer at once: this session's last call, and the two of a second session started below.
    pacer.release(3);

    // Edit the refund: the schema refuses more than the tool takes, inline, before anything is sent.
    const pending = page.getByRole('article', { name: /refund/ });
    await pending.getByRole('button', { name: 'Edit arguments' }).click();
    const editor = pending.getByLabel('Arguments for refund (JSON)');
    await editor.fill(JSON.stringify({ order: 'o-17', amount: 500 }, null, 2));
    const problems = pending.getByRole('list', { name: 'Problems in the arguments' });
    await expect.poll(() => problems.textContent()).toMatch(new RegExp(`/amount.*${maxRefund}`));
    const approveEdited = pending.getByRole('button', { name: 'Approve with these arguments' });
    expect(await approveEdited.isDisabled()).toBe(true);
    expect(await editor.getAttribute('aria-invalid')).toBe('true');
    await editor.fill('{ "order": "o-17", ');
    await expect.poll(() => problems.textContent()).toMatch(/Not valid JSON/);
    await editor.fill(JSON.stringify({ order: 'o-17', amount: 60 }, null, 2));
    await pending.getByText('Valid against the tool’s input schema.').waitFor();
    await screenshot(page, 'console-approval', { forDocs: true });
    await approveEdited.click();

    // The session resumes, runs the refund with the edited amount, and completes.
    const summary = page.getByRole('definition').filter({ hasText: 'Completed' });
    await summary.waitFor({ timeout: 30_000 });
    expect(refunds).toEqual([{ order: 'o-17', amount: 60 }]);
    await expect.poll(() => page.locator('tr[data-kind="tool"]').filter({ hasText: 'Tool refund' }).textContent()).toMatch(/approved by .*arguments edited/);
    await page.getByRole('region', { name: 'Output' }).getByText('The refund for o-17 is done.').waitFor();
    // Every journal event arrived exactly once across the reconnect: the count is the journal's last seq.
    const view = (await (await fetch(`${url}/v1/sessions/${sessionId}`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { lastSeq: number };
    await page.getByText(`${view.lastSeq} (complete)`).waitFor();
    expect(await page.locator('tr[data-kind="tool"]').filter({ hasText: 'Tool lookup_order' }).count()).toBe(1);
    expect(await page.locator('tr[data-kind="turn"]').count()).toBe(3);
    expect(await page.locator('tr[data-state="running"]').count()).toBe(0);
    await screenshot(page, 'console-session', { forDocs: true });

    // Explain: the context plan of turn 1 as a stacked bar against the window.
    await page.getByRole('link', { name: 'Explain turn 1' }).click();
    await page.getByRole('heading', { name: 'Context plan of turn 1' }).waitFor();
    const segments = page.getByRole('list', { name: 'Context segments against the window' }).getByRole('listitem');
    await expect.poll(() => segments.count()).toBeGreaterThanOrEqual(2);
    expect(await segments.first().getAttribute('aria-label')).toMatch(/tokens, \d+\.\d% of the window/);
    await expect.poll(() => page.getByRole('table', { name: 'Context items' }).locator('tbody tr').count()).toBeGreaterThan(1);
    await screenshot(page, 'console-explain');

    // Replay: turn 2's exact request, verified against its hash, with the lookup's result in it.
    await page.goBack();
    await page.getByRole('link', { name: 'Replay turn 2' }).click();
    await page.getByRole('heading', { name: 'Replay of turn 2' }).waitFor();
    await page.getByText('byte for byte').waitFor();
    const messages = page.getByRole('list', { name: 'Messages of the request' });
    await expect.poll(() => messages.textContent()).toContain('lookup_order');
    await page.getByRole('region', { name: 'Journaled answer' }).getByText(/tool_use refund/).waitFor();
    // Counterfactual: the same request to another model, which answers in text instead of calling the refund.
    const counterfactual = page.getByRole('region', { name: 'Counterfactual' });
    await counterfactual.getByLabel(/^Model/).fill('anthropic:claude-sonnet-4-5');
    await counterfactual.getByRole('button', { name: 'Run counterfactual' }).click();
    const differences = counterfactual.getByRole('list', { name: 'Differences' });
    await expect.poll(() => differences.textContent(), { timeout: 30_000 }).toContain('tool calls: [refund] → [none]');
    expect(await differences.textContent()).toContain('stop reason: tool_use → end_turn');
    expect(anthropic.requests).toHaveLength(1);
    await screenshot(page, 'console-replay');

    // Diff: turn 1 against turn 3 of the same session: turn 3 saw the lookup, the refund and their results.
    await page.goBack();
    const compare = page.getByRole('form', { name: 'Compare two turns' });
    await compare.getByLabel('Compare turn').selectOption('1');
    await compare.getByLabel('with turn').selectOption('3');
    await compare.getByRole('button', { name: 'Show context diff' }).click();
    await page.getByRole('heading', { name: 'Context diff' }).waitFor();
    await expect.poll(() => page.locator('.diff-counts').textContent()).toMatch(/only in B/);
    await expect.poll(() => page.getByRole('article', { name: /only in B/ }).count()).toBeGreaterThan(0);
    await screenshot(page, 'console-diff');

    // Audit: the refund with its approver and edited input, and the chain verified.
    await page.goto(`${url}/sessions/${encodeURIComponent(sessionId)}/audit`);
    await page.getByText('Chain verified').waitFor();
    const records = page.getByRole('table', { name: 'Audit records' });
    await expect.poll(() => records.locator('tr').filter({ hasText: 'refund' }).textContent()).toContain('(input edited)');
    await screenshot(page, 'console-audit');

    // A second session, started while the list is open, appears in it without a reload and ends up waiting for a
    // person; the approval queue shows its call; the charts draw both sessions.
    await page.getByRole('link', { name: 'Sessions' }).click();
    const sessions = page.getByRole('table', { name: 'Sessions' });
    await sessions.getByRole('row', { name: new RegExp(sessionId) }).getByText('Completed').waitFor();
    const waitingId = await startSession('Refund order o-17 again.');
    await sessions.getByRole('row', { name: new RegExp(waitingId) }).getByText('Waiting for approval').waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'Approvals' }).click();
    await page.getByRole('heading', { name: 'Approval queue' }).waitFor();
    const queued = page.getByRole('article', { name: /refund/ });
    await queued.getByRole('link', { name: waitingId }).waitFor();
    await screenshot(page, 'console-approvals');
    // Rejected with a reason: the model hears it and the session ends without refunding.
    pacer.release();
    await queued.getByRole('button', { name: 'Reject' }).click();
    await queued.getByLabel(/Reason for rejecting/).fill('Already refunded in the first session.');
    await queued.getByRole('button', { name: 'Reject call' }).click();
    await page.getByText('Nothing is waiting for a person.').waitFor({ timeout: 30_000 });
    expect(refunds).toHaveLength(1);
    await page.getByRole('link', { name: 'Sessions' }).click();
    await sessions.getByRole('row', { name: new RegExp(waitingId) }).getByText('Completed').waitFor({ timeout: 30_000 });
    await screenshot(page, 'console-sessions', { forDocs: true });
    await page.getByRole('link', { name: 'Charts' }).click();
    await page.getByRole('img', { name: /Cost per session: 2 points/ }).waitFor();
    await screenshot(page, 'console-charts');

    // Chromium reports each stream the proxy cut as a failed load; nothing else may be logged.
    const cut = errors.filter((error) => droppedConnection.test(error));
    expect(cut.length).toBeLessThanOrEqual(dropped);
    expect(errors.filter((error) => !droppedConnection.test(error))).toEqual([]);
    await page.context().close();
  });
});

/** How Chromium logs a response whose connection was cut: the only console errors the dropped connection may cause. */
const droppedConnection = /^console\.error: Failed to load resource: net::ERR_(INCOMPLETE_CHUNKED_ENCODING|CONNECTION_RESET|EMPTY_RESPONSE|CONNECTION_CLOSED)$/;
