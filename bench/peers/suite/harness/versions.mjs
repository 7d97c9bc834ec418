// Installed versions read from the adapter folder's node_modules (package.json files, since "exports" maps may
// hide them from require.resolve).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function pkgVersions(adapterUrl, packageNames) {
  const folder = dirname(fileURLToPath(adapterUrl));
  const versions = { node: process.version };
  for (const name of packageNames) {
    try {
      versions[name] = JSON.parse(readFileSync(join(folder, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      versions[name] = 'n/a';
    }
  }
  return versions;
}
