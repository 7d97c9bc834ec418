// What the console's browser tests share: a fresh Vite build of the console, Debian's Chromium driven by Playwright,
// a page that records every console error and uncaught exception, and screenshots kept as test artefacts.
import { copyFileSync, mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
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

export interface DroppingProxy {
  readonly url: string;
  /** Cuts every open connection, as a network failure would: the browser sees its streams end mid-way. */
  dropAll(): number;
  close(): Promise<void>;
}

/** A TCP proxy on a random port in front of `target` (host:port), so a test can drop the browser's connections. */
export async function startDroppingProxy(target: { host: string; port: number }): Promise<DroppingProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dropAll() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      return count;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
