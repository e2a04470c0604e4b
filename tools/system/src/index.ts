export { allScopes, devJwtSecret, mintDevToken, type DevTokenOptions } from './dev-token.js';
export { appEntryPoint, buildApps, appNames, logTail, startSystem, type AppName, type AppProcess, type RunningSystem, type SystemOptions } from './launcher.js';
export { PublicApi, type ApiResponse, type OrderView, type ProductView, type PublicApiOptions, type UserView } from './public-api.js';
export { createServiceTestDatabases, startTestSystem, type ServiceTestDatabases, type TestSystem, type TestSystemOptions } from './test-system.js';
