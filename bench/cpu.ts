// CPU time of processes from /proc (Linux): what a phase cost each process, per event. On a machine
// whose cores the broker, the relay, the edge and the load generator share, CPU time per event is
// disturbed much less by co-location than throughput or latency.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Clock ticks per second, the unit of /proc/<pid>/stat's times. */
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/**
 * User plus system CPU seconds from the text of /proc/<pid>/stat. The command name (field 2) is in
 * parentheses and may hold spaces and parentheses itself, so fields are counted after the last ")".
 */
export const cpuSecondsOfStat = (stat: string): number => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
};

/** CPU seconds a running process has used so far. */
export const cpuSeconds = (pid: number): number =>
  cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, "utf8"));

/** The CPU seconds of named processes, and this process's own, from now until `stop`. */
export const cpuMeter = (processes: () => Record<string, number | undefined>) => {
  const read = () =>
    Object.fromEntries(
      Object.entries(processes()).flatMap(([name, pid]) =>
        pid === undefined ? [] : [[name, cpuSeconds(pid)]],
      ),
    ) as Record<string, number>;
  const before = read();
  const ownBefore = process.cpuUsage();
  return {
    stop: () => {
      const after = read();
      const own = process.cpuUsage(ownBefore);
      return {
        processes: Object.fromEntries(
          Object.entries(after).map(([name, seconds]) => [name, seconds - (before[name] ?? seconds)]),
        ) as Record<string, number>,
        generator: (own.user + own.system) / 1e6,
      };
    },
  };
};

/** The CPU seconds of the children a process has waited for (cutime + cstime) from its /proc stat line. */
export const cpuSecondsOfChildren = (stat: string): number => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // cutime and cstime are fields 16 and 17 of the line: 14 and 15 after the name.
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
};
