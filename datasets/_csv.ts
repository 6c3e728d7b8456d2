/**
 * A small CSV reader (RFC 4180 quoting within a line) that keeps line numbers for error messages,
 * and a writer for the caches the loaders produce.
 *
 * @module
 */
import { DatasetError } from "./types.ts";

/** One parsed CSV record and its 1-based line number. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Splits one line into fields; quoted fields may hold commas and doubled quotes. */
export function parseCsvLine(text: string, file: string, line: number): string[] {
  if (!text.includes('"')) return text.split(",");
  const fields: string[] = [];
  let i = 0;
  while (true) {
    if (text[i] === '"') {
      let value = "";
      i++;
      while (true) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new DatasetError("unterminated quoted field", { file, line });
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== ",") {
        throw new DatasetError(`unexpected character after a quoted field at column ${i + 1}`, {
          file,
          line,
        });
      }
      i++;
    } else {
      const comma = text.indexOf(",", i);
      if (comma < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, comma));
      i = comma + 1;
    }
    if (i === text.length) {
      fields.push("");
      return fields;
    }
  }
}

/** Iterates over the non-empty records of a CSV text (header included). */
export function* csvRecords(text: string, file: string): Generator<CsvRecord> {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    line++;
    let stop = end;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--;
    if (stop > start) yield { fields: parseCsvLine(text.slice(start, stop), file, line), line };
    start = end + 1;
  }
}

/** Finds a column by name in a header record (names compared trimmed, case-insensitive). */
export function findColumn(header: CsvRecord, name: string, file: string, required: true): number;
export function findColumn(
  header: CsvRecord,
  name: string,
  file: string,
  required: false,
): number | undefined;
export function findColumn(
  header: CsvRecord,
  name: string,
  file: string,
  required: boolean,
): number | undefined {
  const wanted = name.toLowerCase();
  const index = header.fields.findIndex((field) => field.trim().toLowerCase() === wanted);
  if (index < 0) {
    if (!required) return undefined;
    throw new DatasetError(
      `missing column "${name}" in header (found: ${header.fields.map((f) => f.trim()).join(", ")})`,
      { file, line: header.line },
    );
  }
  return index;
}

/** Quotes a CSV field when it needs it. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
