// Parses an AsyncAPI document with the official parser and prints its verdict as JSON:
// {"parsed": bool, "diagnostics": [{code, message, path, severity}]} (severity 0 is an error).
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const text = readFileSync(process.argv[2], "utf8");
const { document, diagnostics } = await new Parser().parse(text);
const verdict = {
  parsed: document !== undefined,
  diagnostics: diagnostics.map(({ code, message, path, severity }) => ({
    code, message, path, severity,
  })),
};
process.stdout.write(JSON.stringify(verdict));
