export {
  adminUrlFromEnv,
  createDatabaseIfMissing,
  createTestDatabase,
  databaseUrl,
  defaultAdminUrl,
  dropDatabase,
  ensureServiceDatabases,
  redactUrl,
  serviceDatabases,
  waitForPostgres,
  type ServiceDatabase,
  type TestDatabase,
} from './postgres.js';
export {
  brokerAddress,
  defaultKafkaStateDir,
  isOwnKafkaCommandLine,
  kafkaLayout,
  newClusterId,
  parseBrokerList,
  renderLog4jProperties,
  renderServerProperties,
  type KafkaLayout,
  type KafkaOptions,
} from './kafka-config.js';
export {
  ensureKafkaJars,
  kafkaPom,
  kafkaStatus,
  probeKafka,
  processCommandLine,
  startKafka,
  stopKafka,
  waitForKafka,
  type KafkaStartResult,
  type KafkaStatus,
  type KafkaStopResult,
  type ProgressLog,
} from './kafka.js';
export { bringUpInfrastructure, kafkaBrokersFromEnv, type Infrastructure, type InfrastructureOptions } from './infrastructure.js';
export { chooseInfrastructure, infrastructureMode, type ChooseOptions, type InfrastructureChoice, type InfrastructureMode, type InfrastructureSource } from './infrastructure-selection.js';
export {
  detectComposeCli,
  dockerEndpointCandidates,
  machineDockerLookup,
  pingDocker,
  probeDockerEngine,
  runCommand,
  type CommandRunner,
  type ComposeCli,
  type DockerEndpoint,
  type DockerLookup,
  type DockerProbeResult,
} from './docker-engine.js';
export {
  composeFilePath,
  loadComposeFile,
  parseComposeFile,
  postgresServiceLogin,
  serviceDependencies,
  serviceEnvironment,
  testcontainersComposeFilePath,
  type ComposeFile,
  type ComposeService,
  type PostgresServiceLogin,
} from './compose-file.js';
export {
  composeUpPlan,
  databaseServices,
  freePort,
  kafkaHostListenerPort,
  kafkaService,
  postgresUrl,
  startComposeInfrastructure,
  type ComposeInfrastructure,
  type ComposeStartOptions,
  type ComposeUpPlan,
} from './compose-infrastructure.js';
export { runInfraCli } from './cli.js';
export { pollUntil, type PollOptions } from './wait.js';
export { displayPath, infraDir, workspaceRoot } from './workspace.js';
