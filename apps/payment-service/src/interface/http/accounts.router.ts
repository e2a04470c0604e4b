import { validate } from '@msr/service-defaults';
import { Router } from 'express';
import { z } from 'zod';
import { getAccount } from '../../application/get-account.use-case.js';
import type { AccountRepository } from '../../domain/account.repository.js';
import { accountJson } from './representations.js';

const accountParams = z.object({ user_id: z.uuid() });

/**
 * `GET /accounts/{user_id}` → 200 {@link AccountJson}; 400 `REQUEST.INVALID` for a non-UUID id;
 * 404 `ACCOUNT.NOT_FOUND` when the user has no account.
 */
export function accountsRouter(accounts: AccountRepository): Router {
  const router = Router();
  router.get('/accounts/:user_id', async (req, res) => {
    const { user_id: userId } = validate(accountParams, req.params, 'params');
    res.json(accountJson(await getAccount(accounts, userId)));
  });
  return router;
}
