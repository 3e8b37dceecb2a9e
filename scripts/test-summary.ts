// The closing lines of `npm test` (scripts/test.sh), from vitest's JSON report: how many tests and
// files passed and failed, the time of each tier (its files' times added up: files run side by side,
// so the tiers add up to more than the run took) and the ten slowest files, for docs/testing.md.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { name: string; status: string; startTime: number; endTime: number }[];
}

const report = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as Report;
const files = report.testResults;
const failedFiles = files.filter((file) => file.status !== "passed");
const seconds = (file: Report["testResults"][number]) => (file.endTime - file.startTime) / 1000;
for (const tier of ["unit", "integration", "e2e"]) {
  const inTier = files.filter((file) => relative(process.cwd(), file.name).startsWith(`test/${tier}/`));
  const total = inTier.reduce((sum, file) => sum + seconds(file), 0);
  console.log(`${tier}: ${inTier.length} files, ${total.toFixed(1)} s of file time`);
}
console.log("slowest files:");
for (const file of [...files].sort((a, b) => seconds(b) - seconds(a)).slice(0, 10)) {
  console.log(`  ${seconds(file).toFixed(1).padStart(6)} s  ${relative(process.cwd(), file.name)}`);
}
for (const file of failedFiles) console.log(`failed: ${relative(process.cwd(), file.name)}`);
console.log(
  `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed; files: ${files.length - failedFiles.length} passed, ${failedFiles.length} failed`,
);
