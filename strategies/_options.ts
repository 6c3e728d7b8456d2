/**
 * Validation of plugin options, shared by the plugin factories. Options may come from YAML, so every
 * value is checked at run time and an error names the factory and the option.
 *
 * @module
 */

/** The kinds of option values a factory accepts. */
export type OptionKind = "number" | "boolean" | "string";

/**
 * Checks that `options` is undefined or a plain object whose keys are all in `known` and whose values
 * have the declared kinds (undefined is always allowed: the default applies). Returns the options as
 * a record.
 */
export function checkOptions(
  owner: string,
  options: unknown,
  known: Record<string, OptionKind>,
): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new Error(
      `${owner}: options must be an object, got ${Array.isArray(options) ? "an array" : typeof options}`,
    );
  }
  const record = options as Record<string, unknown>;
  const names = Object.keys(known);
  for (const [key, value] of Object.entries(record)) {
    if (!(key in known)) {
      const list = names.length === 0 ? "none" : names.join(", ");
      throw new Error(`${owner}: unknown option "${key}"; known options: ${list}`);
    }
    if (value === undefined) continue;
    const kind = known[key];
    const ok = kind === "number"
      ? typeof value === "number" && Number.isFinite(value)
      : kind === "boolean"
      ? typeof value === "boolean"
      : typeof value === "string";
    if (!ok) {
      const expected = kind === "number" ? "finite number" : kind;
      throw new Error(`${owner}: option "${key}" must be a ${expected}, got ${JSON.stringify(value)}`);
    }
  }
  return record;
}

/** Throws unless `lo <= value <= hi`. */
export function checkRange(owner: string, key: string, value: number, lo: number, hi: number): void {
  if (value < lo || value > hi) {
    throw new Error(`${owner}: option "${key}" must lie in [${lo}, ${hi}], got ${value}`);
  }
}
