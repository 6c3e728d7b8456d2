/**
 * A value as error messages show it: JSON, shortened to 60 characters (`nothing` for undefined; NaN and
 * the infinities by name). Used by the schemas that check configs and checkpoint states.
 *
 * @module
 */

/** `value` as JSON, cut to 60 characters, for an error message. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
