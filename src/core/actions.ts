import * as z from "zod";

/**
 * Every action a client may report: the union of the typical actions of the eight
 * scenario types, 31 values. One enum for all scenarios; which actions are *typical* for a
 * scenario is a property of its template or tracking config, not of this enum.
 */
export const ACTION_TYPES = [
  "impression",
  "click",
  "view",
  "play",
  "play_end",
  "pause",
  "like",
  "share",
  "comment",
  "collect",
  "report",
  "add_cart",
  "order",
  "payment",
  "purchase",
  "read",
  "read_end",
  "add_playlist",
  "learn",
  "complete",
  "trial",
  "view_profile",
  "follow",
  "add_friend",
  "message",
  "ignore",
  "block",
  "positive_feedback",
  "negative_feedback",
  "dismiss",
  "not_interested",
] as const;

export const ActionType = z.enum(ACTION_TYPES).describe("What the user did with the item");
export type ActionType = z.infer<typeof ActionType>;
