/** The `Time-Zone` request header (Cachet 2.x): the zone times render and parse in for one request. */
import type { FastifyRequest } from 'fastify';
import { isValidTimeZone } from '../infra/time.js';
import { AppError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Zone for rendering and parsing times: the `Time-Zone` header, else CACHET_TIMEZONE. */
    timeZone: string;
  }
}

/** The request's zone, or `fallback`; an unknown zone name is a 400. */
export function requestTimeZone(headers: FastifyRequest['headers'], fallback: string): string {
  const header = headers['time-zone'];
  const zone = (Array.isArray(header) ? header[0] : header)?.trim();
  if (zone === undefined || zone === '') return fallback;
  if (!isValidTimeZone(zone)) throw new AppError(400, `The Time-Zone header "${zone.slice(0, 64)}" is not a known time zone.`);
  return zone;
}
