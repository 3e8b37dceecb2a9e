import { join } from "node:path";
import { type BuildOptions, build } from "esbuild";

/**
 * One minified, self-contained bundle of src/sdk/browser.ts and its parts in src/sdk/browser/ (from
 * src/core they import only types and the error table).
 */
const bundle = async (options: BuildOptions): Promise<string> => {
  const result = await build({
    entryPoints: [join(import.meta.dirname, "..", "..", "src", "sdk", "browser.ts")],
    bundle: true,
    minify: true,
    target: "es2020",
    write: false,
    logLevel: "silent",
    ...options,
  });
  return result.outputFiles?.[0]?.text ?? "";
};

/** The browser tracker as pages load it: one minified ES module. */
export const bundleTracker = () => bundle({ format: "esm" });

/**
 * The same for a `<script>` tag: one minified file that defines `window.BehaviorIngest`
 * (`BehaviorIngest.createTracker(…)`), for pages without a bundler.
 */
export const bundleTrackerScript = () => bundle({ format: "iife", globalName: "BehaviorIngest" });
