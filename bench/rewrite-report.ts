// Writes a run's report again from its results, without running the bench: the Markdown and the three
// charts beside the results file, under the same date.
//   npm run bench:report -- bench/results/<date>.json
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { type BenchResult, writeReport } from "./report.ts";

const file = process.argv[2];
if (file === undefined || !file.endsWith(".json")) {
  console.error("usage: npm run bench:report -- bench/results/<date>.json");
  process.exit(2);
}
await writeReport(
  JSON.parse(readFileSync(file, "utf8")) as BenchResult,
  dirname(file),
  basename(file, ".json"),
);
