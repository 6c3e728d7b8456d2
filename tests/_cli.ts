/**
 * Test helper: run a command-line task's script as its own process, with the permissions its task in
 * deno.json gives it.
 *
 * @module
 */

/** The permissions of the data-writing tasks (train, eval, synth; ablate without --slurm --submit): no network, no subprocesses. */
const TASK_PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-sys"];

/** `deno run` of `cli/<script>` with `args`, stdout and stderr piped. */
export function taskCommand(script: string, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...TASK_PERMISSIONS, new URL(`../cli/${script}`, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  });
}
