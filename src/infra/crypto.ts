/** Keyed digests: what the store keeps instead of a secret. */
import { createHmac } from 'node:crypto';

/** HMAC-SHA-256 of a token under the server's pepper, hex-encoded; the only form in which a key is stored. */
export function keyDigest(pepper: Buffer, token: string): string {
  return createHmac('sha256', pepper).update(token, 'utf8').digest('hex');
}
