/** Environment → typed, validated configuration. Bad settings stop start-up with one line naming the setting. */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { invalidCidrs } from './infra/cidr.js';
import { parseDuration } from './infra/duration.js';
import { writeSecretFile } from './infra/secret-file.js';
import { canonicalTimeZone } from './infra/time.js';

/** Everything the server, CLI and tests need to know about their environment. */
export interface Config {
  port: number;
  host: string;
  /** `sqlite:<path>`, `sqlite::memory:` or `postgres://…`. */
  databaseUrl: string;
  redisUrl: string | null;
  /** Folder for the SQLite file, the generated pepper and the bootstrap key. */
  dataDir: string;
  /** Secret key of the HMAC that turns a token into its stored digest. */
  pepper: Buffer;
  /** Files secrets were read from (`*_FILE` settings, the generated pepper): start-up warns when others can read one. */
  secretFiles: string[];
  /** CIDRs whose X-Forwarded-For is believed. */
  trustedProxies: string[];
  rateLimitDefault: number;
  rateLimitAnonymous: number;
  /** Failed key presentations per minute per client address. */
  rateLimitFailedAuth: number;
  /** With REDIS_URL: when Redis is unreachable, `open` limits each instance in memory meanwhile, `closed` answers 503. */
  rateLimitRedisDown: 'open' | 'closed';
  /** Prefix of every Redis key this server writes (several deployments may share one Redis). */
  redisPrefix: string;
  /** Longest key lifetime in ms; `null` means keys may be created with no expiry (`never`). */
  keyMaxTtlMs: number | null;
  /** Lifetime of a key created without `--expires`. */
  keyDefaultTtlMs: number;
  timezone: string;
  /** Base of every absolute link (`next_page`, permalinks, feeds, mail), without a trailing slash; never taken from a request's Host. */
  publicUrl: string;
  /** Largest `per_page` a list honours; larger values are clamped. */
  perPageMax: number;
  /** How often the server looks for key changes made elsewhere (CLI, other instances). */
  keyRevisionPollMs: number;
  /**
   * Ed25519 private key (PKCS#8 PEM) that signs audit checkpoints, when given
   * (`CACHET_AUDIT_SIGNING_KEY[_FILE]`); when null, one is generated on first use into
   * `<dataDir>/audit-signing-key`.
   */
  auditSigningKey: string | null;
  /** A checkpoint is signed once the head has moved on this many events… */
  auditCheckpointEvents: number;
  /** …or has moved at all and the last checkpoint is this old (ms). */
  auditCheckpointIntervalMs: number;
  logLevel: string;
  /** Where the audit trail is shipped (`CACHET_AUDIT_SINK`); null ships nowhere. */
  auditSink: AuditSinkTarget | null;
  /** Size at which the file sink rotates its file (`CACHET_AUDIT_SINK_MAX_BYTES`). */
  auditSinkMaxBytes: number;
  /** How often the shipper looks for new events (ms); not an environment setting, tests shorten it. */
  auditShipIntervalMs: number;
  /** Outbound webhooks may go to private, loopback and link-local addresses (`CACHET_WEBHOOK_ALLOW_PRIVATE`). */
  webhookAllowPrivate: boolean;
  /** How often a server looks for keys due for scheduled rotation (`CACHET_KEY_ROTATION_INTERVAL`); 0 turns the timer off. */
  keyRotationIntervalMs: number;
  /** Longest a webhook or command delivery may take (`CACHET_DELIVERY_TIMEOUT`). */
  deliveryTimeoutMs: number;
  /** A key this close to its expiry is reported once in the log (`CACHET_KEY_EXPIRY_WARNING`, ms). */
  keyExpiryWarningMs: number;
  /** How often the server looks for keys entering the warning window or passing expiry (ms); not an environment setting. */
  keyExpiryCheckMs: number;
  /** A dashboard session unused this long ends (CACHET_SESSION_IDLE, 30m). */
  sessionIdleMs: number;
  /** A dashboard session ends this long after sign-in (CACHET_SESSION_MAX, 12h). */
  sessionMaxMs: number;
  /** Notifying writes (incidents, maintenance, status changes) one key may make per hour before their notifications are held (CACHET_NOTIFY_BUDGET, 20). */
  notifyBudget: number;
  /** How often an idle instance looks for due background jobs (CACHET_JOB_POLL_MS, 1000). */
  jobPollMs: number;
  /** The key review reports a key without a rotation policy once it is this old (CACHET_KEY_REVIEW_ROTATION_AGE, 90d). */
  keyReviewRotationAgeMs: number;
  /** How often a server reviews every key and reports the findings (CACHET_KEY_REVIEW_INTERVAL, 7d; 0 turns it off). */
  keyReviewIntervalMs: number;
  /** How long a job taken by an instance is its own; a job of an instance that died is taken again after this (CACHET_JOB_LEASE, 30s). */
  jobLeaseMs: number;
  /** The status page's title (`CACHET_SITE_NAME`). */
  siteName: string;
  /** Markdown shown on the status page under the overall status (`CACHET_ABOUT`); raw HTML in it is shown as text. */
  about: string;
  /** An extra stylesheet the status page links after its own (`CACHET_STYLESHEET_URL`); null for none. */
  stylesheetUrl: string | null;
  /** Language of the dates on the status page, a BCP 47 tag (`CACHET_LOCALE`). */
  locale: string;
  /** Where notification mail is sent (`SMTP_URL[_FILE]`, `smtp://` or `smtps://`); null: notifications are recorded but not sent. */
  smtpUrl: string | null;
  /** The From of every mail (`CACHET_MAIL_FROM`); `Cachet <noreply@HOST>`, HOST the public URL's, by default. */
  mailFrom: string;
}

