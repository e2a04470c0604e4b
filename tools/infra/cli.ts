// Entry point of `npm run infra:up` / `npm run infra:down` (`tsx tools/infra/cli.ts <command>`).
import { runInfraCli } from './src/cli.js';

process.exitCode = await runInfraCli(process.argv.slice(2));
