import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { describe, it } from 'node:test';
import { keyDigest } from '../../src/infra/crypto.js';
import { displayPrefix, generateToken, isWellFormedToken } from '../../src/infra/token.js';

describe('token format', () => {
  it('generates cachet_ + 43 base62 characters + a 6-character base62 CRC-32 of those 43', () => {
    for (let i = 0; i < 200; i++) {
      const token = generateToken();
      assert.match(token, /^cachet_[0-9A-Za-z]{49}$/);
      const body = token.slice(7, 50);
      const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
      const decoded = [...token.slice(50)].reduce((n, c) => n * 62 + alphabet.indexOf(c), 0);
      assert.equal(decoded, crc32(body));
      assert.ok(isWellFormedToken(token));
    }
  });

  it('draws fresh randomness for every token', () => {
    const seen = new Set(Array.from({ length: 1000 }, generateToken));
    assert.equal(seen.size, 1000);
  });

  it('rejects every single-character change, wrong lengths and foreign prefixes', () => {
    const token = generateToken();
    for (let i = 7; i < token.length; i++) {
      const replacement = token[i] === 'Z' ? 'Y' : 'Z';
      assert.equal(isWellFormedToken(token.slice(0, i) + replacement + token.slice(i + 1)), false, `position ${i}`);
    }
    for (const bad of ['', token.slice(0, -1), token + 'a', token.replace('cachet_', 'cachez_'), token.replace('cachet_', 'CACHET_'), '9yMHsdioQosnyVK4iCVR', token.slice(0, 20) + '-' + token.slice(21)]) {
      assert.equal(isWellFormedToken(bad), false, bad);
    }
  });

  it('keeps a 12-character display prefix', () => {
    assert.equal(displayPrefix('cachet_abcdefghijk').length, 12);
  });

  it('digests with HMAC-SHA-256 under the pepper: a different pepper gives a different digest', () => {
    const token = generateToken();
    const a = keyDigest(Buffer.from('pepper-one-pepper-one-pepper-one-!'), token);
    const b = keyDigest(Buffer.from('pepper-two-pepper-two-pepper-two-!'), token);
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.notEqual(a, b);
    assert.ok(!a.includes(token.slice(7, 20)));
  });
});
