/** Two-factor sign-in: TOTP against RFC 6238's vectors, its window and replay refusal, sealed secrets, recovery codes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOTP, Secret } from 'otpauth';
import {
  checkTotp,
  newRecoveryCodes,
  newTotpSecret,
  openSecret,
  recoveryCodeDigest,
  redeemRecoveryCode,
  sealSecret,
  totpKey,
  totpQrSvg,
  totpUri,
} from '../../src/features/users/users.totp.js';

/** RFC 6238 Appendix B's SHA-1 seed, "12345678901234567890" in ASCII. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const at = (seconds: number) => new Date(seconds * 1000);
const codeAt = (secret: string, step: number) => HOTP.generate({ secret: Secret.fromBase32(secret), counter: step });

describe('checkTotp', () => {
  it('accepts RFC 6238 Appendix B SHA-1 vectors (their last six digits), returning the step', () => {
    assert.equal(Secret.fromLatin1('12345678901234567890').base32, RFC_SECRET);
    const vectors: [number, string, string][] = [
      [59, '94287082', '287082'],
      [1111111109, '07081804', '081804'],
      [1234567890, '89005924', '005924'],
      [2000000000, '69279037', '279037'],
    ];
    for (const [seconds, eight, six] of vectors) {
      const step = Math.floor(seconds / 30);
      assert.equal(HOTP.generate({ secret: Secret.fromBase32(RFC_SECRET), digits: 8, counter: step }), eight, `8 digits at ${seconds}`);
      assert.deepEqual(checkTotp(RFC_SECRET, six, at(seconds), null), { ok: true, step }, `at ${seconds}`);
    }
  });

  it('accepts one step either side of now and refuses two', () => {
    const secret = newTotpSecret();
    const now = at(1_700_000_000);
    const step = Math.floor(1_700_000_000 / 30);
    for (const offset of [-1, 0, 1]) {
      assert.deepEqual(checkTotp(secret, codeAt(secret, step + offset), now, null), { ok: true, step: step + offset }, `offset ${offset}`);
    }
    for (const offset of [-2, 2]) {
      const code = codeAt(secret, step + offset);
      // A ±2 code that happens to equal one in the window would be accepted rightly; vanishingly rare, but not a failure.
      if ([-1, 0, 1].some((o) => codeAt(secret, step + o) === code)) continue;
      assert.deepEqual(checkTotp(secret, code, now, null), { ok: false, reason: 'wrong' }, `offset ${offset}`);
    }
  });

  it('refuses a code whose step is at or before the last one used', () => {
    assert.deepEqual(checkTotp(RFC_SECRET, '287082', at(59), 1), { ok: false, reason: 'replayed' }, 'the same code twice');
    assert.deepEqual(checkTotp(RFC_SECRET, '287082', at(59), 2), { ok: false, reason: 'replayed' }, 'an older code after a newer');
    assert.deepEqual(checkTotp(RFC_SECRET, '287082', at(59), 0), { ok: true, step: 1 }, 'a newer code after an older');
  });

  it('refuses anything but six digits, and ignores spaces', () => {
    for (const code of ['12345', 'abcdef', '1234567', '', '12345a', '１２３４５６']) {
      assert.deepEqual(checkTotp(RFC_SECRET, code, at(59), null), { ok: false, reason: 'malformed' }, JSON.stringify(code));
    }
    assert.deepEqual(checkTotp(RFC_SECRET, ' 287 082 ', at(59), null), { ok: true, step: 1 });
    assert.deepEqual(checkTotp(RFC_SECRET, '287083', at(59), null), { ok: false, reason: 'wrong' });
  });
});

describe('TOTP enrolment', () => {
  it('makes 20-byte base32 secrets, each different', () => {
    const a = newTotpSecret();
    assert.match(a, /^[A-Z2-7]{32}$/);
    assert.equal(Secret.fromBase32(a).bytes.length, 20);
    assert.notEqual(newTotpSecret(), a);
  });

  it('builds an otpauth URI carrying issuer and secret, and an SVG QR code of it', async () => {
    const secret = newTotpSecret();
    const uri = totpUri(secret, 'ada@example.com', 'Cachet Status');
    assert.ok(uri.startsWith('otpauth://totp/'), uri);
    const url = new URL(uri);
    assert.equal(url.searchParams.get('secret'), secret);
    assert.equal(url.searchParams.get('issuer'), 'Cachet Status');
    assert.equal(url.searchParams.get('algorithm'), 'SHA1');
    assert.equal(url.searchParams.get('digits'), '6');
    assert.equal(url.searchParams.get('period'), '30');
    assert.ok(decodeURIComponent(url.pathname).includes('ada@example.com'), uri);
    const svg = await totpQrSvg(uri);
    assert.ok(svg.startsWith('<svg'), svg.slice(0, 40));
  });
});

describe('sealed TOTP secrets', () => {
  const pepper = Buffer.alloc(32, 7);

  it('round-trips, in the v1 shape, with a fresh IV each time', () => {
    const key = totpKey(pepper);
    assert.equal(key.length, 32);
    const sealed = sealSecret(key, RFC_SECRET);
    assert.match(sealed, /^v1\.[\w-]{16}\.[\w-]{22}\.[\w-]+$/);
    assert.equal(openSecret(key, sealed), RFC_SECRET);
    assert.notEqual(sealSecret(key, RFC_SECRET), sealed);
  });

  it('refuses a tampered value, a malformed one, and another pepper', () => {
    const key = totpKey(pepper);
    const sealed = sealSecret(key, RFC_SECRET);
    const [version, iv, tag, ciphertext] = sealed.split('.') as [string, string, string, string];
    const flip = (text: string) => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[0]! ^= 1;
      return bytes.toString('base64url');
    };
    for (const tampered of [
      [version, iv, tag, flip(ciphertext)],
      [version, iv, flip(tag), ciphertext],
      [version, flip(iv), tag, ciphertext],
      ['v2', iv, tag, ciphertext],
      [version, iv, tag],
    ]) {
      assert.throws(() => openSecret(key, tampered.join('.')), Error, tampered.join('.'));
    }
    assert.throws(() => openSecret(totpKey(Buffer.alloc(32, 8)), sealed));
    assert.notDeepEqual(totpKey(Buffer.alloc(32, 8)), key);
  });
});

describe('recovery codes', () => {
  const pepper = Buffer.alloc(32, 3);

  it('are ten distinct xxxx-xxxx-xxxx codes over the unambiguous alphabet', () => {
    const codes = newRecoveryCodes();
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.match(code, /^[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}$/);
    assert.equal(newRecoveryCodes(3).length, 3);
  });

  it('redeem once, ignoring case, dashes and spaces; a wrong code redeems nothing', () => {
    const codes = newRecoveryCodes();
    const digests = codes.map((code) => recoveryCodeDigest(pepper, code));
    assert.match(digests[0]!, /^[0-9a-f]{64}$/);
    assert.notEqual(recoveryCodeDigest(Buffer.alloc(32, 4), codes[0]!), digests[0], 'keyed by the pepper');

    const remaining = redeemRecoveryCode(pepper, digests, codes[4]!);
    assert.deepEqual(remaining, digests.filter((_, i) => i !== 4));
    assert.equal(redeemRecoveryCode(pepper, remaining, codes[4]!), null, 'a second time');

    const loose = ` ${codes[7]!.replace(/-/g, '').toUpperCase().replace(/(....)/, '$1 ')} `;
    assert.deepEqual(redeemRecoveryCode(pepper, digests, loose), digests.filter((_, i) => i !== 7), loose);

    assert.equal(redeemRecoveryCode(pepper, digests, 'aaaa-aaaa-aaaa'), null);
    assert.equal(redeemRecoveryCode(pepper, digests, ''), null);
    assert.equal(redeemRecoveryCode(Buffer.alloc(32, 4), digests, codes[0]!), null, 'another pepper');
    assert.equal(redeemRecoveryCode(pepper, [], codes[0]!), null);
  });
});
