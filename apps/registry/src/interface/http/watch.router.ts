import type { Request, Response } from 'express';
import { Router } from 'express';
import { validate } from '@msr/service-defaults';
import { z } from 'zod';
import type { RegistryService } from '../../application/registry.service.js';
import type { WatchHub, WatchTransport } from '../../application/watch-hub.js';
import { toServerSentEvent } from './instance.presenter.js';
import { lastEventIndex, watchQuerySchema } from './query.schema.js';

const nameParams = z.object({ name: z.string().min(1).max(128) });

/** What {@link watchRouter} needs. */
export interface WatchRouterDeps {
  registry: RegistryService;
  hub: WatchHub;
  /** How often an idle stream gets a keep-alive comment, in ms, so clients and proxies can tell it is alive. */
  keepAliveMs: number;
}

/**
 * Watches as Server-Sent Events (seed 003's watch, with Consul's indexes):
 * - `GET /v1/watch`: every service's changes;
 * - `GET /v1/services/{name}/watch`: one service's changes.
 *
 * Each event's `id` is its catalog index and its `event` is `added`, `updated` or `removed`
 * (`data`: `{index, type, service, instance, reason?, cause?}`). A new stream starts with a
 * `snapshot` event (`data`: `{index, type, warming, instances}`); one resumed with
 * `Last-Event-ID` or `?index=N` gets the events after N instead, or a snapshot when they are no
 * longer in the history. A client too slow to read is cut off and may resume the same way.
 */
export function watchRouter({ registry, hub, keepAliveMs }: WatchRouterDeps): Router {
  const router = Router();

  function stream(req: Request, res: Response, service: string | undefined): void {
    const { index } = validate(watchQuerySchema, req.query, 'query');
    const afterIndex = index ?? lastEventIndex(req.get('last-event-id'));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-registry-index': String(registry.index),
      // A stream is the connection's last exchange: when it ends, the socket goes too, so a
      // server shutting down is not kept waiting for idle keep-alive connections.
      connection: 'close',
    });
    // EventSource clients reconnect after this many ms.
    res.write('retry: 1000\n\n');
    const keepAlive = setInterval(() => {
      if (!res.writableNeedDrain) res.write(': keep-alive\n\n');
    }, keepAliveMs);
    const transport: WatchTransport = {
      send: (message) => res.write(toServerSentEvent(message)),
      onDrain: (callback) => res.on('drain', callback),
      close: (reason) => {
        clearInterval(keepAlive);
        // A dropped watcher's backlog is thrown away with its socket; otherwise the stream ends cleanly.
        if (reason === 'dropped') res.destroy();
        else if (!res.writableEnded) res.end();
      },
    };
    const unwatch = hub.watch({ ...(service === undefined ? {} : { service }), ...(afterIndex === undefined ? {} : { afterIndex }) }, transport);
    res.once('close', () => {
      clearInterval(keepAlive);
      unwatch();
    });
  }

  router.get('/v1/watch', (req, res) => stream(req, res, undefined));
  router.get('/v1/services/:name/watch', (req, res) => {
    const { name } = validate(nameParams, req.params, 'params');
    stream(req, res, name);
  });
  return router;
}
