import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseEmail, parseComponentIds } from '../../src/features/subscribers/subscribers.service.js';

describe('normaliseEmail', () => {
  it('trims, NFC-normalises and lower-cases a valid address', () => {
    assert.equal(normaliseEmail('  Foo.Bar+tag@Example.ORG\n'), 'foo.bar+tag@example.org');
    assert.equal(normaliseEmail('Ju\u0308rgen@example.de'), 'j\u00fcrgen@example.de');
    assert.equal(normaliseEmail('用户@例子.广告'), '用户@例子.广告');
  });

  it('refuses what is not a deliverable dot-atom address', () => {
    for (const bad of ['', 'plain', '@example.org', 'a@', 'a@b', 'a@@b.org', 'a b@c.org', '.a@b.org', 'a..b@c.org', 'a.@b.org', 'a@-b.org', 'a@b-.org', 'a@b..org', '"q"@b.org', 'a@[127.0.0.1]', 'a\u0000@b.org', `${'x'.repeat(65)}@b.org`, `a@${'b'.repeat(250)}.org`]) {
      assert.equal(normaliseEmail(bad), null, JSON.stringify(bad));
    }
  });
});

describe('parseComponentIds', () => {
  it('reads lists and comma-separated strings, deduplicating in order', () => {
    assert.deepEqual(parseComponentIds([3, 1, 3]), [3, 1]);
    assert.deepEqual(parseComponentIds(' 3, 1 ,,3 '), [3, 1]);
    assert.deepEqual(parseComponentIds(''), []);
  });

  it('refuses entries that are not ids', () => {
    for (const bad of ['1,x', '-1', '1.5', '1e3', '99999999999', '2147483648']) assert.equal(parseComponentIds(bad), null, bad);
  });
});
