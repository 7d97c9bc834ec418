import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvalRunStore, createSqliteStore, renderEvalReport, runEvalSuite } from '../../src/index.ts';
import type { EvalRunResult } from '../../src/index.ts';
import { ordersSuite } from '../fixtures/eval/orders-suite.ts';

const artefacts = resolve(import.meta.dirname, '../../test-results');

describe('the HTML report in headless Chromium', () => {
  let folder: string;
  let html: string;
  let run: EvalRunResult;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'keel-eval-report-'));
    const database = join(folder, 'keel.db');
    run = await runEvalSuite(ordersSuite({ regression: true, repetitions: 2 }), { database, env: {} });
    const store = createSqliteStore({ path: database });
    try {
      const runs = createEvalRunStore(store.database);
      html = renderEvalReport({ run: runs.run(run.runId), results: runs.results(run.runId), serverUrl: 'http://localhost:8080/' });
    } finally {
      await store.close();
    }
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('is self-contained: no script, no external resource', () => {
    expect(html).not.toMatch(/<script|<link|@import|src=/i);
    expect(html).not.toMatch(/https?:\/\/(?!localhost:8080\/sessions\/)(?!www\.w3\.org\/2000\/svg)/);
  });

  it('opens without console errors, draws its charts and links each failed case to its trace', async () => {
    mkdirSync(artefacts, { recursive: true });
    const file = join(artefacts, 'eval-report.html');
    writeFileSync(file, html);
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(pathToFileURL(file).href);
      expect(await page.title()).toBe(`Eval orders — ${run.runId}`);
      // One bar chart of pass rates and three histograms (cost, latency, tokens), each with drawn bars.
      expect(await page.locator('svg').count()).toBe(4);
      expect(await page.locator('svg rect.bar').count()).toBeGreaterThan(10);
      const failed = run.results.filter((result) => !result.passed);
      expect(failed.map((result) => result.caseId)).toEqual(['where-is', 'where-is']);
      for (const result of failed) {
        const row = page.locator(`tr[id="where-is-${result.repetition}"]`);
        expect(await row.locator('code').last().textContent()).toBe(`keel trace ${result.sessionId}`);
        expect(await row.locator('a').getAttribute('href')).toBe(`http://localhost:8080/sessions/${result.sessionId}`);
      }
      // Passed cases have no trace link.
      expect(await page.locator('tr[id="refund-1"] a').count()).toBe(0);
      expect(await page.locator('text=Thresholds').count()).toBe(1);
      await page.screenshot({ path: join(artefacts, 'eval-report.png'), fullPage: true });
      expect(problems).toEqual([]);
      expect(requests).toEqual([pathToFileURL(file).href]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
