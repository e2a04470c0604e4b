export { NoHealthyInstanceError, RegistryError } from './errors.js';
export {
  createLoadBalancer,
  loadBalancingStrategies,
  weightOf,
  type LoadBalancer,
  type LoadBalancerOptions,
  type LoadBalancingStrategy,
} from './load-balancer.js';
export {
  defaultOutlierDetectionPolicy,
  OutlierDetector,
  outlierFailureOf,
  type OutlierDetectionPolicy,
  type OutlierDetectorOptions,
  type OutlierFailure,
  type OutlierInstance,
} from './outlier-detector.js';
export {
  RegistryClient,
  selfRegistration,
  type DiscoverOptions,
  type DiscoveryAnswer,
  type HealthCheckOptions,
  type LookupOptions,
  type RegisterOptions,
  type Registration,
  type RegistryClientOptions,
  type RegistryWatchEvent,
  type WatchOptions,
} from './registry-client.js';
export {
  ServiceDiscovery,
  type DiscoveryRegistry,
  type InstanceSource,
  type ServiceDiscoveryOptions,
} from './service-discovery.js';
export {
  defaultServiceRetryPolicy,
  ServiceHttpClient,
  type HttpMethod,
  type ServiceHttpClientOptions,
  type ServiceRequest,
  type ServiceResponse,
} from './service-http-client.js';
export { breakerNameFor, instanceBaseUrl, type InstanceHealth, type ServiceInstance } from './service-instance.js';
