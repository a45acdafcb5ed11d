/**
 * What subscribers and webhooks are told: one event per fact worth telling (an incident reported
 * or updated, maintenance scheduled, started or completed, a component's status changed). An
 * event is made in the transaction of the change that caused it and carries everything its mails
 * and webhook bodies need, so delivery never reads state that may have changed since.
 */

export const EVENT_TYPES = [
  'incident.created',
  'incident.updated',
  'schedule.created',
  'schedule.started',
  'schedule.completed',
  'component.status_changed',
  // To webhooks only: the amplification guard held a key's notifications (the operator's alert),
  // and the scheduled key review's findings.
  'notifications.held',
  'keys.review',
] as const;

/** Events for operators: told to webhooks, never mailed to subscribers. */
export const WEBHOOK_ONLY: ReadonlySet<EventType> = new Set(['notifications.held', 'keys.review']);
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventIncident {
  id: number;
  name: string;
  /** 0 scheduled … 4 fixed (Cachet's numbers). */
  status: number;
  status_name: string;
  message: string;
  component_id: number;
  visible: boolean;
  occurred_at: string;
  /** The public page of the incident. */
  permalink: string;
}

export interface EventUpdate {
  id: number;
  status: number;
  status_name: string;
  message: string;
  created_at: string;
}

export interface EventSchedule {
  id: number;
  name: string;
  message: string;
  status: number;
  status_name: string;
  scheduled_at: string;
  completed_at: string | null;
  permalink: string;
}

export interface EventComponent {
  id: number;
  name: string;
  status: number;
  status_name: string;
  previous_status: number;
  previous_status_name: string;
}

export interface NotificationEvent {
  /** uuidv7; the webhook's `webhook-id`, and the seed of each mail's Message-ID. */
  id: string;
  type: EventType;
  /** ISO 8601 UTC. */
  at: string;
  /**
   * The component the event concerns (an incident's, a status change's), or null: subscribers of
   * that component are told, and subscribers to everything always are.
   */
  component_id: number | null;
  incident?: EventIncident;
  update?: EventUpdate;
  schedule?: EventSchedule;
  component?: EventComponent;
  held?: EventHeld;
  review?: EventReview;
}

export interface EventReview {
  days: number;
  keys_reviewed: number;
  /** Keys with a finding of that severity. */
  high: number;
  medium: number;
  low: number;
  /** The findings of high and medium severity, one line each (`key 7 (cachet_AbC…): wildcard: …`). */
  lines: string[];
}

export interface EventHeld {
  /** The held fan-out jobs: `cachet notifications release|drop ID`. */
  jobs: number[];
  key_id: number;
  key_prefix: string | null;
  /** What was held. */
  event_types: EventType[];
  budget_per_hour: number;
}
