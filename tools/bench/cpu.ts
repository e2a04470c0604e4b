/**
 * CPU time of processes, from Linux `/proc`, for the benches' "CPU per request" figures. On a
 * machine the load generator shares with the system it measures, throughput says little about
 * where the cycles go; CPU time per request per process does.
 *
 * CPU time is read from the kernel's accounting, not from a profiler: a sampling profiler such as
 * V8's `--cpu-prof` samples wall time, so on saturated cores it charges the time a process waits
 * to run again (often just after a socket write woke its peer) to the function it was in.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc` times (`getconf CLK_TCK`; 100 on Linux). */
const ticksPerSecond = 100;

/**
 * The command name and CPU time (user + system, in µs) of process `pid`, from `/proc/<pid>/stat`,
 * and that of its children it has waited for (`cutime` + `cstime`: those that exited); undefined
 * when it is gone.
 */
function readStat(pid: number | string): { command: string; cpuUs: number; exitedChildrenCpuUs: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is parenthesised and may hold spaces: the other fields follow the last ')'.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // proc(5) fields 14 and 15 (utime, stime), counted from the state (field 3) at index 0.
  const ticks = Number(fields[11]) + Number(fields[12]);
  // Fields 16 and 17 (cutime, cstime).
  const childTicks = Number(fields[13]) + Number(fields[14]);
  return { command: stat.slice(stat.indexOf('(') + 1, close), cpuUs: (ticks * 1_000_000) / ticksPerSecond, exitedChildrenCpuUs: (childTicks * 1_000_000) / ticksPerSecond };
}

/** CPU time (user + system) process `pid` has used so far, in µs; undefined when it is gone or there is no `/proc`. */
export function processCpuUs(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : readStat(pid)?.cpuUs;
}

/**
 * CPU time (user + system) used so far by every live process whose command name is `command`
 * (e.g. `postgres`: the server and all its backends), and by their children that exited, in µs.
 * A backend that exits between two readings still counts: the server has reaped it, and its
 * time is in the server's `cutime`/`cstime` (connection pools close idle connections and open new
 * ones, so backends come and go under load). One that starts between them counts in full.
 */
export function commandCpuUs(command: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat?.command === command) total += stat.cpuUs + stat.exitedChildrenCpuUs;
  }
  return total;
}

/** CPU time the whole machine has been busy so far (every state but idle and I/O wait), summed over cores, in µs. */
export function machineCpuUs(): number {
  const [, ...ticks] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return ((user + nice + system + irq + softirq + steal) * 1_000_000) / ticksPerSecond;
}

/** Reads one CPU figure in µs (one of the functions above, bound to its process). */
export type CpuReading = () => number | undefined;

/**
 * Measures how much CPU each named reading grows by over a stretch of work.
 *
 * @example
 * const meter = new CpuMeter({ gateway: () => processCpuUs(pid), postgres: () => commandCpuUs('postgres') });
 * const done = meter.start();
 * await load();
 * const usedUs = done(); // { gateway: 812_000, postgres: 1_250_000 }
 */
export class CpuMeter {
  constructor(private readonly readings: Readonly<Record<string, CpuReading>>) {}

  /** Takes the first readings; the returned function takes the second and gives the differences in µs (absent where a reading failed). */
  start(): () => Record<string, number> {
    const before = Object.entries(this.readings).map(([name, read]) => [name, read()] as const);
    return () => {
      const used: Record<string, number> = {};
      for (const [name, start] of before) {
        const end = this.readings[name]?.();
        if (start !== undefined && end !== undefined) used[name] = end - start;
      }
      return used;
    };
  }
}
