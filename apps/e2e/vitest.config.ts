import { projectTestConfig } from '../../vitest.shared.ts';

// Whole-system tests: the five apps as separate processes, driven only through the gateway.
export default projectTestConfig({ include: ['src/**/*.e2e.spec.ts'], testTimeoutMs: 60_000 });
