/**
 * The entry point shared by the command-line tasks: run `main`, exit with its code, and turn an
 * uncaught error into one `error: ...` line and exit code 1 (bad arguments return 2 from `main`).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { BACKEND_NAMES, type BackendName } from "../engine/backend.ts";

/** Runs a task's `main(args)` as the program. */
export async function runMain(main: (args: string[]) => Promise<number>): Promise<never> {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}

/** Where {@linkcode parseCommand} prints. */
export interface ParseCommandOutput {
  /** The usage text for `--help`. @default {console.log} */
  log?: (line: string) => void;
  /** The usage text after an argument error. @default {console.error} */
  error?: (line: string) => void;
}

/**
 * `parseArgs` for a task: an argument error prints the message and the usage and gives exit code 2;
 * `--help` (when the options define it) prints the usage and gives 0; otherwise the parsed arguments.
 */
export function parseCommand<T extends ParseArgsConfig>(
  config: T,
  usage: string,
  output: ParseCommandOutput = {},
): ReturnType<typeof parseArgs<T>> | number {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    (output.error ?? console.error)(`${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if ((parsed.values as Record<string, unknown>).help) {
    (output.log ?? console.log)(usage);
    return 0;
  }
  return parsed;
}

/**
 * The one run folder a task takes as its argument; any other count prints the error and the usage and
 * gives null (the task then exits with code 2).
 */
export function runFolderArgument(positionals: string[], usage: string): string | null {
  if (positionals.length === 1) return positionals[0];
  console.error(`expected one run folder, got ${positionals.length}\n\n${usage}`);
  return null;
}

/**
 * The `--checkpoint` value of a task, `best` or `last`; anything else prints the error through `error`
 * and gives null (the task then exits with code 2).
 */
export function checkpointOption(
  value: string | undefined,
  error: (line: string) => void = console.error,
): "best" | "last" | null {
  if (value === "best" || value === "last") return value;
  error(`--checkpoint must be best or last, got '${value}'`);
  return null;
}

/**
 * A positive whole-number option (`--batch`, `--threads`, ...): undefined when absent; anything else than a
 * positive integer prints the error through `error` and gives null (the task then exits with code 2).
 */
export function positiveIntOption(
  name: string,
  value: string | undefined,
  error: (line: string) => void = console.error,
): number | undefined | null {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (Number.isInteger(n) && n > 0) return n;
  error(`--${name} must be a positive integer, got '${value}'`);
  return null;
}

/**
 * The `--backend` option: undefined when absent; a name that is not a backend prints the error through
 * `error` and gives null (the task then exits with code 2).
 */
export function backendOption(
  value: string | undefined,
  error: (line: string) => void = console.error,
): BackendName | undefined | null {
  if (value === undefined) return undefined;
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  error(`--backend must be one of ${BACKEND_NAMES.join(", ")}, got '${value}'`);
  return null;
}
