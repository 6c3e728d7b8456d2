/**
 * The library's doc examples: Deno type-checks them (`deno check --doc`), and each runs in a process of
 * its own (`tests/_examples.ts`) with the permissions of `deno task test`; one step per example, named by
 * its file and line. Also the finding of the examples, on a fixture.
 */
import assert from "node:assert/strict";
import { absoluteImports, extractExamples, readExamples, runExamples } from "./_examples.ts";
import { LAYERS, libraryFiles, ROOT } from "./_library.ts";

/** The `--allow-*` flags of `deno task test`, read from `deno.json`: the examples get what the tests get. */
async function testPermissions(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as { tasks: { test: string } };
  const flags = config.tasks.test.split(/\s+/).filter((word) => word.startsWith("--allow-"));
  assert.ok(flags.length > 0, `no --allow-* flag in deno.json's test task: ${config.tasks.test}`);
  return flags;
}

Deno.test("extractExamples() finds the runnable code blocks of JSDoc comments, as deno test --doc does", () => {
  const source = [
    "// ```ts", //               1: not JSDoc
    "/**", //                     2
    " * Text.", //                3
    " *", //                      4
    " * ```ts", //                5: runs
    ' * import { a } from "./a.ts";', //
    " *   indented();", //
    " * ```", //                  8
    " * ```ts ignore", //         9: ignored
    " * notRun();", //
    " * ```", //
    " * ```sh", //                12: not code
    " * deno task train", //
    " * ```", //
    " * ```", //                  15: no language
    " * plain", //
    " * ```", //
    " */", //
    "export const a = 1;", //
    "/** ```js", //               20: runs, on the comment's first line
    " * run(1);", //
    " * ```", //
    " */", //
    "/* ```ts", //                24: not JSDoc
    " * ```", //
    " */", //
  ].join("\n");
  assert.deepEqual(extractExamples("x.ts", source), [
    { file: "x.ts", line: 5, code: 'import { a } from "./a.ts";\n  indented();\n' },
    { file: "x.ts", line: 20, code: "run(1);\n" },
  ]);
  assert.throws(() => extractExamples("y.ts", "/**\n * ```ts\n * open();\n */"), /y\.ts:2: .*never closed/);
});

Deno.test("absoluteImports() resolves relative specifiers against the example's file, and leaves the rest", () => {
  const base = new URL("file:///lib/datasets/open.ts");
  const code = [
    'import assert from "node:assert/strict";',
    'import { a, type B } from "./types.ts";',
    "import { c } from '../engine/tf.ts';",
    'import "./side_effect.ts";',
    'export { d } from "./d.ts";',
    'const m = await import("./lazy.ts");',
    'import * as v from "valibot";',
    'const text = "see ./types.ts";',
  ].join("\n");
  assert.equal(
    absoluteImports(code, base),
    [
      'import assert from "node:assert/strict";',
      'import { a, type B } from "file:///lib/datasets/types.ts";',
      "import { c } from 'file:///lib/engine/tf.ts';",
      'import "file:///lib/datasets/side_effect.ts";',
      'export { d } from "file:///lib/datasets/d.ts";',
      'const m = await import("file:///lib/datasets/lazy.ts");',
      'import * as v from "valibot";',
      'const text = "see ./types.ts";',
    ].join("\n"),
  );
});

Deno.test("runExamples(): a failing example fails with its output, a hanging one at the time limit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, "{}\n");
    await Deno.writeTextFile(`${dir}/helper.ts`, "export const two = 2;\n");
    const examples = [
      {
        file: "m.ts",
        line: 3,
        code: 'import { two } from "./helper.ts";\nif (two !== 2) throw new Error();\n',
      },
      {
        file: "m.ts",
        line: 9,
        code: 'import assert from "node:assert/strict";\nassert.equal(1, 2, "one is two");\n',
      },
      { file: "m.ts", line: 15, code: "setInterval(() => {}, 1000);\n" },
    ];
    const [ok, failed, hung] = await runExamples(examples, { root: dir, permissions: [], timeoutMs: 3000 });
    assert.equal(ok.code, 0, ok.output);
    assert.equal(failed.code, 1);
    assert.match(failed.output, /one is two/);
    assert.equal(hung.code, null);
    assert.ok(hung.seconds >= 2.9 && hung.seconds < 60, `${hung.seconds} s`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doc examples: each @example of the library type-checks and runs, in a process of its own", async (t) => {
  const files = [`${ROOT}mod.ts`, ...await libraryFiles(LAYERS.filter((layer) => layer !== "cli"))];
  const examples = await readExamples(ROOT, files);
  // Every public function and class has one (tests/docs_test.ts): far more than this.
  assert.ok(examples.length > 200, `only ${examples.length} examples found`);
  const permissions = await testPermissions();
  const check = new Deno.Command(Deno.execPath(), {
    args: ["check", "--doc", "--quiet", "--config", `${ROOT}deno.json`, ...files],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const results = await runExamples(examples, { root: ROOT, permissions });
  await t.step("deno check --doc", async () => {
    const out = await check;
    const decoder = new TextDecoder();
    assert.ok(out.success, decoder.decode(out.stdout) + decoder.decode(out.stderr));
  });
  for (const { example, code, output, seconds } of results) {
    await t.step(`${example.file}:${example.line}`, () => {
      const where = `the example at ${example.file}:${example.line}`;
      assert.notEqual(code, null, `${where} did not finish within the time limit:\n${output}`);
      assert.equal(code, 0, `${where} failed (exit code ${code}, ${seconds.toFixed(1)} s):\n${output}`);
    });
  }
});
