import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { KeelError } from '../errors/index.ts';

/** Encryption at rest of event bodies and blobs: AES-256-GCM, a random 12-byte IV per record. */
export interface EncryptionOptions {
  /** The key new records are written with: 32 bytes, or their text as 64 hex digits or base64. */
  readonly key: string | Uint8Array;
  /** Keys of earlier rotations, only to read records written with them. */
  readonly previousKeys?: readonly (string | Uint8Array)[];
}

/** What a record says about where it lives; bound into its authentication tag, so a record moved elsewhere fails to decrypt. */
export interface RecordPlace {
  /** Authenticated data: "event", session id and seq, or "blob" and hash. */
  readonly context: string;
  /** For messages: "event 3 of session ses_… in /path/keel.db". */
  readonly description: string;
}

/** An event's place: its session and seq are bound into the tag, so an event cannot be moved to another slot. */
export function eventPlace(path: string, sessionId: string, seq: number): RecordPlace {
  return { context: `event\n${sessionId}\n${seq}`, description: `event ${seq} of session ${sessionId} in ${path}` };
}

/** A blob's place: its hash is bound into the tag, so content cannot be swapped between blobs. */
export function blobPlace(path: string, hash: string): RecordPlace {
  return { context: `blob\n${hash}`, description: `blob ${hash} in ${path}` };
}

export interface EncryptedRecord {
  readonly keyId: string;
  /** Base64 of IV, tag and ciphertext. */
  readonly body: string;
}

export interface Keyring {
  readonly currentKeyId: string;
  readonly keyIds: readonly string[];
  encrypt(plaintext: string, place: RecordPlace): EncryptedRecord;
  decrypt(record: EncryptedRecord, place: RecordPlace): string;
}

export const encryptionKeyVariable = 'KEEL_ENCRYPTION_KEY';
export const previousEncryptionKeysVariable = 'KEEL_ENCRYPTION_PREVIOUS_KEYS';

const keyBytes = 32;
const ivBytes = 12;
const tagBytes = 16;

/**
 * The keys in the environment: KEEL_ENCRYPTION_KEY, and KEEL_ENCRYPTION_PREVIOUS_KEYS (comma-separated) after a
 * rotation. Undefined when no key is set; previous keys without a current key are a configuration error.
 */
export function encryptionFromEnvironment(environment: Readonly<Record<string, string | undefined>> = process.env): EncryptionOptions | undefined {
  const key = environment[encryptionKeyVariable]?.trim();
  const previous = (environment[previousEncryptionKeysVariable] ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (key === undefined || key === '') {
    if (previous.length === 0) return undefined;
    throw new KeelError('storage-key-invalid', `${previousEncryptionKeysVariable} is set but ${encryptionKeyVariable} is not: set the current key too, new records are written with it.`);
  }
  return { key, previousKeys: previous };
}

/** The keyring the options ask for: explicit keys, none, or the environment's. */
export function keyringFor(encryption: EncryptionOptions | false | undefined): Keyring | undefined {
  if (encryption === false) return undefined;
  const options = encryption ?? encryptionFromEnvironment();
  return options === undefined ? undefined : createKeyring(options);
}

/** Parses and checks every key once; a malformed key fails here, at startup, rather than at the first write. */
export function createKeyring(options: EncryptionOptions): Keyring {
  const current = parseKey(options.key, 'the encryption key');
  const keys = new Map<string, Buffer>([[keyIdOf(current), current]]);
  (options.previousKeys ?? []).forEach((key, index) => {
    const parsed = parseKey(key, `previous key ${index + 1}`);
    if (!keys.has(keyIdOf(parsed))) keys.set(keyIdOf(parsed), parsed);
  });
  const currentKeyId = keyIdOf(current);
  const keyIds = [...keys.keys()];
  return {
    currentKeyId,
    keyIds,
    encrypt(plaintext, place) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(Buffer.from(place.context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { keyId: currentKeyId, body: Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64') };
    },
    decrypt(record, place) {
      const key = keys.get(record.keyId);
      if (key === undefined) throw missingKey(record.keyId, place, keyIds);
      const bytes = Buffer.from(record.body, 'base64');
      try {
        if (bytes.length < ivBytes + tagBytes) throw new Error('shorter than an IV and a tag');
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, ivBytes));
        decipher.setAAD(Buffer.from(place.context, 'utf8'));
        decipher.setAuthTag(bytes.subarray(ivBytes, ivBytes + tagBytes));
        return Buffer.concat([decipher.update(bytes.subarray(ivBytes + tagBytes)), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new KeelError('journal-corrupt', `The encrypted ${place.description} fails its authentication check under key ${record.keyId}: it was changed or damaged after it was written.`, {
          cause: error,
          details: { keyId: record.keyId, context: place.context },
        });
      }
    },
  };
}

/** A record encrypted with a key no one configured: names the key to find, never shows a key. */
export function missingKey(keyId: string, place: RecordPlace, configured: readonly string[]): KeelError {
  const have = configured.length === 0 ? 'no encryption key is configured' : `the configured keys are ${configured.join(', ')}`;
  return new KeelError(
    'storage-key-invalid',
    `The ${place.description} is encrypted with key ${keyId}, and ${have}. Set ${encryptionKeyVariable} to that key, or add it to ${previousEncryptionKeysVariable} (encryption.previousKeys) if it was rotated out.`,
    { details: { neededKeyId: keyId, configuredKeyIds: configured } },
  );
}

/** A short, stable name for a key that reveals nothing about it: the start of a domain-separated SHA-256. */
export function keyIdOf(key: Uint8Array): string {
  return `k${createHash('sha256').update('keel encryption key id\n').update(key).digest('hex').slice(0, 16)}`;
}

function parseKey(key: string | Uint8Array, name: string): Buffer {
  if (typeof key !== 'string') {
    if (key.length === keyBytes) return Buffer.from(key);
    throw new KeelError('storage-key-invalid', `${capitalized(name)} has ${key.length} bytes; AES-256 needs exactly ${keyBytes}.`);
  }
  const text = key.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const standard = text.replace(/-/g, '+').replace(/_/g, '/');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(standard)) return Buffer.from(standard, 'base64');
  throw new KeelError(
    'storage-key-invalid',
    `${capitalized(name)} is not 32 bytes written as 64 hex digits or 43–44 base64 characters (it has ${text.length} characters). Make one with: node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`,
  );
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
