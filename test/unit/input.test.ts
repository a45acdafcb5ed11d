import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptsJson } from '../../src/http/accept.js';
import { coerceBoolean } from '../../src/http/input.js';
import { validationMessages } from '../../src/http/validation.js';
import { admitsIpv4, blockListOf, invalidCidrs, parseCidr } from '../../src/infra/cidr.js';
import { parseDuration } from '../../src/infra/duration.js';
import { formatCachetTime, parseCachetTime } from '../../src/infra/time.js';

describe('input helpers', () => {
  it('coerces Cachet client booleans and leaves nonsense for validation', () => {
    for (const value of [1, '1', true, 'true', 'True', 'on', 'yes']) assert.equal(coerceBoolean(value), true, String(value));
    for (const value of [0, '0', false, 'false', 'False', '', 'off', 'no']) assert.equal(coerceBoolean(value), false, String(value));
    for (const value of ['maybe', 2, [], {}]) assert.deepEqual(coerceBoolean(value), value);
  });

  it('reads Accept headers', () => {
    assert.ok(acceptsJson(undefined));
    assert.ok(acceptsJson('application/json; indent=4'));
    assert.ok(acceptsJson('application/vnd.api+json'));
    assert.ok(!acceptsJson('text/html'));
    assert.ok(!acceptsJson('application/json;q=0, text/html'));
  });

  it('writes Laravel-style validation messages', () => {
    assert.deepEqual(
      validationMessages([
        { keyword: 'required', instancePath: '', params: { missingProperty: 'group_id' } },
        { keyword: 'maximum', instancePath: '/status', params: { limit: 4 } },
        { keyword: 'type', instancePath: '/enabled', params: { type: 'boolean' } },
      ]),
      ['The group id field is required.', 'The status may not be greater than 4.', 'The enabled field must be true or false.'],
    );
  });

  it('parses durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    for (const bad of ['0d', '1w', '-1d', '1.5h', 'd', '', '30 days']) assert.equal(parseDuration(bad), null, bad);
  });

  it('parses IPv4, IPv6 and v4-mapped CIDRs', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
    assert.deepEqual(parseCidr('::ffff:192.168.0.0/112'), { address: '192.168.0.0', prefix: 16, family: 'ipv4' });
    assert.deepEqual(parseCidr('127.0.0.1'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    assert.deepEqual(invalidCidrs(['10.0.0.0/33', 'banana', '::1/129', '1.2.3.4/8/1', '10.0.0.0/08x']), ['10.0.0.0/33', 'banana', '::1/129', '1.2.3.4/8/1', '10.0.0.0/08x']);
  });

  it('tells which IPv6 ranges also admit IPv4 clients (through ::ffff:a.b.c.d)', () => {
    for (const range of ['::/0', '::/1', '::ffff:0:0/96', '::ffff:0:0/100', '0:0:0:0:0:ffff::/96']) assert.equal(admitsIpv4(range), true, range);
    for (const range of ['2001:db8::/32', '::1', '::/127', '10.0.0.0/8', '::ffff:10.0.0.0/104', 'banana', '::fffe:0:0/96', '64:ff9b::/96']) assert.equal(admitsIpv4(range), false, range);
  });

  it('reads CIDRs exactly: surrounding space, v4-mapped forms, prefix digits and bounds', () => {
    assert.deepEqual(parseCidr(' 10.0.0.0/8 '), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('::ffff:10.20.30.40'), { address: '10.20.30.40', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parseCidr('::FFFF:10.20.30.40/120'), { address: '10.20.30.40', prefix: 24, family: 'ipv4' });
    // Only a whole `::ffff:a.b.c.d` is v4-mapped: another IPv6 address ending in one is IPv6.
    assert.deepEqual(parseCidr('1::ffff:1.2.3.4'), { address: '1::ffff:1.2.3.4', prefix: 128, family: 'ipv6' });
    for (const bad of ['::ffff:1.2.3.4x', '10.0.0.0/x8', '10.0.0.0/8x', '::ffff:10.0.0.0/95', '10.0.0.0/-1', '10.0.0.0/', '/8']) assert.equal(parseCidr(bad), null, bad);
    assert.deepEqual(parseCidr('::ffff:10.0.0.0/96'), { address: '10.0.0.0', prefix: 0, family: 'ipv4' });
  });

  it('builds a block list from the valid entries only', () => {
    const blocks = blockListOf(['banana', '10.0.0.0/8', '']);
    assert.equal(blocks.check('10.1.2.3', 'ipv4'), true);
    assert.equal(blocks.check('11.1.2.3', 'ipv4'), false);
  });

  it('never says an IPv4 range admits IPv4 through the v4-mapped block, and reads ranges inside that block', () => {
    for (const range of ['0.0.0.0/0', '0.0.0.0/1', '0.0.0.0']) assert.equal(admitsIpv4(range), false, range);
    assert.equal(admitsIpv4('::ffff:a00:0/104'), true, 'inside ::ffff:0:0/96');
    assert.equal(admitsIpv4('::ffff:0:0/128'), true);
    assert.equal(admitsIpv4('::fffe:0:0/104'), false);
  });

  it('refuses dates whose UTC year is outside 0000–9999', () => {
    assert.equal(parseCachetTime('9999-12-31 23:59:59', 'UTC'), '9999-12-31T23:59:59.000Z');
    assert.equal(parseCachetTime('0000-01-01 00:00', 'UTC'), '0000-01-01T00:00:00.000Z');
    assert.equal(parseCachetTime('9999-12-31 23:30', 'America/New_York'), null);
    assert.equal(parseCachetTime('0000-01-01 00:30', 'Europe/Berlin'), null);
    assert.equal(parseCachetTime('9999-12-31T23:59:59-00:01', 'UTC'), null);
  });

  it('parses Cachet date forms in a zone and renders Y-m-d H:i:s', () => {
    assert.equal(parseCachetTime('2024-05-01 13:45', 'UTC'), '2024-05-01T13:45:00.000Z');
    assert.equal(parseCachetTime('2024-05-01 13:45:10', 'Europe/Berlin'), '2024-05-01T11:45:10.000Z');
    assert.equal(parseCachetTime('2024-05-01T13:45:00+02:00', 'UTC'), '2024-05-01T11:45:00.000Z');
    for (const bad of ['yesterday', '2024-13-01 10:00', '2024-02-30 10:00', '', '1714571100']) assert.equal(parseCachetTime(bad, 'UTC'), null, bad);
    assert.equal(formatCachetTime('2024-05-01T11:45:10.000Z', 'America/Mexico_City'), '2024-05-01 05:45:10');
  });
});
