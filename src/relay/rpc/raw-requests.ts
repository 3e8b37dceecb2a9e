import { create, createFileRegistry, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { BehaviorService } from "../../gen/recommender/v1/behavior_pb.js";

/**
 * BehaviorService's requests as the relay reads binary calls: with each event left as its bytes.
 * A message field and a bytes field of the same number are the same on the wire, so these read every
 * request the contract's messages do; each event is then decoded on its own (`eventFromProtoBytes`),
 * and one that does not decode (a string that is not UTF-8, a Struct nested past protobuf's limit) is
 * refused alone, naming its field, where decoding the whole request failed the call with INTERNAL.
 * Internal to the relay: clients use protos/recommender/v1/behavior.proto.
 */
const bytesField = (name: string, repeated: boolean) => ({
  name,
  number: 1,
  type: FieldDescriptorProto_Type.BYTES,
  label: repeated ? FieldDescriptorProto_Label.REPEATED : FieldDescriptorProto_Label.OPTIONAL,
  jsonName: name,
});

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "relay/raw_requests.proto",
    package: "recommender.v1.raw",
    syntax: "proto3",
    messageType: [
      { name: "OneEvent", field: [bytesField("event", false)] },
      { name: "Events", field: [bytesField("events", true)] },
    ],
  }),
  () => undefined,
);
const message = (name: string) => registry.getMessage(`recommender.v1.raw.${name}`) as DescMessage;

/** TrackEvent and ValidateEvent take `{event}`, TrackEvents `{events}`: all field 1. */
const RAW_INPUTS: Record<string, DescMessage> = {
  trackEvent: message("OneEvent"),
  validateEvent: message("OneEvent"),
  trackEvents: message("Events"),
};

/** What a raw request holds: `event` as bytes, or `events` as a list of bytes. */
export interface RawEventRequest {
  event?: Uint8Array;
  events?: Uint8Array[];
}

/** BehaviorService's methods with the raw request messages above (Health is unchanged). */
export const rawBehaviorMethods: DescMethod[] = BehaviorService.methods.map((method) => {
  const input = RAW_INPUTS[method.localName];
  return input === undefined ? method : { ...method, input };
});
