import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { KeelError } from '../errors/index.ts';

/**
 * Ed25519 signatures over audit record hashes. A plain hash chain can be rewritten whole by anyone who can
 * write the database; a signature can only be made with the private key, which the runtime reads from its
 * environment and the database never holds. Verification needs only the public key, so an auditor can check a
 * log without being able to extend it.
 */
export interface AuditSigner {
  /** Signs a record hash; base64 of the 64-byte signature. */
  sign(hash: string): string;
  readonly verifier: AuditVerifier;
}

export interface AuditVerifier {
  verify(hash: string, signature: string): boolean;
  /** The public key, base64 of its SPKI DER form: what `keel audit verify --public-key` takes. */
  readonly publicKey: string;
}

export interface AuditKeyPair {
  /** Base64 of the PKCS #8 DER private key: the value of KEEL_AUDIT_SIGNING_KEY. */
  readonly privateKey: string;
  /** Base64 of the SPKI DER public key: the value of KEEL_AUDIT_PUBLIC_KEY. */
  readonly publicKey: string;
}

/**
 * A fresh Ed25519 key pair for signing an audit log (`keel audit keygen`).
 * @example
 * ```ts
 * const { privateKey, publicKey } = generateAuditKeyPair();
 * // privateKey: the runtime's KEEL_AUDIT_SIGNING_KEY, a secret. publicKey: for auditors (`keel audit verify --public-key`).
 * ```
 */
export function generateAuditKeyPair(): AuditKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

/**
 * A signer from a private key given as PEM or as base64 of its PKCS #8 DER form.
 * @example
 * ```ts
 * const signer = createAuditSigner(process.env.KEEL_AUDIT_SIGNING_KEY ?? '');
 * const keel = createKeel({ auditLog: createSqliteAuditLog({ path: '.keel/audit.db', signer }) });
 * ```
 */
export function createAuditSigner(privateKeyText: string): AuditSigner {
  const privateKey = parseKey(privateKeyText, 'private');
  const verifier = verifierOf(createPublicKey(privateKey));
  return {
    sign: (hash) => sign(null, Buffer.from(hash, 'utf8'), privateKey).toString('base64'),
    verifier,
  };
}

/**
 * A verifier from a public key given as PEM or as base64 of its SPKI DER form.
 * @example
 * ```ts
 * const auditLog = createSqliteAuditLog({ path: '.keel/keel.db', readOnly: true });
 * const verdict = await auditLog.verify({ verifier: createAuditVerifier(process.env.KEEL_AUDIT_PUBLIC_KEY ?? '') });
 * if (!verdict.ok) console.error(`The audit log is broken at record ${verdict.firstBadSeq}: ${verdict.problem}`);
 * await auditLog.close();
 * ```
 */
export function createAuditVerifier(publicKeyText: string): AuditVerifier {
  return verifierOf(parseKey(publicKeyText, 'public'));
}

function verifierOf(publicKey: KeyObject): AuditVerifier {
  return {
    verify(hash, signature) {
      if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(signature)) return false;
      return verify(null, Buffer.from(hash, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
    },
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

function parseKey(text: string, kind: 'private' | 'public'): KeyObject {
  const trimmed = text.trim();
  const variable = kind === 'private' ? 'KEEL_AUDIT_SIGNING_KEY' : 'KEEL_AUDIT_PUBLIC_KEY';
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      key = kind === 'private' ? createPrivateKey(trimmed) : createPublicKey(trimmed);
    } else {
      const der = Buffer.from(trimmed, 'base64');
      key = kind === 'private' ? createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) : createPublicKey({ key: der, format: 'der', type: 'spki' });
    }
  } catch (error) {
    throw new KeelError(
      'invalid-config',
      `The audit ${kind} key (${variable}) cannot be read: give the base64 that \`keel audit keygen\` prints, or a PEM Ed25519 key.`,
      { cause: error },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeelError('invalid-config', `The audit ${kind} key (${variable}) is a ${key.asymmetricKeyType ?? 'symmetric'} key; audit signatures use Ed25519 (\`keel audit keygen\` makes a pair).`);
  }
  return key;
}
