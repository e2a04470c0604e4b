/**
 * `npm run token`: prints a development bearer token for the gateway (HS256, the development
 * secret, every scope, valid for an hour), e.g.
 *
 *   curl -H "Authorization: Bearer $(npm run -s token)" http://127.0.0.1:8080/api/orders?user_id=...
 *
 * Options: `--scopes=orders:read,payments:read`, `--subject=alice`, `--expires-in=600` (seconds),
 * `--secret=...` (when the gateway runs with its own `JWT_SECRET`).
 */
import { parseArgs } from 'node:util';
import { mintDevToken } from './dev-token.js';

const { values } = parseArgs({
  options: {
    scopes: { type: 'string' },
    subject: { type: 'string' },
    'expires-in': { type: 'string' },
    secret: { type: 'string' },
  },
});

const token = await mintDevToken({
  ...(values.scopes === undefined ? {} : { scopes: values.scopes.split(',').map((scope) => scope.trim()).filter(Boolean) }),
  ...(values.subject === undefined ? {} : { subject: values.subject }),
  ...(values['expires-in'] === undefined ? {} : { expiresInSeconds: Number(values['expires-in']) }),
  ...(values.secret === undefined ? {} : { secret: values.secret }),
});
console.log(token);
