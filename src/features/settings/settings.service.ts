/**
 * The status page's settings, editable at run time: site name, about text (Markdown), an extra
 * stylesheet and the language of dates. The environment's values (CACHET_SITE_NAME, CACHET_ABOUT,
 * CACHET_STYLESHEET_URL, CACHET_LOCALE) are the defaults; a value stored in the `settings` table
 * (`page.site_name`, `page.about`, `page.stylesheet_url`, `page.locale`) overrides its default.
 */
import type { Executor } from '../../db/database.js';
import { recordChange } from '../audit/audit.changes.js';
import { createPageSettingsRepo, type PageSettingsRepo } from './settings.repo.js';

/** What the status page shows. */
export interface PageSettings {
  siteName: string;
  /** Markdown; the page renders it with raw HTML disabled. */
  about: string;
  /** An absolute http(s) URL of a stylesheet linked after the page's own; null for none. */
  stylesheetUrl: string | null;
  /** Language of the dates (a BCP 47 tag). */
  locale: string;
}

/** A change: only the fields given are changed. `stylesheetUrl` '' or null removes the stylesheet. */
export interface PageSettingsInput {
  siteName?: string;
  about?: string;
  stylesheetUrl?: string | null;
  locale?: string;
}

export type PageSettingsUpdate = { ok: true; settings: PageSettings } | { ok: false; errors: string[] };

export const SITE_NAME_MAX = 100;
export const ABOUT_MAX = 10_000;
export const STYLESHEET_URL_MAX = 500;
/** Longer than any language tag worth formatting dates in; keeps a stored value small. */
const LOCALE_MAX = 64;

/** The row each field is stored in. */
export const PAGE_SETTING_ROWS = {
  siteName: 'page.site_name',
  about: 'page.about',
  stylesheetUrl: 'page.stylesheet_url',
  locale: 'page.locale',
} as const satisfies Record<keyof PageSettings, string>;

const FIELDS = Object.keys(PAGE_SETTING_ROWS) as Array<keyof PageSettings>;

/** Length in characters (code points), as a person counts them. */
const lengthOf = (value: string): number => [...value].length;

type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

function checkSiteName(raw: unknown): Checked<string> {
  if (typeof raw !== 'string') return { ok: false, error: 'The site name must be a string.' };
  const value = raw.trim();
  if (value === '') return { ok: false, error: 'The site name is required.' };
  if (lengthOf(value) > SITE_NAME_MAX) return { ok: false, error: `The site name may not be greater than ${SITE_NAME_MAX} characters.` };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) return { ok: false, error: 'The site name may not contain line breaks or control characters.' };
  return { ok: true, value };
}

function checkAbout(raw: unknown): Checked<string> {
  if (typeof raw !== 'string') return { ok: false, error: 'The about text must be a string.' };
  if (lengthOf(raw) > ABOUT_MAX) return { ok: false, error: `The about text may not be greater than ${ABOUT_MAX} characters.` };
  return { ok: true, value: raw };
}

/**
 * A host the Content-Security-Policy can name (its host-source grammar: letters, digits and
 * hyphens between dots, or a bracketed IPv6 address). The URL parser lets `;` and `,` through in
 * a host, which would end the page's style-src directive and start another.
 */
const CSP_HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/i;

function checkStylesheetUrl(raw: unknown): Checked<string | null> {
  if (raw === null) return { ok: true, value: null };
  if (typeof raw !== 'string') return { ok: false, error: 'The stylesheet URL must be a string.' };
  const value = raw.trim();
  if (value === '') return { ok: true, value: null };
  if (value.length > STYLESHEET_URL_MAX) return { ok: false, error: `The stylesheet URL may not be greater than ${STYLESHEET_URL_MAX} characters.` };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, error: 'The stylesheet URL must be an absolute http: or https: URL, such as https://cdn.example.com/status.css.' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, error: 'The stylesheet URL must be an absolute http: or https: URL, such as https://cdn.example.com/status.css.' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, error: 'The stylesheet URL may not contain a user name or password.' };
  if (!CSP_HOST.test(url.hostname)) return { ok: false, error: "The stylesheet URL's host may contain only letters, digits, hyphens and dots." };
  if (url.href.length > STYLESHEET_URL_MAX) return { ok: false, error: `The stylesheet URL may not be greater than ${STYLESHEET_URL_MAX} characters.` };
  return { ok: true, value: url.href };
}

