// What the console's browser tests share: a fresh Vite build of the console, Debian's Chromium driven by Playwright,
// a page that records every console error and uncaught exception, and screenshots kept as test artefacts.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

const root = resolve(import.meta.dirname, '..', '..');
/** Screenshots of every run; gitignored. */
export const artefactFolder = join(root, 'test-results', 'console');

/** Builds the console into `folder` (a few seconds), so a test never serves a stale or missing dist/console. */
export async function buildConsole(folder: string): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: join(root, 'console', 'vite.config.ts'), logLevel: 'error', build: { outDir: folder, emptyOutDir: true } });
}

export async function launchChromium(): Promise<Browser> {
  // Root cannot use Chromium's sandbox (CI runs as root); the page only ever loads the local test server.
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}

export interface WatchedPage {
  readonly page: Page;
  /** Console errors and uncaught exceptions of the page, in order. */
  readonly errors: string[];
}

export async function openPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: 'light', locale: 'en-GB' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return { page, errors };
}

/**
 * Saves a full-page screenshot under test-results/console/. With KEEL_UPDATE_SCREENSHOTS=1 it is also copied to
 * docs/images/ (the README's pictures of the console).
 */
export async function screenshot(page: Page, name: string, options: { readonly forDocs?: boolean } = {}): Promise<string> {
  mkdirSync(artefactFolder, { recursive: true });
  const path = join(artefactFolder, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (options.forDocs === true && process.env.KEEL_UPDATE_SCREENSHOTS === '1') copyFileSync(path, join(root, 'docs', 'images', `${name}.png`));
  return path;
}