/**
 * An audit sink as configured. `name` is the setting's value in a stable form (a file's path made
 * absolute); it names the sink's cursor, so a new name starts shipping from the first event.
 */
export type AuditSinkTarget =
  | { kind: 'stdout'; name: string }
  | { kind: 'file'; name: string; path: string }
  | { kind: 'syslog'; name: string; transport: 'udp' | 'tcp'; host: string; port: number };

function redisDownPolicy(raw: string | undefined): 'open' | 'closed' {
  const value = (raw ?? 'open').trim().toLowerCase();
  if (value !== 'open' && value !== 'closed') throw new ConfigError(`CACHET_RATE_LIMIT_REDIS_DOWN: expected "open" or "closed", got "${raw ?? ''}"`);
  return value;
}

function redisPrefix(raw: string | undefined): string {
  const value = raw ?? 'cachet';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(value)) throw new ConfigError('CACHET_REDIS_PREFIX: 1 to 64 letters, digits or _ . : -');
  return value;
}

/** A setting that cannot be used; `message` names it. */
export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** Reads `NAME`, or the contents of the file named by `NAME_FILE` (noted in `files`). */
function secret(env: Env, name: string, files: string[]): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && file !== undefined) {
    throw new ConfigError(`${name} and ${name}_FILE are both set: set only one`);
  }
  if (file !== undefined) {
    files.push(path.resolve(file));
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return direct;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function durationSetting(env: Env, name: string, fallback: string): number {
  const raw = env[name] ?? fallback;
  const ms = parseDuration(raw);
  if (ms === null) throw new ConfigError(`${name} must be a duration such as 90d, 24h, 30m or 90s, got "${raw}"`);
  return ms;
}

function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name} must be 1 or 0, got "${env[name]}"`);
}

/** Where the pepper comes from: the environment, or a file generated once in the data folder. */
function loadPepper(env: Env, dataDir: string, files: string[]): Buffer {
  const given = secret(env, 'CACHET_PEPPER', files);
  if (given !== undefined) {
    if (given.length < 32) throw new ConfigError('CACHET_PEPPER must be at least 32 characters long');
    return Buffer.from(given, 'utf8');
  }
  const file = path.join(dataDir, 'pepper');
  files.push(file);
  if (!existsSync(file)) {
    try {
      // Exclusive: if another instance created it first, we read theirs below.
      writeSecretFile(file, randomBytes(32).toString('base64url') + '\n', { exclusive: true });
    } catch (err) {
      throw new ConfigError(`CACHET_PEPPER: cannot create ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const stored = readFileSync(file, 'utf8').trim();
  if (stored.length < 32) throw new ConfigError(`CACHET_PEPPER: ${file} holds fewer than 32 characters`);
  return Buffer.from(stored, 'utf8');
}

