import { Router } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import { ProblemError, validate } from '@msr/service-defaults';
import { DeadLetterAlreadyReplayedError, DeadLetterNotFoundError, DeadLetterReplayError, getDeadLetter, listDeadLetters, type DeadLetter } from './dead-letters.js';
import type { InboxConsumer } from './inbox-consumer.js';

/** Most dead letters one `GET /admin/dead-letters` returns. */
export const maxListedDeadLetters = 1_000;

const listQuery = z.strictObject({
  consumer: z.string().min(1).optional(),
  status: z.enum(['pending', 'replayed'], { error: 'status must be pending or replayed' }).optional(),
  limit: z
    .string()
    .regex(/^\d+$/, { error: 'limit must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(1).max(maxListedDeadLetters))
    .default(100),
});

const idParams = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });

/** A dead letter on the wire (snake_case, times RFC 3339). */
export function deadLetterJson(deadLetter: DeadLetter) {
  return {
    id: deadLetter.id,
    consumer: deadLetter.consumer,
    topic: deadLetter.topic,
    partition: deadLetter.partition,
    offset: deadLetter.offset,
    message_id: deadLetter.messageId,
    type: deadLetter.type,
    key: deadLetter.key,
    headers: deadLetter.headers,
    value: deadLetter.value,
    error: deadLetter.error,
    attempts: deadLetter.attempts,
    created_at: deadLetter.createdAt,
    replayed_at: deadLetter.replayedAt,
    replay_attempts: deadLetter.replayAttempts,
    last_replay_error: deadLetter.lastReplayError,
  };
}

/**
 * The operators' dead-letter endpoints of a service that consumes (mount it on the service's
 * app; the gateway does not route `/admin`, so they are reachable only inside the network):
 * - `GET /admin/dead-letters?consumer=&status=pending|replayed&limit=` → `{data: [dead letter]}`,
 *   newest first (default 100, at most 1000);
 * - `GET /admin/dead-letters/{id}` → the dead letter; 404 `DEAD_LETTER.NOT_FOUND`;
 * - `POST /admin/dead-letters/{id}/replay` → 200 `{dead_letter_id, outcome, replayed_at}` after
 *   running its handler again (`InboxConsumer.replay`); 404 `DEAD_LETTER.NOT_FOUND`;
 *   409 `DEAD_LETTER.ALREADY_REPLAYED`; 409 `DEAD_LETTER.NO_CONSUMER` when its consumer group
 *   does not run in this process; 422 `DEAD_LETTER.REPLAY_FAILED` with the `reason` when it fails again.
 */
export function deadLettersRouter(options: { pool: Pool; consumers: readonly InboxConsumer[] }): Router {
  const router = Router();
  const consumers = new Map(options.consumers.map((consumer) => [consumer.name, consumer]));

  router.get('/admin/dead-letters', async (req, res) => {
    const query = validate(listQuery, req.query, 'query');
    const filter = { limit: query.limit, ...(query.consumer === undefined ? {} : { consumer: query.consumer }), ...(query.status === undefined ? {} : { status: query.status }) };
    res.json({ data: (await listDeadLetters(options.pool, filter)).map(deadLetterJson) });
  });

  router.get('/admin/dead-letters/:id', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const deadLetter = await getDeadLetter(options.pool, id);
    if (deadLetter === undefined) throw new ProblemError(404, 'DEAD_LETTER.NOT_FOUND', `No dead letter ${id}`);
    res.json(deadLetterJson(deadLetter));
  });

  router.post('/admin/dead-letters/:id/replay', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const deadLetter = await getDeadLetter(options.pool, id);
    if (deadLetter === undefined) throw new ProblemError(404, 'DEAD_LETTER.NOT_FOUND', `No dead letter ${id}`);
    const consumer = consumers.get(deadLetter.consumer);
    if (consumer === undefined) throw new ProblemError(409, 'DEAD_LETTER.NO_CONSUMER', `Consumer group ${deadLetter.consumer} does not run in this process`);
    try {
      const result = await consumer.replay(id);
      res.json({ dead_letter_id: result.deadLetterId, outcome: result.outcome, replayed_at: result.replayedAt });
    } catch (error) {
      if (error instanceof DeadLetterNotFoundError) throw new ProblemError(404, 'DEAD_LETTER.NOT_FOUND', error.message);
      if (error instanceof DeadLetterAlreadyReplayedError) throw new ProblemError(409, 'DEAD_LETTER.ALREADY_REPLAYED', error.message, { replayed_at: error.replayedAt });
      if (error instanceof DeadLetterReplayError) throw new ProblemError(422, 'DEAD_LETTER.REPLAY_FAILED', error.message, { reason: error.reason });
      throw error;
    }
  });

  return router;
}
