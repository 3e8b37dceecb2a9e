// The browser tracker's bundle: its minified and gzipped size against the 5 KiB goal.
import { gzipSync } from "node:zlib";
import { bundleTracker } from "../../scripts/lib/tracker-bundle.ts";

export const browserTrackerScenario = async () => {
  const bundle = await bundleTracker();
  return {
    minified_bytes: Buffer.byteLength(bundle),
    gzip_bytes: gzipSync(bundle, { level: 9 }).length,
    target_gzip_bytes: 5 * 1024,
  };
};
