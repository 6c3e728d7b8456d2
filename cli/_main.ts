/**
 * The entry point shared by the command-line tasks: run `main`, exit with its code, and turn an
 * uncaught error into one `error: ...` line and exit code 1 (bad arguments return 2 from `main`).
 *
 * @module
 */

/** Runs a task's `main(args)` as the program. */
export async function runMain(main: (args: string[]) => Promise<number>): Promise<never> {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