/** The given checkpoint signing key, checked to be an Ed25519 private key; null when none is given (one is generated on first use). */
function auditSigningKey(env: Env, dataDir: string, files: string[]): string | null {
  const given = secret(env, 'CACHET_AUDIT_SIGNING_KEY', files);
  if (given === undefined) {
    // The generated key's file, so start-up warns when an existing one is readable by others.
    files.push(path.join(dataDir, 'audit-signing-key'));
    return null;
  }
  let type: string | undefined;
  try {
    type = createPrivateKey(given).asymmetricKeyType;
  } catch {
    type = undefined;
  }
  if (type !== 'ed25519') throw new ConfigError('CACHET_AUDIT_SIGNING_KEY must be an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)');
  return given;
}

function parseCidrs(name: string, raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = invalidCidrs(list);
  if (bad.length > 0) throw new ConfigError(`${name}: "${bad[0]}" is not an IPv4 or IPv6 CIDR`);
  return list;
}

function databaseUrl(env: Env, files: string[]): string {
  const url = secret(env, 'DATABASE_URL', files) ?? 'sqlite:./data/cachet.db';
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(url)) {
    throw new ConfigError('DATABASE_URL must start with sqlite: or postgres://');
  }
  return url;
}

/** `CACHET_PUBLIC_URL`, or `http://HOST:PORT`: an absolute http(s) URL without credentials, query or fragment. */
function publicUrl(env: Env, host: string, port: number): string {
  const raw = env.CACHET_PUBLIC_URL;
  if (raw === undefined || raw.trim() === '') return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`CACHET_PUBLIC_URL must be an absolute http(s) URL such as https://status.example.com, got "${raw}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError(`CACHET_PUBLIC_URL must be an http(s) URL without credentials, query or fragment, got "${raw}"`);
  }
  return url.toString().replace(/\/+$/, '');
}

const SINK_FORMS = 'stdout, file:PATH, syslog+udp://HOST:PORT or syslog+tcp://HOST:PORT';

/** `CACHET_SITE_NAME`: the status page's title, 1 to 200 characters. */
function siteName(raw: string | undefined): string {
  const value = (raw ?? '').trim();
  if (value === '') return 'Cachet';
  if (value.length > 200) throw new ConfigError('CACHET_SITE_NAME: at most 200 characters');
  return value;
}

/** `CACHET_LOCALE`: a BCP 47 language tag this Node knows (`en`, `de-CH`); `en` when unset. */
function locale(raw: string | undefined): string {
  const value = (raw ?? '').trim();
  if (value === '') return 'en';
  let supported: string[] = [];
  try {
    supported = Intl.DateTimeFormat.supportedLocalesOf(value);
  } catch {
    // not a well-formed tag: reported below
  }
  if (supported.length === 0) throw new ConfigError(`CACHET_LOCALE: "${value}" is not a language this server can format dates in (a BCP 47 tag such as en, de-CH)`);
  return supported[0]!;
}

/** `CACHET_STYLESHEET_URL`: an absolute http(s) URL, or unset. */
function stylesheetUrl(raw: string | undefined): string | null {
  const value = (raw ?? '').trim();
  if (value === '') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`CACHET_STYLESHEET_URL must be an absolute http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`CACHET_STYLESHEET_URL must be an absolute http(s) URL, got "${value}"`);
  return url.href;
}

