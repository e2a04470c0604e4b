import { BreakerRegistry } from '@msr/circuit-breaker';
import { createLoadBalancer, OutlierDetector, type InstanceSource } from '@msr/discovery';
import type { Health, Logger, Metrics } from '@msr/service-defaults';
import type { RequestListener } from 'node:http';
import { createApp } from './app.js';
import { ProxyService } from './application/proxy.service.js';
import { ResilientForwarder } from './application/resilient-forwarder.js';
import type { UpstreamClient } from './application/upstream.port.js';
import { breakerPolicy, jwtKeySource, retryBudgetPolicy, retryPolicy, serviceBreakerPolicy, type GatewayConfig } from './config.js';
import { JoseTokenVerifier } from './infrastructure/jose-token.verifier.js';

/** The outside world the gateway is wired to; `main.ts` passes the real ones, tests their own. */
export interface GatewayWorld {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  /** Usually `ServiceDiscovery` from `@msr/discovery`. */
  discovery: InstanceSource;
  /** Usually `UndiciUpstreamClient`. */
  upstream: UpstreamClient;
}

/**
 * Wires the gateway from its configuration (the composition shared by `main.ts` and the tests):
 * per upstream service a `ProxyService` (load balancing over discovery by `LOAD_BALANCING`, passive ejection of failing
 * instances, a breaker per instance, retries on another instance within the service's retry budget), wrapped in the service's
 * bulkhead and service breaker; bearer tokens verified with jose; the HTTP handler of `app.ts`.
 */
export function createGateway(config: GatewayConfig, world: GatewayWorld): RequestListener {
  const { logger, metrics } = world;
  const breakers = new BreakerRegistry({ logger, metricsRegistry: metrics.registry, policy: breakerPolicy(config) });
  const balancer = createLoadBalancer(config.LOAD_BALANCING);
  const outliers = new OutlierDetector({ logger, metricsRegistry: metrics.registry });
  const forwarder = new ResilientForwarder({
    forwarderFor: (service) =>
      new ProxyService({
        discovery: world.discovery,
        balancer,
        breakers,
        upstream: world.upstream,
        retry: { ...retryPolicy(config), budget: breakers.retryBudget(service, retryBudgetPolicy(config)) },
        logger,
        outliers,
      }),
    breakers,
    servicePolicy: serviceBreakerPolicy(config),
    maxConcurrentPerService: config.BULKHEAD_MAX_CONCURRENT,
  });
  const keys = jwtKeySource(config);
  if (keys.kind === 'secret' && keys.development) {
    logger.warn('JWT_SECRET is not set: bearer tokens are checked against the public development secret; set JWT_SECRET or JWT_JWKS_URL in production');
  }
  const tokens = new JoseTokenVerifier({
    keys: keys.kind === 'jwks' ? keys : { kind: 'secret', secret: keys.secret },
    ...(config.JWT_ISSUER === undefined ? {} : { issuer: config.JWT_ISSUER }),
    ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
  });
  return createApp({
    logger,
    health: world.health,
    metrics,
    routes: config.GATEWAY_ROUTES,
    forwarder,
    tokens,
    rateLimit: { limit: config.RATE_LIMIT_PER_MINUTE, windowMs: 60_000 },
    maxBodyBytes: config.MAX_BODY_BYTES,
    corsOrigins: config.CORS_ORIGINS,
  });
}
