import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { RequestRecorder } from "../request-log.ts";
import { type CallHeaders, rpcError, type UnaryHandlers } from "./service.ts";

/**
 * The relay's services on :50051 through `@grpc/grpc-js`, with the protobuf-es codecs and the same
 * handlers Connect serves on :8080. Connect's Node adapter costs about twice grpc-js's CPU per unary
 * call (an AbortController, async iterables and HTTP/2 compatibility streams per call); plain gRPC
 * clients are what :50051 is for, so it is served by the library made for exactly that.
 */
export const grpcJsService = (
  service: DescService,
  handlers: UnaryHandlers,
  log: Logger,
  record: RequestRecorder,
  /** The service's methods as they are read: BehaviorService's with its events raw (raw-requests.ts). */
  methods: readonly DescMethod[] = service.methods,
): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } => {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of methods) {
    const handler = handlers[method.localName];
    if (method.methodKind !== "unary" || handler === undefined) continue;
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      // grpc-js answers a request that fails to deserialize with INTERNAL, as if the fault were ours:
      // the handler below answers it as the client's (malformed_body, INVALID_ARGUMENT) instead.
      requestDeserialize: (bytes: Buffer) => {
        try {
          return fromBinary(method.input, bytes);
        } catch (error) {
          return new UndecodableRequest(error);
        }
      },
      requestSerialize: (message: unknown) => Buffer.from(toBinary(method.input, message as never)),
      responseSerialize: (init: unknown) =>
        Buffer.from(
          toBinary(method.output as DescMessage, create(method.output as DescMessage, init as never)),
        ),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
    implementation[method.name] = (
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const started = performance.now();
      const answered = (status: string) =>
        record({ route: method.name, method: "grpc", status, seconds: (performance.now() - started) / 1000 });
      const request = call.request;
      const answer =
        request instanceof UndecodableRequest
          ? Promise.reject(
              rpcError(
                "malformed_body",
                `the request is not a valid ${method.name} request: ${request.reason}`,
              ),
            )
          : handler(request, { requestHeader: headersOf(call.metadata) });
      answer.then(
        (response) => {
          answered("ok");
          callback(null, response);
        },
        (error: unknown) => {
          const status = statusOf(error, log);
          answered(grpc.status[status.code ?? grpc.status.UNKNOWN]?.toLowerCase() ?? "unknown");
          callback(status);
        },
      );
    };
  }
  return { definition, implementation };
};

/** A request message that did not decode, and why. */
class UndecodableRequest {
  readonly reason: string;

  constructor(error: unknown) {
    this.reason = error instanceof Error ? error.message : String(error);
  }
}

/** Call metadata read as request headers (the first value of a key, as text). */
const headersOf = (metadata: grpc.Metadata): CallHeaders => ({
  get: (name) => {
    const value = metadata.get(name)[0];
    return value === undefined ? null : value.toString();
  },
});

/** A handler's ConnectError as a gRPC status (their codes are gRPC's); anything else is INTERNAL. */
const statusOf = (error: unknown, log: Logger): Partial<grpc.StatusObject> => {
  if (!(error instanceof ConnectError)) {
    log.error({ err: error }, "unhandled error in a gRPC call");
    return { code: grpc.status.INTERNAL, details: "something went wrong on our side; retry" };
  }
  const metadata = new grpc.Metadata();
  for (const [key, value] of error.metadata) metadata.set(key, value);
  return { code: error.code as number as grpc.status, details: error.rawMessage, metadata };
};

/** A grpc-js server for `services`, bounded like the rest of the relay. */
export const createGrpcServer = (
  services: ReturnType<typeof grpcJsService>[],
  limits: { maxConcurrentStreams: number; maxMessageBytes: number },
) => {
  const server = new grpc.Server({
    // Without a bound, a client that sends faster than the relay answers makes HTTP/2 buffer its calls
    // until the heap gives out; with it, the client waits.
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc.max_receive_message_length": limits.maxMessageBytes,
  });
  for (const { definition, implementation } of services) server.addService(definition, implementation);
  return {
    listen: (host: string, port: number) =>
      new Promise<number>((resolve, reject) =>
        server.bindAsync(
          `${host.includes(":") ? `[${host}]` : host}:${port}`,
          grpc.ServerCredentials.createInsecure(),
          (error, bound) => (error ? reject(error) : resolve(bound)),
        ),
      ),
    /** Ends every call and connection at once: close() runs after the relay stopped accepting work. */
    close: () => server.forceShutdown(),
  };
};
