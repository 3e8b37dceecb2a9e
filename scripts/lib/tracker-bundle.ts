import { join } from "node:path";
import { build } from "esbuild";

const entry = join(import.meta.dirname, "..", "..", "src", "sdk", "browser.ts");

/** The browser tracker as pages load it: one minified ES module, built from src/sdk/browser.ts. */
export const bundleTracker = async (): Promise<string> => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
};

/**
 * The same for a `<script>` tag: one minified file that defines `window.BehaviorIngest`
 * (`BehaviorIngest.createTracker(…)`), for pages without a bundler.
 */
export const bundleTrackerScript = async (): Promise<string> => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "iife",
    globalName: "BehaviorIngest",
    target: "es2020",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
};
