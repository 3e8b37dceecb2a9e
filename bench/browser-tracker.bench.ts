// Records the size of the browser tracker as pages load it (target: at most 5 KB gzipped).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bundleTracker } from "../scripts/lib/tracker-bundle.ts";

const bundle = await bundleTracker();
const result = {
  benchmark: "browser tracker bundle size (esbuild, minified ES module)",
  date: new Date().toISOString(),
  minified_bytes: Buffer.byteLength(bundle),
  gzip_bytes: gzipSync(bundle, { level: 9 }).length,
  target_gzip_bytes: 5 * 1024,
};
writeFileSync(
  join(import.meta.dirname, "results", "browser-tracker.json"),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(result);
