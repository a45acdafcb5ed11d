/**
 * The checkpoint signing key (Ed25519, kept outside the database): given by
 * `CACHET_AUDIT_SIGNING_KEY[_FILE]`, or generated once into `<data>/audit-signing-key` (0600).
 * Signs and checks checkpoints, `(seq, hash, at)` as canonical JSON (`checkpointMessage`).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config.js';
import { writeSecretFile } from '../../infra/secret-file.js';
import { checkpointMessage } from './audit.chain.js';

/** A checkpoint's signed fields. */
export interface CheckpointFields {
  seq: number;
  hash: string;
  at: string;
}

/** A checkpoint as stored and exported: the signed fields and the base64 Ed25519 signature. */
export interface SignedCheckpoint extends CheckpointFields {
  signature: string;
}

/** A key pair that signs checkpoints. */
export interface CheckpointSigner {
  /** The verification key, PEM (SPKI): what an auditor keeps. */
  publicKeyPem: string;
  publicKey: KeyObject;
  sign(fields: CheckpointFields): SignedCheckpoint;
}

/** Where the generated key lives when none is configured. */
export function generatedKeyFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'audit-signing-key');
}

function signerOf(privateKey: KeyObject): CheckpointSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the audit signing key is not an Ed25519 key');
  const publicKey = createPublicKey(privateKey);
  return {
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: (fields) => ({ seq: fields.seq, hash: fields.hash, at: fields.at, signature: sign(null, checkpointMessage(fields), privateKey).toString('base64') }),
  };
}

/**
 * The configured signer. With `create`, a missing generated key is made now (exclusively, so the
 * first of several instances wins and the others read its key); without, a missing key gives null.
 */
export function loadSigner(config: Pick<Config, 'auditSigningKey' | 'dataDir'>, options: { create: boolean }): CheckpointSigner | null {
  if (config.auditSigningKey !== null) return signerOf(createPrivateKey(config.auditSigningKey));
  const file = generatedKeyFile(config);
  if (!existsSync(file)) {
    if (!options.create) return null;
    const { privateKey } = generateKeyPairSync('ed25519');
    writeSecretFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { exclusive: true });
  }
  return signerOf(createPrivateKey(readFileSync(file, 'utf8')));
}

/** True when `checkpoint.signature` is `publicKey`'s signature of its seq, hash and at. */
export function checkpointSignatureValid(checkpoint: SignedCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}
