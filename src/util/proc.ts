/** Facts about processes from /proc. */
import { readFileSync } from 'node:fs';

/** The start time of a process (field 22 of /proc/PID/stat, clock ticks since boot); undefined when it is gone. */
export function processStartTime(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces and parentheses: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}
