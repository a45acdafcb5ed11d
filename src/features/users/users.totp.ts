/**
 * Two-factor sign-in for dashboard users: TOTP (RFC 6238) secrets sealed at rest, and single-use recovery codes.
 * Pure functions: the caller keeps the sealed secret, the last accepted step and the recovery digests.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import { toString as qrToString } from 'qrcode';

/** What authenticator apps universally support; other algorithms, lengths or periods are silently misread by some. */
const ALGORITHM = 'SHA1';
const DIGITS = 6;
const PERIOD_S = 30;
/** One step either side absorbs clock drift and the time it takes to type a code, without widening guessing much. */
const WINDOW = 1;

/** A fresh 160-bit secret (RFC 4226's recommended length), base32 as apps expect it. */
export function newTotpSecret(): string {
  // Copied into an ArrayBuffer of its own: a Buffer may be a view into a larger shared pool.
  return new Secret({ buffer: new Uint8Array(randomBytes(20)).buffer }).base32;
}

/** The enrolment URI an authenticator app scans; the issuer names the site in the app's list. */
export function totpUri(secret: string, account: string, issuer: string): string {
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secret), algorithm: ALGORITHM, digits: DIGITS, period: PERIOD_S }).toString();
}

/** The enrolment QR code as inline SVG, so the page needs no image route and the secret never reaches a URL. */
export function totpQrSvg(uri: string): Promise<string> {
  return qrToString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 });
}

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'malformed' | 'wrong' | 'replayed' };

/**
 * Checks a code against the steps around `now`. The matched step is returned to be stored as `lastStep`: a code
 * at or before it is refused, so an observed code cannot be replayed within its window, nor an older one used after a newer.
 */
export function checkTotp(secret: string, code: string, now: Date, lastStep: number | null): TotpCheck {
  const given = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(given)) return { ok: false, reason: 'malformed' };
  const key = Secret.fromBase32(secret);
  const current = Math.floor(now.getTime() / 1000 / PERIOD_S);
  const givenBytes = Buffer.from(given, 'utf8');
  let matched: number | null = null;
  // Every candidate is compared, without stopping at a match, so timing says nothing about which step matched.
  for (let step = current - WINDOW; step <= current + WINDOW; step++) {
    const expected = Buffer.from(HOTP.generate({ secret: key, algorithm: ALGORITHM, digits: DIGITS, counter: step }), 'utf8');
    // The latest matching step wins: should two steps share a code, the newer one is the one it can legitimately be.
    if (timingSafeEqual(expected, givenBytes)) matched = step;
  }
  if (matched === null) return { ok: false, reason: 'wrong' };
  if (lastStep !== null && matched <= lastStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step: matched };
}

const SEAL_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The key that seals TOTP secrets, derived rather than the pepper itself so that the same pepper never serves both
 * as an HMAC key and as an encryption key.
 */
export function totpKey(pepper: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), 'cachet totp secret v1', 32));
}

/**
 * Encrypts a TOTP secret for storage: unlike an API key it must be read back to check codes, so it cannot be a digest;
 * sealed, a copy of the database alone does not yield working second factors. Versioned so the scheme can change.
 */
export function sealSecret(key: Buffer, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [SEAL_VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

/** Decrypts a sealed secret; throws on any other shape, another key, or a changed byte (GCM's tag is the check). */
export function openSecret(key: Buffer, sealed: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== SEAL_VERSION) throw new Error('not a sealed secret');
  const [, ivText, tagText, ciphertextText] = parts as [string, string, string, string];
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('not a sealed secret');
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(Buffer.from(ciphertextText, 'base64url')), decipher.final()]).toString('utf8');
}

/** No 0/o, 1/i/l: codes are read off paper and typed by hand. 31 letters, 12 of them: about 59 bits per code. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_LENGTH = 12;

/** Fresh recovery codes, shown once; `randomInt` rejects out-of-range draws, so no letter is likelier than another. */
export function newRecoveryCodes(count = 10): string[] {
  const codes = new Set<string>();
  while (codes.size < count) {
    let raw = '';
    for (let i = 0; i < RECOVERY_LENGTH; i++) raw += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
    codes.add(`${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`);
  }
  return [...codes];
}

/** Case, dashes and spaces are how people copy codes, not part of them. */
function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]+/g, '');
}

/**
 * What is stored instead of a recovery code. Keyed with the pepper like API keys, and prefixed so that no recovery
 * digest can ever equal a key digest.
 */
export function recoveryCodeDigest(pepper: Buffer, code: string): string {
  return createHmac('sha256', pepper).update(`recovery:${normaliseRecoveryCode(code)}`, 'utf8').digest('hex');
}

/**
 * Spends a recovery code: the remaining digests for the caller to store in place of the old list, or null when the
 * code is none of them. Storing the returned list is what makes a code single-use.
 */
export function redeemRecoveryCode(pepper: Buffer, digests: readonly string[], code: string): string[] | null {
  const normal = normaliseRecoveryCode(code);
  if (normal.length !== RECOVERY_LENGTH || [...normal].some((c) => !RECOVERY_ALPHABET.includes(c))) return null;
  const given = Buffer.from(recoveryCodeDigest(pepper, normal), 'hex');
  let matched = -1;
  // Every digest is compared, so timing does not say how far down the list a code is.
  digests.forEach((digest, index) => {
    const stored = Buffer.from(digest, 'hex');
    if (stored.length === given.length && timingSafeEqual(stored, given) && matched === -1) matched = index;
  });
  if (matched === -1) return null;
  return digests.filter((_, index) => index !== matched);
}
