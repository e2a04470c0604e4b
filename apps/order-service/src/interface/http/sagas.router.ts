import { SagaNotFoundError, SagaNotRetryableError } from '@msr/saga';
import { ProblemError, validate } from '@msr/service-defaults';
import { Router } from 'express';
import type { SagaOperations } from '../../application/sagas/saga-operations.js';
import { idParams, listSagasQuery } from './order.schemas.js';
import { sagaJson, sagaSummaryJson } from './representations.js';

/**
 * The saga endpoints for operators (not routed by the gateway):
 * - `GET /sagas?status=&type=&older_than=&limit=` → `{data: [saga without steps]}`, oldest first,
 *   e.g. `?status=COMPENSATION_FAILED` or `?status=AWAITING_REPLY&older_than=5m` for stuck ones;
 * - `GET /sagas/{id}` → the saga with its data, failure, step log and timeline; 404 `SAGA.NOT_FOUND`;
 * - `POST /sagas/{id}/retry` → 202 `{id, status}` after recording an operator retry of a parked
 *   `COMPENSATION_FAILED` or `FAILED` saga (it runs right after); 404 `SAGA.NOT_FOUND`;
 *   409 `SAGA.NOT_RETRYABLE` for any other status.
 */
export function sagasRouter(sagas: SagaOperations): Router {
  const router = Router();

  router.get('/sagas', async (req, res) => {
    const query = validate(listSagasQuery, req.query, 'query');
    const found = await sagas.list({
      limit: query.limit,
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.type === undefined ? {} : { type: query.type }),
      ...(query.older_than === undefined ? {} : { olderThanMs: query.older_than }),
    });
    res.json({ data: found.map(sagaSummaryJson) });
  });

  router.get('/sagas/:id', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    const saga = await sagas.get(id);
    if (saga === undefined) throw new ProblemError(404, 'SAGA.NOT_FOUND', `No saga with id ${id}`);
    res.json(sagaJson(saga));
  });

  router.post('/sagas/:id/retry', async (req, res) => {
    const { id } = validate(idParams, req.params, 'params');
    try {
      const status = await sagas.retry(id);
      res.status(202).location(`/sagas/${id}`).json({ id, status });
    } catch (error) {
      if (error instanceof SagaNotFoundError) throw new ProblemError(404, 'SAGA.NOT_FOUND', error.message);
      if (error instanceof SagaNotRetryableError) throw new ProblemError(409, 'SAGA.NOT_RETRYABLE', error.message);
      throw error;
    }
  });

  return router;
}
