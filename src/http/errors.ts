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

/** An expected failure with the HTTP status it maps to; `details` become `meta.details` (validation). */
export class AppError extends Error {
  readonly status: number;
  readonly details?: string[];

  constructor(status: number, detail?: string, details?: string[]) {
    super(detail ?? DEFAULT_DETAILS[status] ?? TITLES[status] ?? 'Error');
    this.status = status;
    this.details = details;
  }
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