/** `SMTP_URL`: an `smtp://` or `smtps://` URL (credentials and options in it, as nodemailer reads them), or unset. */
function smtpUrl(raw: string | undefined): string | null {
  const value = (raw ?? '').trim();
  if (value === '') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('SMTP_URL must be an smtp:// or smtps:// URL such as smtps://user:pass@mail.example.com:465');
  }
  // The value is not repeated: it may hold a password.
  if ((url.protocol !== 'smtp:' && url.protocol !== 'smtps:') || url.hostname === '') throw new ConfigError('SMTP_URL must be an smtp:// or smtps:// URL such as smtps://user:pass@mail.example.com:465');
  return value;
}

/** `CACHET_MAIL_FROM`: one address, bare or as `Name <address>`; `Cachet <noreply@HOST>` by default. */
function mailFrom(raw: string | undefined, publicUrl: string): string {
  const value = (raw ?? '').trim();
  if (value === '') return `Cachet <noreply@${new URL(publicUrl).hostname.replace(/^\[(.*)\]$/, '$1')}>`;
  // A line break would start another header; the address is checked by the SMTP server.
  if (/[\r\n]/.test(value) || !/^(?:[^<>@]*<[^<>\s@]+@[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+)$/.test(value)) {
    throw new ConfigError(`CACHET_MAIL_FROM must be an address such as noreply@example.com or "Status <noreply@example.com>", got "${value}"`);
  }
  return value;
}

/** `CACHET_AUDIT_SINK`: unset or blank is no sink. */
export function parseAuditSink(raw: string | undefined): AuditSinkTarget | null {
  const value = raw?.trim() ?? '';
  if (value === '') return null;
  if (value === 'stdout') return { kind: 'stdout', name: 'stdout' };
  if (value.startsWith('file:')) {
    const file = value.slice('file:'.length);
    if (file === '') throw new ConfigError(`CACHET_AUDIT_SINK: file: needs a path, as in file:/var/log/cachet/audit.ndjson`);
    const resolved = path.resolve(file);
    return { kind: 'file', name: `file:${resolved}`, path: resolved };
  }
  const transport = /^syslog\+(udp|tcp):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (transport === 'udp' || transport === 'tcp') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`CACHET_AUDIT_SINK: "${value}" is not a valid syslog+${transport}://HOST:PORT address`);
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '' || url.username !== '' || url.password !== '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      throw new ConfigError(`CACHET_AUDIT_SINK: "${value}" must be syslog+${transport}://HOST:PORT, without credentials, path or query`);
    }
    const port = url.port === '' ? 514 : Number(url.port);
    if (port < 1 || port > 65535) throw new ConfigError(`CACHET_AUDIT_SINK: port must be between 1 and 65535, got ${url.port}`);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { kind: 'syslog', name: `syslog+${transport}://${shownHost}:${port}`, transport, host, port };
  }
  throw new ConfigError(`CACHET_AUDIT_SINK must be one of ${SINK_FORMS}, got "${value}"`);
}

