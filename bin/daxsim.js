#!/usr/bin/env node
// The daxsim CLI. Runs the compiled JavaScript in dist/ (built by `npm install` through the
// `prepare` script, or by `npm run build`); heavy modules load only in the subcommands that use them.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/coordinator/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write("daxsim: dist/ is missing; run `npm install` (or `npm run build`) in the daxsim folder first\n");
  process.exit(2);
}
const { runCli } = await import(main.href);
process.exitCode = await runCli(process.argv.slice(2));
