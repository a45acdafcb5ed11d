/**
 * Tells every instance that keys changed, so each drops its key cache at once. Two
 * implementations, chosen once in main.ts: none beyond the database's revision row (which every
 * instance polls, and which stays on as the fallback for a missed message), or Redis pub/sub.
 */
import type { Redis } from 'ioredis';

export interface ChangeBus {
  /** Announces a change (after its transaction committed). Never throws: the poll still carries it. */
  publish(): void;
  /** Calls `onChange` for every change announced by any instance, this one included. */
  subscribe(onChange: () => void): Promise<void>;
  close(): Promise<void>;
}

/** One instance, or the database poll alone: nothing to announce. */
export const pollOnlyBus: ChangeBus = {
  publish: () => undefined,
  subscribe: async () => undefined,
  close: async () => undefined,
};

/** Redis pub/sub on `<prefix>:key-changes`; `subscriber` is a connection of its own (subscribers can do nothing else). */
export function redisChangeBus(publisher: Redis, subscriber: Redis, prefix: string): ChangeBus {
  const channel = `${prefix}:key-changes`;
  return {
    publish() {
      publisher.publish(channel, String(Date.now())).catch(() => undefined);
    },
    async subscribe(onChange) {
      subscriber.on('message', (from: string) => {
        if (from === channel) onChange();
      });
      await subscriber.subscribe(channel).catch(() => undefined);
    },
    async close() {
      subscriber.disconnect();
    },
  };
}
