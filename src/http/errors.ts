/** One error envelope for the API (Cachet 2.x's): `{"errors":[{id,status,title,detail,meta?}]}`. */
import { randomUUID } from 'node:crypto';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Cachet's canned texts, used when an error has no message of its own. */
const DEFAULT_DETAILS: Record<number, string> = {
  400: 'The request cannot be fulfilled due to bad syntax.',
  401: 'Authentication is required and has failed or has not yet been provided.',
  403: 'The request was a legal request, but the server is refusing to respond to it.',
  404: 'The requested resource could not be found but may be available again in the future.',
  405: 'A request was made of a resource using a request method not supported by that resource.',
  406: 'The requested resource is only capable of generating content not acceptable.',
  413: 'The request body is larger than the server is willing to process.',
  415: 'The request body has a media type this resource does not accept.',
  429: 'Too many requests: slow down and retry later.',
  500: 'An error has occurred and this resource cannot be displayed.',
  503: 'The service is temporarily unavailable.',
};

/**
 * Why a request was refused: the closed catalogue of reason codes, each with its status and the
 * message a client sees. The code is the audit event's `reason`.
 */
export const REFUSALS = {
  key_missing: { status: 401, message: 'An API key is required: send it as X-Cachet-Token or Authorization: Bearer.' },
  key_malformed: { status: 401, message: 'The API key is malformed or its checksum does not match.' },
  key_conflict: { status: 401, message: 'Two different API keys were presented (X-Cachet-Token and Authorization): send one.' },
  authorization_malformed: {
    status: 401,
    message: 'The Authorization header is malformed: send "Authorization: Bearer <token>" with one token.',
  },
  key_unknown: { status: 401, message: 'The API key is not recognised.' },
  key_expired: { status: 401, message: 'The API key has expired.' },
  key_not_yet_valid: { status: 401, message: 'The API key is not valid yet: it may only be used from its not_before time.' },
  key_revoked: { status: 401, message: 'The API key has been revoked.' },
  key_rotated: { status: 401, message: 'The API key was rotated and its grace period is over: use the key that replaced it.' },
  scope_missing: { status: 403, message: 'This API key lacks the scope this request needs.' },
  ip_denied: { status: 403, message: 'This API key may not be used from this address.' },
  resource_denied: { status: 403, message: 'This API key may not act on this resource.' },
  escalation_denied: { status: 403, message: 'A key cannot create, widen or manage a key stronger than itself.' },
  rate_limited: { status: 429, message: 'Too many requests: slow down and retry later.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type RefusalReason = keyof typeof REFUSALS;

/**
 * An expected failure with the HTTP status it maps to; `details` become `meta.details` (validation).
 * It carries no stack trace: it is an answer, never logged as a fault, and capturing the stack was
 * the largest single cost of refusing a bad token (a profile put it at a sixth of the refusal).
 */
export class AppError extends Error {
  readonly status: number;
  readonly details?: string[];
  /** For a refusal: its code from `REFUSALS`. */
  readonly reason?: RefusalReason;

  constructor(status: number, detail?: string, details?: string[], reason?: RefusalReason) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(detail ?? DEFAULT_DETAILS[status] ?? TITLES[status] ?? 'Error');
    Error.stackTraceLimit = limit;
    this.status = status;
    this.details = details;
    this.reason = reason;
  }
}

/** A refusal from the catalogue; `detail` replaces the catalogue's message with a more specific one. */
export function refused(reason: RefusalReason, detail?: string): AppError {
  const entry = REFUSALS[reason];
  return new AppError(entry.status, detail ?? entry.message, undefined, reason);
}

/** A 400 carrying validation messages, as Cachet 2.4 reports them. */
export function validationError(details: string[]): AppError {
  return new AppError(400, DEFAULT_DETAILS[400], details);
}

/** A 404 for a missing resource. */
export function notFound(): AppError {
  return new AppError(404);
}

export interface ErrorObject {
  id: string;
  status: number;
  title: string;
  detail: string;
  meta?: { details: string[] };
}

/** The response body for an error. */
export function errorEnvelope(status: number, detail?: string, details?: string[]): { errors: ErrorObject[] } {
  const error: ErrorObject = {
    id: randomUUID(),
    status,
    title: TITLES[status] ?? 'Error',
    detail: detail ?? DEFAULT_DETAILS[status] ?? TITLES[status] ?? 'Error',
  };
  if (details) error.meta = { details };
  return { errors: [error] };
}

/** `value`, or a 404 when it is missing; thrown inside a transaction, it rolls the transaction back. */
export function found<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw notFound();
  return value;
}
