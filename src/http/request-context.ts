/** The `Time-Zone` request header (Cachet 2.x): the zone times render and parse in for one request. */
import type { FastifyRequest } from 'fastify';
import { canonicalTimeZone } from '../infra/time.js';
import { AppError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Zone for rendering and parsing times: the `Time-Zone` header, else CACHET_TIMEZONE. */
    timeZone: string;
  }
}

/**
 * The request's zone in its canonical spelling, or `fallback`; an unknown zone name is a 400.
 * Only canonical names are passed on: the raw header never reaches the date library's caches.
 */
export function requestTimeZone(headers: FastifyRequest['headers'], fallback: string): string {
  const header = headers['time-zone'];
  const given = (Array.isArray(header) ? header[0] : header)?.trim();
  if (given === undefined || given === '') return fallback;
  const zone = canonicalTimeZone(given);
  if (zone === null) throw new AppError(400, `The Time-Zone header "${given.slice(0, 64)}" is not a known time zone.`);
  return zone;
}
