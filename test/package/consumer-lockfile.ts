import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A package-lock.json for a project that depends on the Keel tarball, built from this repository's lockfile, so that
 * `npm ci --offline` installs it from the npm cache alone: `npm install <tarball>` would need the registry's package
 * documents, which `npm ci` never caches, while a lockfile entry with `resolved` and `integrity` needs only the
 * tarball, and the repository's own `npm ci` cached every one of those.
 */
export interface ConsumerLockOptions {
  readonly repositoryLockfile: string;
  readonly keelManifest: string;
  /** The tarball as the consumer's package.json names it, e.g. `file:../keel-0.1.0.tgz`. */
  readonly keelSpec: string;
  readonly keelTarball: string;
  /** Packages of the repository's lockfile the consumer also depends on, at the repository's versions. */
  readonly dependencies: readonly string[];
  readonly devDependencies: readonly string[];
  /** Where tarballs come from (`npm config get registry`), ending in `/`. */
  readonly registry: string;
}

export interface ConsumerProject {
  readonly manifest: { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  readonly lockfile: unknown;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  dev?: boolean;
  devOptional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

interface KeelManifest {
  name: string;
  version: string;
  license?: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
}

export function consumerProject(options: ConsumerLockOptions): ConsumerProject {
  const packages = (JSON.parse(readFileSync(options.repositoryLockfile, 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const keel = JSON.parse(readFileSync(options.keelManifest, 'utf8')) as KeelManifest;
  const versionOf = (name: string): string => lockEntry(packages, `node_modules/${name}`).version ?? '';
  const manifest = {
    dependencies: { [keel.name]: options.keelSpec, ...Object.fromEntries(options.dependencies.map((name) => [name, versionOf(name)])) },
    devDependencies: Object.fromEntries(options.devDependencies.map((name) => [name, versionOf(name)])),
  };
  const production = reachable(packages, [...Object.keys(keel.dependencies ?? {}), ...options.dependencies].map((name) => `node_modules/${name}`));
  const development = reachable(packages, options.devDependencies.map((name) => `node_modules/${name}`));
  const entries: Record<string, unknown> = {
    '': { name: 'keel-consumer', version: '1.0.0', ...manifest },
    [`node_modules/${keel.name}`]: {
      version: keel.version,
      resolved: options.keelSpec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(options.keelTarball)).digest('base64')}`,
      hasInstallScript: true,
      license: keel.license,
      dependencies: keel.dependencies,
      peerDependencies: keel.peerDependencies,
      peerDependenciesMeta: keel.peerDependenciesMeta,
      bin: keel.bin,
      engines: keel.engines,
    },
  };
  for (const path of [...new Set([...production, ...development])].sort()) {
    const { dev: _dev, devOptional: _devOptional, ...entry } = lockEntry(packages, path);
    entries[path] = {
      ...entry,
      resolved: entry.resolved ?? tarballUrl(options.registry, path, entry.version ?? ''),
      ...(production.has(path) ? {} : { dev: true }),
    };
  }
  return { manifest, lockfile: { name: 'keel-consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages: entries } };
}

function lockEntry(packages: Record<string, LockEntry>, path: string): LockEntry {
  const entry = packages[path];
  if (entry === undefined) throw new Error(`package-lock.json has no ${path}; run npm install in the repository.`);
  return entry;
}

/** Every lockfile path installed for these roots, following Node's resolution (nearest node_modules upwards). */
function reachable(packages: Record<string, LockEntry>, roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const path = pending.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const entry = lockEntry(packages, path);
    const required = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies };
    for (const name of Object.keys(required)) {
      if (entry.peerDependenciesMeta?.[name]?.optional === true && entry.dependencies?.[name] === undefined) continue;
      const found = resolveFrom(packages, path, name);
      // An optional dependency for another platform has no entry at all.
      if (found !== undefined) pending.push(found);
      else if (entry.optionalDependencies?.[name] === undefined) throw new Error(`package-lock.json: ${path} needs ${name}, which it does not contain.`);
    }
  }
  return seen;
}

function resolveFrom(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base}/node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    const parent = base.lastIndexOf('/node_modules/');
    if (parent === -1) return packages[`node_modules/${name}`] === undefined ? undefined : `node_modules/${name}`;
    base = base.slice(0, parent);
  }
}

/** The registry's tarball address: `<registry><name>/-/<name without scope>-<version>.tgz`. */
function tarballUrl(registry: string, path: string, version: string): string {
  const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  return `${registry}${name}/-/${name.slice(name.indexOf('/') + 1)}-${version}.tgz`;
}
