/**
 * Test helper: the library's doc examples, found as `deno test --doc` finds them and run each in a
 * `deno run` process of its own.
 *
 * An example is a fenced code block in a JSDoc comment whose language is TypeScript or JavaScript (`ts`,
 * `typescript`, `js`, ...) and that is not marked `ignore`. It runs from a temporary file: its relative
 * imports are made absolute, and bare ones resolve through `deno.json`, as in the library.
 *
 * Why processes rather than `deno test --doc`: every `deno test` module costs about 0.1 s of CPU before
 * it runs anything (Deno's test runtime allocates and fills an 80 MB array for `Deno.bench` in each test
 * worker), and a `deno test` worker has no V8 code cache, so importing TensorFlow.js costs 0.3 s there
 * against 0.16 s under `deno run`. With 300 examples, most of them importing TensorFlow.js, that was
 * half of the suite's CPU time. Deno itself still type-checks the examples (`deno check --doc`).
 *
 * @module
 */
import { relative } from "node:path";
import { pathToFileURL } from "node:url";

/** A doc example: a runnable code block of a JSDoc comment. */
export interface Example {
  /** The file that holds it, relative to the root the examples were read under. */
  file: string;
  /** The line (from 1) of its opening fence. */
  line: number;
  /** Its code, the comment's leading `*` removed. */
  code: string;
}

/** The fence languages that run, as for `deno test --doc`. */
const RUNNABLE = new Set(["ts", "typescript", "mts", "cts", "tsx", "js", "javascript", "mjs", "cjs", "jsx"]);

/**
 * The examples of a source file: every fenced block of a runnable language, without the `ignore`
 * attribute, in its JSDoc comments (`/** ... *\/`).
 */
export function extractExamples(file: string, source: string): Example[] {
  const examples: Example[] = [];
  for (const comment of source.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const first = source.slice(0, comment.index).split("\n").length;
    const lines = comment[0].slice(3, -2).split("\n").map((line) => line.replace(/^\s*\*( |$)?/, ""));
    let open: { line: number; run: boolean; code: string[] } | undefined;
    lines.forEach((text, k) => {
      const fence = /^\s*```(.*)$/.exec(text);
      if (!open) {
        if (!fence) return;
        const [language = "", ...attributes] = fence[1].trim().split(/\s+/);
        open = { line: first + k, run: RUNNABLE.has(language) && !attributes.includes("ignore"), code: [] };
      } else if (fence && fence[1].trim() === "") {
        if (open.run) examples.push({ file, line: open.line, code: open.code.join("\n") + "\n" });
        open = undefined;
      } else {
        open.code.push(text);
      }
    });
    if (open) throw new Error(`${file}:${open.line}: a code block that is never closed`);
  }
  return examples;
}

/** The code with its relative module specifiers (`./x.ts`, `../y.ts`) resolved against `base`. */
export function absoluteImports(code: string, base: URL): string {
  // `from "./x"`, `import "./x"` and `import("./x")`.
  return code.replace(
    /(\b(?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*)\2/g,
    (_, lead, quote, specifier) => `${lead}${quote}${new URL(specifier, base).href}${quote}`,
  );
}

/** Every example of the `files` (absolute paths), named relative to `root`. */
export async function readExamples(root: string, files: readonly string[]): Promise<Example[]> {
  const all: Example[] = [];
  for (const path of files) all.push(...extractExamples(relative(root, path), await Deno.readTextFile(path)));
  return all;
}

/** How one example ran. */
export interface ExampleResult {
  example: Example;
  /** The process's exit code (`null` when it was killed at the time limit). */
  code: number | null;
  /** Its stdout, then its stderr. */
  output: string;
  /** Its wall time. */
  seconds: number;
}

/** Options of {@linkcode runExamples}. */
export interface RunExamplesOptions {
  /** The project root: the examples' files are named relative to it, and its `deno.json` configures them. */
  root: string;
  /** The `--allow-*` flags of the processes. */
  permissions: readonly string[];
  /** Processes at a time (default: the machine's cores). */
  concurrency?: number;
  /** Time limit of one example (default 300 s). */
  timeoutMs?: number;
}

/** Runs every example in a `deno run` process of its own, a few at a time; results in the examples' order. */
export async function runExamples(
  examples: readonly Example[],
  options: RunExamplesOptions,
): Promise<ExampleResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "ada-df-examples-" });
  const decoder = new TextDecoder();
  const results: ExampleResult[] = new Array(examples.length);
  let next = 0;
  const worker = async () => {
    while (next < examples.length) {
      const k = next++;
      const example = examples[k];
      const source = pathToFileURL(`${options.root}/${example.file}`);
      const path = `${dir}/${k}.ts`;
      await Deno.writeTextFile(path, absoluteImports(example.code, source));
      const start = performance.now();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--config", `${options.root}/deno.json`, ...options.permissions, path],
        cwd: options.root,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // it ended already
        }
      }, options.timeoutMs ?? 300_000);
      const out = await child.output();
      clearTimeout(timer);
      results[k] = {
        example,
        code: out.signal === "SIGKILL" ? null : out.code,
        output: decoder.decode(out.stdout) + decoder.decode(out.stderr),
        seconds: (performance.now() - start) / 1000,
      };
    }
  };
  try {
    const n = Math.max(1, options.concurrency ?? navigator.hardwareConcurrency);
    await Promise.all(Array.from({ length: Math.min(n, examples.length) }, worker));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return results;
}
