/**
 * Rotation policies and the delivery of a successor's token to its consumer: a file (atomic, 0600),
 * a signed webhook (Standard Webhooks and `X-Cachet-Signature`), or a command (token on stdin).
 * A failure is a value naming what went wrong; no message ever holds the token.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseDuration } from '../../infra/duration.js';
import { OutboundError, postTo } from '../../infra/outbound.js';
import { writeSecretFile } from '../../infra/secret-file.js';

/** Where a successor's token goes. */
export type DeliveryTarget = { type: 'file'; path: string } | { type: 'webhook'; url: string } | { type: 'command'; argv: string[] };

/** A key's rotation policy as stored and shown; durations as written (`30d`). */
export interface RotationPolicy {
  every: string;
  grace: string;
  deliver: DeliveryTarget;
  /** Retire the old key this long after the successor's first use, when that is before the grace ends. */
  retire_after_pickup: string | null;
}

/** A policy as given to the API or CLI, before validation. */
export interface RotationPolicyInput {
  every?: string;
  grace?: string;
  deliver?: { type?: string; path?: string; url?: string; argv?: string[] };
  retire_after_pickup?: string | null;
}

/** Shortest `every`: a schedule tighter than this would rotate on every scheduler pass. */
const MIN_EVERY_MS = 60_000;

/**
 * Checks a policy; a refusal names the field (`rotation.deliver.url`). `hostTargets` false refuses
 * file and command targets, which act on the server's host (the API's case: only an operator on
 * the host sets those, with the CLI).
 */
export function parseRotationPolicy(
  input: RotationPolicyInput,
  options: { keyMaxTtlMs: number | null; hostTargets: boolean },
): { ok: true; policy: RotationPolicy } | { ok: false; error: string } {
  const duration = (field: string, value: string | undefined | null) => {
    const ms = typeof value === 'string' ? parseDuration(value) : null;
    return ms === null ? `rotation.${field} must be a duration with a unit, such as 30d, 24h, 90m or 90s; got ${JSON.stringify(value ?? null)}` : ms;
  };
  const every = duration('every', input.every);
  if (typeof every === 'string') return { ok: false, error: every };
  if (every < MIN_EVERY_MS) return { ok: false, error: 'rotation.every must be at least 1m' };
  const grace = duration('grace', input.grace);
  if (typeof grace === 'string') return { ok: false, error: grace };
  if (options.keyMaxTtlMs !== null && grace > options.keyMaxTtlMs) return { ok: false, error: 'rotation.grace exceeds the longest key lifetime (CACHET_KEY_MAX_TTL)' };
  let retire: string | null = null;
  if (input.retire_after_pickup !== undefined && input.retire_after_pickup !== null) {
    const ms = duration('retire_after_pickup', input.retire_after_pickup);
    if (typeof ms === 'string') return { ok: false, error: ms };
    retire = input.retire_after_pickup.trim();
  }
  const target = parseTarget(input.deliver, options.hostTargets);
  if (!target.ok) return target;
  return { ok: true, policy: { every: input.every!.trim(), grace: input.grace!.trim(), deliver: target.target, retire_after_pickup: retire } };
}

function parseTarget(deliver: RotationPolicyInput['deliver'], hostTargets: boolean): { ok: true; target: DeliveryTarget } | { ok: false; error: string } {
  if (deliver === undefined || deliver === null || typeof deliver !== 'object') return { ok: false, error: 'rotation.deliver is required: {"type":"webhook","url":…}, {"type":"file","path":…} or {"type":"command","argv":[…]}' };
  const hostOnly = (type: string) => ({ ok: false as const, error: `rotation.deliver.type "${type}" acts on the server's host: set it with the CLI (cachet keys create --deliver), not through the API` });
  switch (deliver.type) {
    case 'webhook': {
      let url: URL;
      try {
        url = new URL(deliver.url ?? '');
      } catch {
        return { ok: false, error: `rotation.deliver.url must be an absolute http(s) URL; got ${JSON.stringify(deliver.url ?? null)}` };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: 'rotation.deliver.url must be an http or https URL' };
      if (url.username !== '' || url.password !== '') return { ok: false, error: 'rotation.deliver.url must not hold credentials: the signature authenticates the sender' };
      if (url.href.length > 2000) return { ok: false, error: 'rotation.deliver.url must be at most 2000 characters' };
      return { ok: true, target: { type: 'webhook', url: url.href } };
    }
    case 'file': {
      if (!hostTargets) return hostOnly('file');
      const file = deliver.path;
      if (typeof file !== 'string' || !path.isAbsolute(file) || file.includes('\0') || file.endsWith('/')) return { ok: false, error: `rotation.deliver.path must be an absolute file path; got ${JSON.stringify(file ?? null)}` };
      return { ok: true, target: { type: 'file', path: path.normalize(file) } };
    }
    case 'command': {
      if (!hostTargets) return hostOnly('command');
      const argv = deliver.argv;
      if (!Array.isArray(argv) || argv.length === 0 || argv.length > 32 || !argv.every((a) => typeof a === 'string' && a.length <= 4096 && !a.includes('\0'))) {
        return { ok: false, error: 'rotation.deliver.argv must be a list of 1 to 32 strings: the program and its arguments' };
      }
      if (!path.isAbsolute(argv[0]!)) return { ok: false, error: `rotation.deliver.argv[0] must be an absolute path to the program; got ${JSON.stringify(argv[0])}` };
      return { ok: true, target: { type: 'command', argv: [...argv] } };
    }
    default:
      return { ok: false, error: `rotation.deliver.type must be webhook, file or command; got ${JSON.stringify(deliver.type ?? null)}` };
  }
}

