import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DateTime } from 'luxon';
import { canonicalTimeZone, formatCachetTime } from '../../src/infra/time.js';

/** What the formatter must agree with: luxon's general path, the one it replaced on the hot path. */
function byLuxon(iso: string, zone: string): string {
  return DateTime.fromISO(iso, { zone: 'utc' }).setZone(zone).toFormat('yyyy-LL-dd HH:mm:ss');
}

const ZONES = ['UTC', 'Europe/London', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham', 'America/St_Johns', 'Pacific/Kiritimati', 'Etc/GMT+12'];

describe('formatCachetTime', () => {
  it('agrees with luxon around DST changes, in zones with half-hour and 45-minute offsets', () => {
    // Every 15 minutes across the spring and autumn changes of 2024 in both hemispheres.
    const windows = ['2024-03-09T00:00:00.000Z', '2024-03-30T12:00:00.000Z', '2024-04-06T00:00:00.000Z', '2024-09-28T00:00:00.000Z', '2024-10-26T12:00:00.000Z', '2024-11-02T12:00:00.000Z'];
    let compared = 0;
    for (const start of windows) {
      for (let step = 0; step < 4 * 48; step++) {
        const iso = new Date(Date.parse(start) + step * 15 * 60_000).toISOString();
        for (const zone of ZONES) {
          assert.equal(formatCachetTime(iso, zone), byLuxon(iso, zone), `${iso} in ${zone}`);
          compared++;
        }
      }
    }
    assert.ok(compared > 10_000);
  });

  it('agrees with luxon on random instants across the stored range, in every known zone', () => {
    const zones = Intl.supportedValuesOf('timeZone').map((zone) => canonicalTimeZone(zone)!);
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (const zone of zones) {
      for (let i = 0; i < 8; i++) {
        const iso = new Date(Date.UTC(1000, 0, 2) + random() * (Date.UTC(9999, 11, 30) - Date.UTC(1000, 0, 2))).toISOString();
        assert.equal(formatCachetTime(iso, zone), byLuxon(iso, zone), `${iso} in ${zone}`);
      }
    }
  });

  it('handles the ends of the stored range, stored text without milliseconds, and null', () => {
    for (const iso of ['0000-01-01T00:00:00.000Z', '0999-12-31T23:30:00.000Z', '1000-01-01T00:30:00.000Z', '9999-12-31T23:59:59.999Z', '2024-05-01T13:45:00Z']) {
      for (const zone of ['UTC', 'America/New_York', 'Asia/Tokyo']) assert.equal(formatCachetTime(iso, zone), byLuxon(iso, zone), `${iso} in ${zone}`);
    }
    assert.equal(formatCachetTime('2024-05-01T13:45:07.123Z', 'UTC'), '2024-05-01 13:45:07');
    assert.equal(formatCachetTime('2024-05-01T13:45:07.123Z', 'Europe/London'), '2024-05-01 14:45:07');
    assert.equal(formatCachetTime(null, 'UTC'), null);
  });
});
