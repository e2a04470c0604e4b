import { projectTestConfig } from '../../vitest.shared.ts';

// The chaos suite: the whole system as processes, on its own Kafka broker, while services crash.
export default projectTestConfig({ include: ['src/**/*.chaos.spec.ts'], testTimeoutMs: 300_000 });
