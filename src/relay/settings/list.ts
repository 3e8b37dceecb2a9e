import * as z from "zod";

/** A comma-separated list setting (blanks dropped), with the text it has when unset. */
export const listSetting = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) =>
      value
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean),
    );
