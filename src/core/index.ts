/** The runtime-free domain shared by edge, relay and clients. Imports nothing but zod. */
export * from "./actions.ts";
export * from "./admin.ts";
export * from "./credentials.ts";
export * from "./errors.ts";
export * from "./event.ts";
export * from "./examples.ts";
export * from "./field-spec.ts";
export * from "./ids.ts";
export * from "./json.ts";
export * from "./limits.ts";
export * from "./protobuf.ts";
export * from "./push.ts";
export * from "./scenarios.ts";
export * from "./templates.ts";
export * from "./tenant.ts";
export * from "./tracking-config.ts";
export * from "./validate.ts";