/** A new webhook signing secret: `whsec_` and 32 random bytes in base64 (the Standard Webhooks form). */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The HMAC key a `whsec_…` secret stands for: its base64 part, decoded. */
export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
}

/**
 * The signature headers of a webhook body sent at `unixSeconds` with message id `id`, signed with
 * each of `secrets` (several during a secret rotation, in the order given): Standard Webhooks'
 * `webhook-signature` lists them space-separated (`v1,<b64> v1,<b64>`), `X-Cachet-Signature`
 * comma-separated (`t=<unix>,v1=<hex>,v1=<hex>`); a consumer accepts any one that verifies.
 */
export function webhookSignatures(secrets: string | readonly string[], id: string, unixSeconds: number, body: string): Record<string, string> {
  const keys = (typeof secrets === 'string' ? [secrets] : secrets).map(signingKey);
  if (keys.length === 0) throw new Error('a webhook needs at least one signing secret');
  const standard = keys.map((key) => `v1,${createHmac('sha256', key).update(`${id}.${unixSeconds}.${body}`).digest('base64')}`);
  const cachet = keys.map((key) => `v1=${createHmac('sha256', key).update(`${unixSeconds}.${body}`).digest('hex')}`);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(unixSeconds),
    'webhook-signature': standard.join(' '),
    'x-cachet-signature': `t=${unixSeconds},${cachet.join(',')}`,
  };
}

/** What a consumer receives (the webhook's JSON body; a file and a command get the token alone). */
export interface DeliveryPayload {
  key_id: number;
  prefix: string;
  token: string;
  expires_at: string | null;
  replaces_id: number;
}

export type DeliveryResult = { ok: true } | { ok: false; error: string };

export interface DelivererOptions {
  /** `CACHET_WEBHOOK_ALLOW_PRIVATE`. */
  allowPrivate: boolean;
  /** Longest a webhook or command may take. */
  timeoutMs: number;
}

/** Delivers payloads to targets. */
export function createDeliverer(options: DelivererOptions) {
  async function toFile(file: string, payload: DeliveryPayload): Promise<DeliveryResult> {
    try {
      writeSecretFile(file, payload.token + '\n');
      return { ok: true };
    } catch (err) {
      return { ok: false, error: `file ${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
  }

  async function toWebhook(url: string, payload: DeliveryPayload, secret: string | null): Promise<DeliveryResult> {
    if (secret === null) return { ok: false, error: 'webhook: the policy has no signing secret; set the policy again' };
    const body = JSON.stringify(payload);
    const headers = { ...webhookSignatures(secret, `msg_${randomUUID()}`, Math.floor(Date.now() / 1000), body), 'user-agent': 'cachet-ts key delivery' };
    try {
      const status = await postTo(new URL(url), body, headers, options);
      return status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `webhook ${new URL(url).origin}: answered ${status}` };
    } catch (err) {
      return { ok: false, error: `webhook ${new URL(url).origin}: ${err instanceof OutboundError ? err.message : 'request failed'}` };
    }
  }

  function toCommand(argv: string[], payload: DeliveryPayload): Promise<DeliveryResult> {
    return new Promise((resolve) => {
      const program = argv[0]!;
      // The token goes on stdin only: argv and the environment are visible to other users (ps, /proc).
      const child = spawn(program, argv.slice(1), {
        stdio: ['pipe', 'ignore', 'ignore'],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          CACHET_KEY_ID: String(payload.key_id),
          CACHET_KEY_PREFIX: payload.prefix,
          CACHET_KEY_REPLACES_ID: String(payload.replaces_id),
          CACHET_KEY_EXPIRES_AT: payload.expires_at ?? '',
        },
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
      });
      let settled = false;
      const finish = (result: DeliveryResult) => {
        if (!settled) resolve(result);
        settled = true;
      };
      child.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: `command ${program}: cannot run (${err.code ?? 'error'})` }));
      child.on('close', (code, signal) => {
        if (code === 0) finish({ ok: true });
        else if (signal) finish({ ok: false, error: `command ${program}: stopped by ${signal}${signal === 'SIGKILL' ? ` (no exit within ${options.timeoutMs} ms?)` : ''}` });
        else finish({ ok: false, error: `command ${program}: exited with status ${code}` });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(payload.token + '\n');
    });
  }

  return {
    /** Hands `payload` to `target`; `secret` signs webhooks. */
    deliver(target: DeliveryTarget, payload: DeliveryPayload, secret: string | null): Promise<DeliveryResult> {
      switch (target.type) {
        case 'file':
          return toFile(target.path, payload);
        case 'webhook':
          return toWebhook(target.url, payload, secret);
        case 'command':
          return toCommand(target.argv, payload);
      }
    },
  };
}

export type Deliverer = ReturnType<typeof createDeliverer>;
