import type { ServiceInstance } from './service-instance.js';

/** The client-side load-balancing strategies (seed 000's three plus least outstanding requests). */
export type LoadBalancingStrategy = 'round_robin' | 'random' | 'weighted' | 'least_outstanding';

/** Every strategy, e.g. to validate a configuration value with `z.enum(loadBalancingStrategies)`. */
export const loadBalancingStrategies = ['round_robin', 'random', 'weighted', 'least_outstanding'] as const satisfies readonly LoadBalancingStrategy[];

/**
 * Picks one instance of a service for each call. Pure apart from its own counters; never calls
 * the network.
 */
export interface LoadBalancer {
  readonly strategy: LoadBalancingStrategy;
  /** One of `instances`, or undefined when the list is empty. Call {@link release} once the call ends. */
  pick(serviceName: string, instances: readonly ServiceInstance[]): ServiceInstance | undefined;
  /** Tells the balancer a call to `instance` ended; only `least_outstanding` keeps count, others ignore it. */
  release(instance: ServiceInstance): void;
}

/** Options of {@link createLoadBalancer}. */
export interface LoadBalancerOptions {
  /** Uniform random numbers in `[0, 1)`; `Math.random` unless a test injects a sequence. */
  random?: () => number;
}

/**
 * Creates a load balancer:
 * - `round_robin`: each service's instances in turn (a counter per service, seed 000);
 * - `random`: uniformly at random;
 * - `weighted`: at random in proportion to `meta.weight` (a non-negative number; missing or
 *   invalid means 1; all zero means uniform), as seed 000's `weightedSelect`;
 * - `least_outstanding`: the power of two random choices: of two distinct instances drawn at
 *   random, the one with fewer calls in flight (counted between `pick` and `release`).
 */
export function createLoadBalancer(strategy: LoadBalancingStrategy, options: LoadBalancerOptions = {}): LoadBalancer {
  const random = options.random ?? Math.random;
  switch (strategy) {
    case 'round_robin':
      return new RoundRobinBalancer();
    case 'random':
      return new RandomBalancer(random);
    case 'weighted':
      return new WeightedBalancer(random);
    case 'least_outstanding':
      return new LeastOutstandingBalancer(random);
    default: {
      const unknown: never = strategy;
      throw new RangeError(`unknown load-balancing strategy ${String(unknown)}`);
    }
  }
}

function randomIndex(random: () => number, length: number): number {
  return Math.min(length - 1, Math.floor(random() * length));
}

class RoundRobinBalancer implements LoadBalancer {
  readonly strategy = 'round_robin';
  private readonly next = new Map<string, number>();

  pick(serviceName: string, instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (instances.length === 0) return undefined;
    const counter = this.next.get(serviceName) ?? 0;
    this.next.set(serviceName, (counter + 1) % Number.MAX_SAFE_INTEGER);
    return instances[counter % instances.length];
  }

  release(): void {}
}

class RandomBalancer implements LoadBalancer {
  readonly strategy = 'random';

  constructor(private readonly random: () => number) {}

  pick(_serviceName: string, instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (instances.length === 0) return undefined;
    return instances[randomIndex(this.random, instances.length)];
  }

  release(): void {}
}

/** `meta.weight` as a number: non-negative and finite, otherwise 1. */
export function weightOf(instance: ServiceInstance): number {
  const raw = instance.meta['weight'];
  if (raw === undefined || raw.trim() === '') return 1;
  const weight = Number(raw);
  return Number.isFinite(weight) && weight >= 0 ? weight : 1;
}

class WeightedBalancer implements LoadBalancer {
  readonly strategy = 'weighted';

  constructor(private readonly random: () => number) {}

  pick(_serviceName: string, instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (instances.length === 0) return undefined;
    const weights = instances.map(weightOf);
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    if (total === 0) return instances[randomIndex(this.random, instances.length)];
    let target = this.random() * total;
    for (const [index, instance] of instances.entries()) {
      target -= weights[index] ?? 0;
      if (target < 0) return instance;
    }
    // Floating-point rounding can leave target at exactly 0: the last instance with weight.
    return instances.findLast((_, index) => (weights[index] ?? 0) > 0);
  }

  release(): void {}
}

class LeastOutstandingBalancer implements LoadBalancer {
  readonly strategy = 'least_outstanding';
  private readonly outstanding = new Map<string, number>();

  constructor(private readonly random: () => number) {}

  /** Calls in flight to an instance, by id. */
  inFlight(instance: ServiceInstance): number {
    return this.outstanding.get(instance.id) ?? 0;
  }

  pick(_serviceName: string, instances: readonly ServiceInstance[]): ServiceInstance | undefined {
    if (instances.length === 0) return undefined;
    let chosen = instances[0];
    if (instances.length > 1) {
      const first = randomIndex(this.random, instances.length);
      // A second index drawn from the others, so the two choices are distinct.
      const offset = 1 + randomIndex(this.random, instances.length - 1);
      const second = (first + offset) % instances.length;
      const a = instances[first];
      const b = instances[second];
      if (a !== undefined && b !== undefined) chosen = this.inFlight(b) < this.inFlight(a) ? b : a;
    }
    if (chosen !== undefined) this.outstanding.set(chosen.id, this.inFlight(chosen) + 1);
    return chosen;
  }

  release(instance: ServiceInstance): void {
    const count = this.inFlight(instance) - 1;
    if (count > 0) this.outstanding.set(instance.id, count);
    else this.outstanding.delete(instance.id);
  }
}
