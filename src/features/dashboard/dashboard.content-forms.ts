/**
 * Form plumbing for the dashboard's content pages: typed input read from form fields, checked
 * against the API's own body schemas (the same rules and the same messages as the API), a
 * service's validation failure turned into form messages, list paging, and UTC times.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { PageRequest } from '../../db/paging.js';
import { AppError } from '../../http/errors.js';
import { validationMessages } from '../../http/validation.js';
import { formatCachetTime, parseCachetTime } from '../../infra/time.js';
import { field, type Kit } from './dashboard.kit.js';

/** The zone the dashboard reads and shows times in: `datetime-local` fields are UTC. */
export const DASHBOARD_ZONE = 'UTC';

/** Rows per list page. */
export const PER_PAGE = 50;

/** A value, or the messages saying why there is none. */
export type Checked<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Input shaped as an API body; an undefined field is left out (the API's default applies). */
export type Input = Record<string, unknown>;

/** What a form page shows again: each field as it was sent (or as stored), as text. */
export type FormValues = Record<string, string>;

/**
 * A check of `input` against an API body schema: the value as the service takes it, or the
 * API's messages (`The name field is required.`). Text holding a NUL character is refused first,
 * as the API's input stage does (PostgreSQL text cannot store one).
 *
 * @example const checkComponent = bodyChecker(CreateComponentBody);
 */
export function bodyChecker<S extends TSchema>(schema: S): (input: Input) => Checked<Static<S>> {
  const validator = Compile(schema);
  return (input) => {
    const clean = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
    const nul = Object.entries(clean)
      .filter(([, value]) => (typeof value === 'string' && value.includes('\u0000')) || (Array.isArray(value) && value.some((v) => typeof v === 'string' && v.includes('\u0000'))))
      .map(([name]) => `The ${name.replace(/_/g, ' ')} must not contain NUL characters.`);
    if (nul.length > 0) return { ok: false, errors: nul };
    if (validator.Check(clean)) return { ok: true, value: clean };
    return { ok: false, errors: validationMessages(validator.Errors(clean)) };
  };
}

const INTEGER = /^[+-]?\d{1,15}$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d{1,3})?$/i;

/** Readers of one form field each, shaped for an API body. */
export const form = {
  /** One line of text, trimmed. */
  text: (body: unknown, name: string): string => field(body, name).trim(),
  /** One line of text, trimmed; undefined when left blank. */
  optional(body: unknown, name: string): string | undefined {
    const value = field(body, name).trim();
    return value === '' ? undefined : value;
  },
  /** Several lines (Markdown, a template) as typed, with `\n` line ends. */
  multiline: (body: unknown, name: string): string => field(body, name).replace(/\r\n?/g, '\n'),
  /** A whole number; text that is not one is passed on as typed, so the check names the field. Undefined when blank. */
  integer(body: unknown, name: string): number | string | undefined {
    const value = field(body, name).trim();
    if (value === '') return undefined;
    return INTEGER.test(value) ? Number(value) : value;
  },
  /** A decimal number, as `integer`. */
  number(body: unknown, name: string): number | string | undefined {
    const value = field(body, name).trim();
    if (value === '') return undefined;
    const parsed = DECIMAL.test(value) ? Number(value) : NaN;
    return Number.isFinite(parsed) ? parsed : value;
  },
  /** A checkbox: ticked or not. */
  checked: (body: unknown, name: string): boolean => field(body, name) !== '',
};

/** The named fields of a sent form, as text, to show the form again with what was entered. */
export function sentValues(body: unknown, names: readonly string[]): FormValues {
  return Object.fromEntries(names.map((name) => [name, field(body, name)]));
}

/**
 * Runs a change. A validation failure the service throws (an AppError 400, thrown inside the
 * transaction, which then rolls back) comes back as form messages; anything else propagates.
 */
export async function attempt<T>(run: () => Promise<T>): Promise<Checked<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    if (error instanceof AppError && error.status === 400) return { ok: false, errors: error.details ?? [error.message] };
    throw error;
  }
}

/** Checks input, then runs the change with the checked value: the first failure's messages, or the result. */
export async function submit<V, T>(checked: Checked<V>, run: (value: V) => Promise<T>): Promise<Checked<T>> {
  return checked.ok ? attempt(() => run(checked.value)) : checked;
}

/** The list page a request asks for (`?page=`), in the given order. */
export function pageOf(request: FastifyRequest, sort: string | null, direction: 'asc' | 'desc'): PageRequest {
  const raw = (request.query as Record<string, unknown> | undefined)?.page;
  const page = typeof raw === 'string' && /^[1-9]\d{0,5}$/.test(raw) ? Number(raw) : 1;
  return { page, perPage: PER_PAGE, sort, direction };
}

/** Everything at once, for option lists (component and template pickers). */
export function everything(sort: string | null, direction: 'asc' | 'desc' = 'asc'): PageRequest {
  return { page: 1, perPage: 1000, sort, direction };
}

/** Links to the neighbouring pages of a list at `base`. */
export function pagerOf(page: PageRequest, total: number, base: string) {
  const pages = Math.max(1, Math.ceil(total / page.perPage));
  return {
    page: page.page,
    pages,
    total,
    prev: page.page > 1 ? `${base}?page=${Math.min(page.page - 1, pages)}` : null,
    next: page.page < pages ? `${base}?page=${page.page + 1}` : null,
  };
}

/** A time the API presented (`Y-m-d H:i:s`, UTC here) as a `datetime-local` value; '' for none. */
export function localInput(shown: string | null): string {
  return shown === null ? '' : shown.replace(' ', 'T');
}

/** A stored instant as the dashboard shows it. */
export function shownTime(iso: string | null): string {
  return iso === null ? '' : `${formatCachetTime(iso, DASHBOARD_ZONE)!} UTC`;
}

/** A `datetime-local` value (UTC) as unix seconds; undefined when blank, null when it is not a time. */
export function unixSeconds(text: string): number | undefined | null {
  if (text.trim() === '') return undefined;
  const iso = parseCachetTime(text, DASHBOARD_ZONE);
  return iso === null ? null : Math.floor(Date.parse(iso) / 1000);
}

/** Answers 404 for a record that is not there (audited as a refusal, as the API's are). */
export function notFound(kit: Kit, request: FastifyRequest, reply: FastifyReply, action: string, resourceType: string, id: number | null) {
  return kit.refuse(request, reply, { action, resourceType, resourceId: id, reason: 'not_found', status: 404 });
}
