import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { KeelError } from '../../../errors/index.ts';

/** Everything Keel keeps for one server's authorization: registration, tokens, discovery, and a login in progress. */
export interface McpStoredAuthorization {
  /** The MCP server URL the entry belongs to; an entry for another URL under the same name is ignored. */
  readonly serverUrl: string;
  readonly clientInformation?: OAuthClientInformationMixed;
  readonly tokens?: OAuthTokens;
  /** Epoch milliseconds when the access token expires, computed from `expires_in` when it was saved. */
  readonly tokensExpireAt?: number;
  readonly discoveryState?: OAuthDiscoveryState;
  /** The PKCE verifier of the authorization in progress; cleared once the code is exchanged. */
  readonly codeVerifier?: string;
  /** The loopback port the registration's redirect URI names, reused so a dynamic registration stays valid. */
  readonly redirectPort?: number;
}

/** The folder token files live in: `KEEL_MCP_AUTH_DIR`, else `~/.keel/mcp-auth`. */
export function defaultTokenDirectory(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const configured = env.KEEL_MCP_AUTH_DIR?.trim();
  return configured !== undefined && configured !== '' ? configured : join(homedir(), '.keel', 'mcp-auth');
}

/** A token file larger than this is not one Keel wrote. */
const maxFileBytes = 1_000_000;

/**
 * One JSON file per server (`<name>.json`, mode 0600 in a 0700 folder), written atomically (temporary file, then
 * rename), so a crash mid-write leaves the previous tokens, and another local user cannot read them.
 */
export class McpTokenStore {
  readonly directory: string;
  private readonly serverName: string;
  private readonly serverUrl: string;

  constructor(options: { readonly directory: string; readonly serverName: string; readonly serverUrl: string }) {
    this.directory = options.directory;
    this.serverName = options.serverName;
    this.serverUrl = options.serverUrl;
  }

  get path(): string {
    return join(this.directory, `${this.serverName}.json`);
  }

  /** The stored entry, or an empty one when there is none or it belongs to another URL. */
  read(): McpStoredAuthorization {
    let text: string;
    try {
      const stats = statSync(this.path);
      if (!stats.isFile() || stats.size > maxFileBytes) throw new KeelError('invalid-config', `MCP token file ${this.path} is not a regular file of at most ${maxFileBytes} bytes; remove it and log in again.`);
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return { serverUrl: this.serverUrl };
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new KeelError('invalid-config', `MCP token file ${this.path} is not valid JSON; remove it and run \`keel mcp login ${this.serverName}\` again.`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || (parsed as { serverUrl?: unknown }).serverUrl !== this.serverUrl) return { serverUrl: this.serverUrl };
    return parsed as McpStoredAuthorization;
  }

  /** Merges `change` into the stored entry. */
  update(change: Partial<Omit<McpStoredAuthorization, 'serverUrl'>>): void {
    const next: Record<string, unknown> = { ...this.read(), ...change, serverUrl: this.serverUrl };
    for (const [key, value] of Object.entries(next)) if (value === undefined) delete next[key];
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const temporary = join(this.directory, `.${this.serverName}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      writeFileSync(temporary, JSON.stringify(next, null, 2), { mode: 0o600, flag: 'wx' });
      // The mode of a new file is masked by the umask; set it explicitly so it is 0600 whatever the umask.
      chmodSync(temporary, 0o600);
      renameSync(temporary, this.path);
    } catch (error) {
      try {
        unlinkSync(temporary);
      } catch {
        // Never created, or already renamed.
      }
      throw new KeelError('storage-failure', `Could not save MCP credentials to ${this.path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** Forgets the whole entry (`keel mcp logout`). Returns whether there was one. */
  remove(): boolean {
    try {
      unlinkSync(this.path);
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return false;
      throw error;
    }
  }
}

