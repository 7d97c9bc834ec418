import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** The folder with Keel's own package.json, from this module's place in `src/` or `dist/`. */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | null {
  let folder = from;
  for (let depth = 0; depth < 8; depth += 1) {
    const manifest = join(folder, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'keel') return folder;
      } catch {
        // A package.json that does not parse is not Keel's; keep walking up.
      }
    }
    const parent = dirname(folder);
    if (parent === folder) return null;
    folder = parent;
  }
  return null;
}

/** The console's built files: `dist/console` under the package root. */
export function defaultConsoleFolder(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'dist', 'console');
}

/**
 * Serves the console's built files from `folder`: a file as it is, any other path as `index.html` (the console routes
 * in the browser). Paths are resolved inside the folder only; `..` cannot leave it.
 */
export function createConsoleHandler(folder: string | null): (c: Context) => Promise<Response> {
  const root = folder === null ? null : resolve(folder);
  return async (c) => {
    if (root === null || !existsSync(join(root, 'index.html'))) {
      return c.text('The console is not built: run `npm run build` (it writes dist/console). The API is under /v1.\n', 404);
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(c.req.url).pathname);
    } catch {
      return c.text('Bad path.\n', 400);
    }
    const candidate = resolve(root, `.${path}`);
    const inside = candidate === root || candidate.startsWith(`${root}${sep}`);
    const file = inside && (await isFile(candidate)) ? candidate : join(root, 'index.html');
    const body = await readFile(file);
    const type = contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream';
    // Vite names built assets by content hash: they never change; index.html must be fetched fresh.
    const cache = file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
    return c.body(body, 200, { 'content-type': type, 'cache-control': cache, 'x-content-type-options': 'nosniff' });
  };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
