import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A recorder of one run of the benchmark `name`: each call writes the run's results (again, whole) to
 * bench/results/<date>-<name>.json, the date being the run's start, so a run cut short keeps what it
 * had measured.
 */
export const resultsOf = (name: string) => {
  const dir = join(import.meta.dirname, "results");
  const file = join(dir, `${new Date().toISOString().slice(0, 19).replaceAll(":", "-")}-${name}.json`);
  return (results: unknown) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  };
};