/** Builds the configuration from environment variables (see README, "Configuration"). */
export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(env.CACHET_DATA_DIR ?? './data');
  const maxTtlRaw = env.CACHET_KEY_MAX_TTL ?? '90d';
  const keyMaxTtlMs = maxTtlRaw === 'never' ? null : durationSetting(env, 'CACHET_KEY_MAX_TTL', '90d');
  const ninetyDays = 90 * 24 * 3600 * 1000;
  const timezone = canonicalTimeZone(env.CACHET_TIMEZONE ?? 'UTC');
  if (timezone === null) throw new ConfigError(`CACHET_TIMEZONE: "${env.CACHET_TIMEZONE ?? ''}" is not a known time zone`);
  const host = env.HOST ?? '127.0.0.1';
  if (host === '') throw new ConfigError('HOST must not be empty');
  const port = integer(env, 'PORT', 8000, 0, 65535);
  const secretFiles: string[] = [];
  const base = publicUrl(env, host, port);
  return {
    port,
    host,
    databaseUrl: databaseUrl(env, secretFiles),
    redisUrl: secret(env, 'REDIS_URL', secretFiles) ?? null,
    dataDir,
    pepper: loadPepper(env, dataDir, secretFiles),
    secretFiles,
    trustedProxies: parseCidrs('CACHET_TRUSTED_PROXIES', env.CACHET_TRUSTED_PROXIES),
    rateLimitDefault: integer(env, 'CACHET_RATE_LIMIT_DEFAULT', 300, 1, 1_000_000),
    rateLimitAnonymous: integer(env, 'CACHET_RATE_LIMIT_ANONYMOUS', 300, 0, 1_000_000),
    rateLimitFailedAuth: integer(env, 'CACHET_RATE_LIMIT_FAILED_AUTH', 20, 1, 1_000_000),
    rateLimitRedisDown: redisDownPolicy(env.CACHET_RATE_LIMIT_REDIS_DOWN),
    redisPrefix: redisPrefix(env.CACHET_REDIS_PREFIX),
    keyMaxTtlMs,
    keyDefaultTtlMs: keyMaxTtlMs === null ? ninetyDays : Math.min(ninetyDays, keyMaxTtlMs),
    timezone,
    publicUrl: base,
    perPageMax: integer(env, 'CACHET_PER_PAGE_MAX', 1000, 1, 100_000),
    keyRevisionPollMs: integer(env, 'CACHET_KEY_POLL_MS', 500, 50, 60_000),
    auditSigningKey: auditSigningKey(env, dataDir, secretFiles),
    auditCheckpointEvents: integer(env, 'CACHET_AUDIT_CHECKPOINT_EVENTS', 1000, 1, 100_000_000),
    auditCheckpointIntervalMs: durationSetting(env, 'CACHET_AUDIT_CHECKPOINT_INTERVAL', '5m'),
    logLevel: env.LOG_LEVEL ?? 'info',
    auditSink: parseAuditSink(env.CACHET_AUDIT_SINK),
    auditSinkMaxBytes: integer(env, 'CACHET_AUDIT_SINK_MAX_BYTES', 10 * 1024 * 1024, 4096, 2 ** 40),
    auditShipIntervalMs: 250,
    webhookAllowPrivate: flag(env, 'CACHET_WEBHOOK_ALLOW_PRIVATE'),
    keyRotationIntervalMs: env.CACHET_KEY_ROTATION_INTERVAL?.trim() === '0' ? 0 : durationSetting(env, 'CACHET_KEY_ROTATION_INTERVAL', '30s'),
    deliveryTimeoutMs: durationSetting(env, 'CACHET_DELIVERY_TIMEOUT', '10s'),
    keyExpiryWarningMs: durationSetting(env, 'CACHET_KEY_EXPIRY_WARNING', '7d'),
    siteName: siteName(env.CACHET_SITE_NAME),
    about: env.CACHET_ABOUT ?? '',
    stylesheetUrl: stylesheetUrl(env.CACHET_STYLESHEET_URL),
    locale: locale(env.CACHET_LOCALE),
    keyExpiryCheckMs: 60_000,
    sessionIdleMs: durationSetting(env, 'CACHET_SESSION_IDLE', '30m'),
    sessionMaxMs: durationSetting(env, 'CACHET_SESSION_MAX', '12h'),
    notifyBudget: integer(env, 'CACHET_NOTIFY_BUDGET', 20, 0, 1_000_000),
    jobPollMs: integer(env, 'CACHET_JOB_POLL_MS', 1000, 10, 60_000),
    jobLeaseMs: durationSetting(env, 'CACHET_JOB_LEASE', '30s'),
    keyReviewRotationAgeMs: durationSetting(env, 'CACHET_KEY_REVIEW_ROTATION_AGE', '90d'),
    keyReviewIntervalMs: env.CACHET_KEY_REVIEW_INTERVAL === '0' ? 0 : durationSetting(env, 'CACHET_KEY_REVIEW_INTERVAL', '7d'),
    smtpUrl: smtpUrl(secret(env, 'SMTP_URL', secretFiles)),
    mailFrom: mailFrom(env.CACHET_MAIL_FROM, base),
  };
}
