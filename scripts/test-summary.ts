// The closing lines of `npm test` (scripts/test.sh), from vitest's JSON report: how many tests and
// files passed and failed, and the ten slowest files with their time, for docs/testing.md.
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
console.log("slowest files:");
for (const file of [...files]
  .sort((a, b) => b.endTime - b.startTime - (a.endTime - a.startTime))
  .slice(0, 10)) {
  console.log(
    `  ${((file.endTime - file.startTime) / 1000).toFixed(1).padStart(6)} s  ${relative(process.cwd(), file.name)}`,
  );
}
for (const file of failedFiles) console.log(`failed: ${relative(process.cwd(), file.name)}`);
console.log(
  `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed; files: ${files.length - failedFiles.length} passed, ${failedFiles.length} failed`,
);
