import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';

function withDir<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'cachet-config-'));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('configuration', () => {
  it('uses the documented defaults', () =>
    withDir((dir) => {
      const config = loadConfig({ CACHET_DATA_DIR: dir });
      assert.equal(config.port, 8000);
      assert.equal(config.host, '127.0.0.1');
      assert.equal(config.databaseUrl, 'sqlite:./data/cachet.db');
      assert.equal(config.redisUrl, null);
      assert.equal(config.rateLimitDefault, 300);
      assert.equal(config.rateLimitAnonymous, 300);
      assert.equal(config.keyMaxTtlMs, 90 * 86_400_000);
      assert.deepEqual(config.trustedProxies, []);
    }));

  it('generates the pepper once, mode 0600, and reuses it', () =>
    withDir((dir) => {
      const first = loadConfig({ CACHET_DATA_DIR: dir });
      const file = path.join(dir, 'pepper');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(readFileSync(file, 'utf8').trim().length >= 32);
      assert.deepEqual(loadConfig({ CACHET_DATA_DIR: dir }).pepper, first.pepper);
    }));

  it('reads secrets from NAME_FILE', () =>
    withDir((dir) => {
      const file = path.join(dir, 'secret');
      writeFileSync(file, 'p'.repeat(40) + '\n');
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, CACHET_PEPPER_FILE: file }).pepper.toString(), 'p'.repeat(40));
      writeFileSync(file, 'postgres://db.example/cachet\n');
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, DATABASE_URL_FILE: file }).databaseUrl, 'postgres://db.example/cachet');
    }));

  it('stops on bad settings with one line naming the setting', () =>
    withDir((dir) => {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ PORT: 'eighty' }, /^PORT /],
        [{ PORT: '70000' }, /^PORT /],
        [{ CACHET_PEPPER: 'short' }, /^CACHET_PEPPER /],
        [{ CACHET_PEPPER: 'x'.repeat(40), CACHET_PEPPER_FILE: '/x' }, /CACHET_PEPPER and CACHET_PEPPER_FILE/],
        [{ CACHET_PEPPER_FILE: path.join(dir, 'missing') }, /^CACHET_PEPPER_FILE/],
        [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL /],
        [{ CACHET_TRUSTED_PROXIES: '10.0.0.0/8,nope' }, /^CACHET_TRUSTED_PROXIES: "nope"/],
        [{ CACHET_KEY_MAX_TTL: '3 months' }, /^CACHET_KEY_MAX_TTL /],
        [{ CACHET_RATE_LIMIT_DEFAULT: '0' }, /^CACHET_RATE_LIMIT_DEFAULT /],
        [{ CACHET_TIMEZONE: 'Mars/Base' }, /^CACHET_TIMEZONE/],
        [{ CACHET_PUBLIC_URL: 'status.example.com' }, /^CACHET_PUBLIC_URL /],
        [{ CACHET_PUBLIC_URL: 'ftp://status.example.com' }, /^CACHET_PUBLIC_URL /],
        [{ CACHET_PUBLIC_URL: 'https://user:pw@status.example.com' }, /^CACHET_PUBLIC_URL /],
        [{ CACHET_PUBLIC_URL: 'https://status.example.com/?a=1' }, /^CACHET_PUBLIC_URL /],
        [{ CACHET_PUBLIC_URL: 'https://status.example.com/#top' }, /^CACHET_PUBLIC_URL /],
      ];
      for (const [env, message] of cases) {
        assert.throws(() => loadConfig({ CACHET_DATA_DIR: dir, ...env }), (err: Error) => message.test(err.message) && !err.message.includes('\n'), JSON.stringify(env));
      }
    }));

  it('builds links from CACHET_PUBLIC_URL, by default http://HOST:PORT', () =>
    withDir((dir) => {
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir }).publicUrl, 'http://127.0.0.1:8000');
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, HOST: '::1', PORT: '9000' }).publicUrl, 'http://[::1]:9000');
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, CACHET_PUBLIC_URL: 'https://status.example.com/' }).publicUrl, 'https://status.example.com');
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, CACHET_PUBLIC_URL: 'https://example.com/status/' }).publicUrl, 'https://example.com/status');
    }));

  it('reads CACHET_TIMEZONE in any letter case as its canonical name', () =>
    withDir((dir) => {
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, CACHET_TIMEZONE: 'europe/london' }).timezone, 'Europe/London');
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, CACHET_TIMEZONE: 'utc' }).timezone, 'UTC');
    }));

  it('lists the files secrets were read from, for the start-up permission check', () =>
    withDir((dir) => {
      const file = path.join(dir, 'secret');
      writeFileSync(file, 'p'.repeat(40) + '\n');
      const signingKey = path.join(dir, 'audit-signing-key');
      assert.deepEqual(loadConfig({ CACHET_DATA_DIR: dir, CACHET_PEPPER_FILE: file }).secretFiles, [file, signingKey]);
      assert.deepEqual(loadConfig({ CACHET_DATA_DIR: dir }).secretFiles, [path.join(dir, 'pepper'), signingKey]);
    }));

  it('reads the rotation and delivery settings: private webhook targets are refused unless CACHET_WEBHOOK_ALLOW_PRIVATE=1', () =>
    withDir((dir) => {
      const defaults = loadConfig({ CACHET_DATA_DIR: dir });
      assert.equal(defaults.webhookAllowPrivate, false);
      assert.equal(defaults.keyRotationIntervalMs, 30_000);
      assert.equal(defaults.deliveryTimeoutMs, 10_000);
      const set = loadConfig({ CACHET_DATA_DIR: dir, CACHET_WEBHOOK_ALLOW_PRIVATE: '1', CACHET_KEY_ROTATION_INTERVAL: '0', CACHET_DELIVERY_TIMEOUT: '3s' });
      assert.deepEqual([set.webhookAllowPrivate, set.keyRotationIntervalMs, set.deliveryTimeoutMs], [true, 0, 3000]);
      assert.throws(() => loadConfig({ CACHET_DATA_DIR: dir, CACHET_WEBHOOK_ALLOW_PRIVATE: 'maybe' }), /CACHET_WEBHOOK_ALLOW_PRIVATE must be 1 or 0/);
      assert.throws(() => loadConfig({ CACHET_DATA_DIR: dir, CACHET_KEY_ROTATION_INTERVAL: '30' }), /CACHET_KEY_ROTATION_INTERVAL must be a duration/);
    }));

  it('allows keys that never expire only when CACHET_KEY_MAX_TTL=never', () =>
    withDir((dir) => {
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, CACHET_KEY_MAX_TTL: 'never' }).keyMaxTtlMs, null);
      assert.equal(loadConfig({ CACHET_DATA_DIR: dir, CACHET_KEY_MAX_TTL: '7d' }).keyDefaultTtlMs, 7 * 86_400_000);
    }));

  it('reads the audit checkpoint settings and refuses a signing key that is not Ed25519', () =>
    withDir((dir) => {
      const defaults = loadConfig({ CACHET_DATA_DIR: dir });
      assert.equal(defaults.auditSigningKey, null);
      assert.equal(defaults.auditCheckpointEvents, 1000);
      assert.equal(defaults.auditCheckpointIntervalMs, 300_000);
      assert.ok(defaults.secretFiles.includes(path.join(dir, 'audit-signing-key')), 'start-up would not warn about an exposed generated key');
      const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const file = path.join(dir, 'signing.pem');
      writeFileSync(file, pem);
      const given = loadConfig({ CACHET_DATA_DIR: dir, CACHET_AUDIT_SIGNING_KEY_FILE: file, CACHET_AUDIT_CHECKPOINT_EVENTS: '50', CACHET_AUDIT_CHECKPOINT_INTERVAL: '90s' });
      assert.equal(given.auditSigningKey, pem.trim());
      assert.equal(given.auditCheckpointEvents, 50);
      assert.equal(given.auditCheckpointIntervalMs, 90_000);
      assert.ok(given.secretFiles.includes(file));
      writeFileSync(file, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      assert.throws(() => loadConfig({ CACHET_DATA_DIR: dir, CACHET_AUDIT_SIGNING_KEY_FILE: file }), /CACHET_AUDIT_SIGNING_KEY must be an Ed25519 private key/);
      assert.throws(() => loadConfig({ CACHET_DATA_DIR: dir, CACHET_AUDIT_CHECKPOINT_INTERVAL: 'often' }), /CACHET_AUDIT_CHECKPOINT_INTERVAL/);
      assert.throws(() => loadConfig({ CACHET_DATA_DIR: dir, CACHET_AUDIT_CHECKPOINT_EVENTS: '0' }), /CACHET_AUDIT_CHECKPOINT_EVENTS/);
    }));
});