function checkLocale(raw: unknown): Checked<string> {
  const error = 'The locale must be a BCP 47 language tag this server can format dates in, such as en or de-CH.';
  if (typeof raw !== 'string') return { ok: false, error };
  const value = raw.trim();
  if (value === '' || value.length > LOCALE_MAX) return { ok: false, error };
  let supported: string[] = [];
  try {
    supported = Intl.DateTimeFormat.supportedLocalesOf(value);
  } catch {
    // not a well-formed tag
  }
  return supported.length > 0 ? { ok: true, value: supported[0]! } : { ok: false, error };
}

const CHECKS: { [F in keyof PageSettings]: (raw: unknown) => Checked<PageSettings[F]> } = {
  siteName: checkSiteName,
  about: checkAbout,
  stylesheetUrl: checkStylesheetUrl,
  locale: checkLocale,
};

/** Sets `field` of `target` from `raw` when it passes its check; the problem otherwise. */
function take<F extends keyof PageSettings>(target: Partial<PageSettings>, field: F, raw: unknown): string | null {
  const checked = CHECKS[field](raw);
  if (!checked.ok) return checked.error;
  target[field] = checked.value;
  return null;
}

/**
 * The fields of `input` in their stored form (trimmed, the URL and locale canonical), or every
 * problem found, each naming its field. Fields not given are absent from the result.
 */
export function validatePageSettings(input: PageSettingsInput): { ok: true; values: Partial<PageSettings> } | { ok: false; errors: string[] } {
  const values: Partial<PageSettings> = {};
  const errors: string[] = [];
  for (const field of FIELDS) {
    if (!Object.hasOwn(input, field) || input[field] === undefined) continue;
    const error = take(values, field, input[field]);
    if (error !== null) errors.push(error);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values };
}

/** How a value is stored: text, with no stylesheet as ''. */
function stored(field: keyof PageSettings, value: PageSettings[keyof PageSettings]): string {
  return field === 'stylesheetUrl' && value === null ? '' : String(value);
}

export interface PageSettingsServiceDeps {
  /** The environment's values, shown until a value is stored. */
  defaults: PageSettings;
  repo?: PageSettingsRepo;
}

export function createPageSettingsService({ defaults, repo = createPageSettingsRepo() }: PageSettingsServiceDeps) {
  const fallback: PageSettings = { ...defaults };

  /** The settings in effect: stored values over the defaults (a stored value that no longer passes its check is ignored). */
  async function get(db: Executor): Promise<PageSettings> {
    const rows = await repo.read(db, Object.values(PAGE_SETTING_ROWS));
    const settings: PageSettings = { ...fallback };
    for (const field of FIELDS) {
      const raw = rows.get(PAGE_SETTING_ROWS[field]);
      if (raw !== undefined) take(settings, field, raw);
    }
    return settings;
  }

  return {
    /** The environment's values. */
    defaults: fallback as Readonly<PageSettings>,

    get,

    /**
     * Validates `input` and stores the fields it gives, in the caller's transaction, recording the
     * change for the audit trail (`settings.update` on `settings` `page`, with the before and after
     * of the changed fields). Invalid input changes nothing; input that changes nothing records nothing.
     */
    async update(trx: Executor, input: PageSettingsInput): Promise<PageSettingsUpdate> {
      const checked = validatePageSettings(input);
      if (!checked.ok) return checked;
      await repo.lock(trx);
      const before = await get(trx);
      const after: PageSettings = { ...before, ...checked.values };
      const changed = FIELDS.filter((field) => after[field] !== before[field]);
      if (changed.length === 0) return { ok: true, settings: before };
      for (const field of changed) await repo.write(trx, PAGE_SETTING_ROWS[field], stored(field, after[field]));
      recordChange(trx, { resource: 'settings', id: 'page', before, after });
      return { ok: true, settings: after };
    },
  };
}

export type PageSettingsService = ReturnType<typeof createPageSettingsService>;
