/**
 * The Python of the tests that compare with PyTorch, NumPy or torchvision (Debian's `python3-torch`,
 * `python3-torchvision`), and whether it has a module.
 *
 * @module
 */

/** The interpreter (Debian's, where `.ci/run` installs the reference packages). */
export const PYTHON = "/usr/bin/python3";

/**
 * `""` where {@linkcode PYTHON} runs and finds every one of `modules`, else the reason a test that
 * needs them is skipped, to append to its name: ` (skipped: /usr/bin/python3 cannot find torch)`.
 */
export function pythonSkipReason(...modules: string[]): string {
  return pythonHas(...modules) ? "" : ` (skipped: ${PYTHON} cannot find ${modules.join(" and ")})`;
}

/**
 * Whether {@linkcode PYTHON} runs and finds every one of `modules`. It looks them up
 * (`importlib.util.find_spec`) without importing them: importing torch takes about 2 s of CPU, which
 * the reference script pays again. An installed module that fails to import fails its test, with
 * Python's error, instead of skipping it.
 */
export function pythonHas(...modules: string[]): boolean {
  const script = "import importlib.util, sys\n" +
    "sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 1)";
  try {
    return new Deno.Command(PYTHON, { args: ["-c", script, ...modules], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
