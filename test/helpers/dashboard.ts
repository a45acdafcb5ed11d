/**
 * A browser without a browser for dashboard tests: a cookie jar over `inject`, forms sent with the
 * CSRF token of the page they came from, and users created as the CLI creates them.
 */
import type { LightMyRequestResponse } from 'fastify';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import { createAudited } from '../../src/features/audit/audited.js';
import { createAuditWriter } from '../../src/features/audit/audit.writer.js';
import { createKeysRepo } from '../../src/features/keys/keys.repo.js';
import { createKeysService } from '../../src/features/keys/keys.service.js';
import { createUsersService, type Role, type UserView } from '../../src/features/users/users.service.js';
import { testConfig, type TestApp } from './app.js';

export const TEST_PASSWORD = 'correct horse battery staple';

/** Creates a dashboard user as `cachet users create` would (audited as the system). */
export async function createUser(t: TestApp, email: string, role: Role = 'admin', password = TEST_PASSWORD): Promise<UserView> {
  const config = testConfig();
  const keys = createKeysService({ db: t.database.db, repo: createKeysRepo(), pepper: config.pepper, clock: t.clock, keyMaxTtlMs: config.keyMaxTtlMs, keyDefaultTtlMs: config.keyDefaultTtlMs });
  const users = createUsersService({ clock: t.clock, keys });
  const audited = createAudited(t.database.db, createAuditWriter({ repo: createAuditRepo(), clock: t.clock, pepper: config.pepper }));
  const result = await audited(systemContext('cachet users create'), (trx) => users.create(trx, { email, password, role }));
  if (!result.ok) throw new Error(result.error);
  return result.user;
}

/** The value of the first `_csrf` field in a page. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('the page has no CSRF field');
  return match[1]!;
}

export interface Visitor {
  /** Cookies the server has set (name → value). */
  cookies: Map<string, string>;
  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Posts a form as-is (no token added): for CSRF tests. */
  postRaw(url: string, form: Record<string, string | string[]>, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Loads `from` (default: `url`'s page), then posts `form` with that page's CSRF token. */
  submit(url: string, form: Record<string, string | string[]>, from?: string): Promise<LightMyRequestResponse>;
  signIn(email: string, password?: string): Promise<LightMyRequestResponse>;
  ip: string;
}

function encode(form: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) for (const v of [value].flat()) params.append(name, v);
  return params.toString();
}

/** A visitor with its own cookie jar, coming from `ip`. */
export function visitor(t: TestApp, ip = '127.0.0.1'): Visitor {
  const cookies = new Map<string, string>();
  const remember = (response: LightMyRequestResponse) => {
    for (const c of response.cookies) {
      const expired = c.maxAge === 0 || (c.expires instanceof Date && c.expires.getTime() <= Date.now());
      if (expired || c.value === '') cookies.delete(c.name);
      else cookies.set(c.name, c.value);
    }
    return response;
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("; ");
  const self: Visitor = {
    cookies,
    ip,
    async get(url, headers = {}) {
      return remember(await t.server.app.inject({ method: 'GET', url, remoteAddress: ip, headers: { cookie: cookieHeader(), ...headers } }));
    },
    async postRaw(url, form, headers = {}) {
      return remember(
        await t.server.app.inject({ method: 'POST', url, remoteAddress: ip, payload: encode(form), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(), ...headers } }),
      );
    },
    async submit(url, form, from) {
      const page = await self.get(from ?? url);
      return self.postRaw(url, { _csrf: csrfOf(page.body), ...form });
    },
    signIn(email, password = TEST_PASSWORD) {
      return self.submit('/dashboard/login', { email, password });
    },
  };
  return self;
}
