/**
 * API token format (DESIGN.md §2): `cachet_` + 43 base62 characters (256 random bits) + 6 base62
 * characters of CRC-32 over those 43. The checksum lets a scanner or our own server reject a
 * mistyped or made-up token without touching any store.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TOKEN_PREFIX = 'cachet_';
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const TOKEN_PATTERN = /^cachet_[0-9A-Za-z]{49}$/;
/** How many leading characters of a token are kept, in clear, to show which key is which. */
export const DISPLAY_PREFIX_LENGTH = 12;

function toBase62(value: bigint, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0n) {
    out = ALPHABET[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  return out.padStart(width, '0');
}

function checksum(body: string): string {
  return toBase62(BigInt(crc32(body)), CHECKSUM_LENGTH);
}

/** A new token from the operating system's CSPRNG. */
export function generateToken(): string {
  const body = toBase62(BigInt('0x' + randomBytes(32).toString('hex')), BODY_LENGTH);
  return TOKEN_PREFIX + body + checksum(body);
}

/** True when the text has the token shape and its checksum matches; no store is consulted. */
export function isWellFormedToken(text: string): boolean {
  if (!TOKEN_PATTERN.test(text)) return false;
  const body = text.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_LENGTH);
  return checksum(body) === text.slice(TOKEN_PREFIX.length + BODY_LENGTH);
}

/** The part of a token that may be displayed and stored in clear. */
export function displayPrefix(token: string): string {
  return token.slice(0, DISPLAY_PREFIX_LENGTH);
}
