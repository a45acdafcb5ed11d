/**
 * The pure parts of the authentication stage: which address a request comes from, and which token
 * it presents. Each case pins one edge a mutation of src/http/auth.ts survived or could survive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddress, normaliseAddress, presentedToken } from '../../src/http/auth.js';
import { AppError } from '../../src/http/errors.js';

function refusal(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, 401);
    return err.reason;
  }
  return undefined;
}

describe('normaliseAddress', () => {
  it('unwraps IPv4-mapped IPv6 addresses, in any letter case, and nothing that merely contains one', () => {
    assert.equal(normaliseAddress('::ffff:1.2.3.4'), '1.2.3.4');
    assert.equal(normaliseAddress('::FFFF:10.20.30.40'), '10.20.30.40');
    assert.equal(normaliseAddress('::ffff:192.168.100.200'), '192.168.100.200');
    for (const untouched of ['1.2.3.4', '2001:db8::1', 'x::ffff:1.2.3.4', '::ffff:1.2.3.4x', '::ffff:1.2.3', '::ffff:a.b.c.d', '::ffff:1.2.3.4.5']) {
      assert.equal(normaliseAddress(untouched), untouched, untouched);
    }
  });

  it('drops an IPv6 zone index, wherever the % is, and leaves a % without a colon alone', () => {
    assert.equal(normaliseAddress('fe80::1%eth0'), 'fe80::1');
    assert.equal(normaliseAddress('fe80::1%25'), 'fe80::1');
    assert.equal(normaliseAddress('%eth0::1'), '');
    assert.equal(normaliseAddress('10.0.0.1%eth0'), '10.0.0.1%eth0');
  });
});

describe('clientAddress', () => {
  it('takes the address resolved through trusted proxies when it is an IP address', () => {
    assert.equal(clientAddress('203.0.113.7', '10.0.0.1'), '203.0.113.7');
    assert.equal(clientAddress('::ffff:203.0.113.7', '10.0.0.1'), '203.0.113.7');
    assert.equal(clientAddress('2001:db8::7', '10.0.0.1'), '2001:db8::7');
  });

  it('falls back to the socket address, normalised, when the resolved one is not an address', () => {
    assert.equal(clientAddress('evil', '10.0.0.1'), '10.0.0.1');
    assert.equal(clientAddress('x'.repeat(8000), '::ffff:10.0.0.2'), '10.0.0.2');
    assert.equal(clientAddress('', 'fe80::1%eth0'), 'fe80::1');
    assert.equal(clientAddress('evil', undefined), '');
  });
});

describe('presentedToken', () => {
  it('reads X-Cachet-Token, trimmed, and the first of repeated headers', () => {
    assert.equal(presentedToken({ 'x-cachet-token': ' cachet_abc ' }), 'cachet_abc');
    assert.equal(presentedToken({ 'x-cachet-token': ['first', 'second'] }), 'first');
  });

  it('treats absent, empty and blank headers as no token', () => {
    assert.equal(presentedToken({}), undefined);
    assert.equal(presentedToken({ 'x-cachet-token': '' }), undefined);
    assert.equal(presentedToken({ 'x-cachet-token': '   ' }), undefined);
    assert.equal(presentedToken({ authorization: '' }), undefined);
    assert.equal(presentedToken({ authorization: '   ' }), undefined);
  });

  it('reads Authorization: Bearer in any case, with spaces around the token', () => {
    assert.equal(presentedToken({ authorization: 'Bearer cachet_abc' }), 'cachet_abc');
    assert.equal(presentedToken({ authorization: 'bearer   cachet_abc  ' }), 'cachet_abc');
    assert.equal(presentedToken({ authorization: ' BEARER cachet_abc' }), 'cachet_abc');
    assert.equal(presentedToken({ 'x-cachet-token': ' ', authorization: 'Bearer b' }), 'b');
  });

  it('refuses any other Authorization form as malformed rather than serving the guest view', () => {
    for (const authorization of ['Bearer a b', 'Bearer', 'Bearer ', 'Token x', 'Basic dXNlcjpwYXNz', 'xBearer a', 'Bearera', 'Bearer\ta']) {
      assert.equal(refusal(() => presentedToken({ authorization })), 'authorization_malformed', authorization);
    }
  });

  it('accepts the same token in both headers and refuses two different ones', () => {
    assert.equal(presentedToken({ 'x-cachet-token': 'same', authorization: 'Bearer same' }), 'same');
    assert.equal(refusal(() => presentedToken({ 'x-cachet-token': 'one', authorization: 'Bearer two' })), 'key_conflict');
    assert.equal(presentedToken({ 'x-cachet-token': 'only' }), 'only');
  });
});
