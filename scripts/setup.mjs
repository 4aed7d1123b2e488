#!/usr/bin/env node
// Idempotent set-up run before `npm start`, `npm test` and `npm run bench`, and by .ci/run.
// Plain Node with no dependencies (it runs before node_modules exists). It installs only what is
// missing and is quick when everything is there:
//   1. npm dependencies (npm ci), which also builds dist/ through the `prepare` script;
//   2. the Debian packages nats-server and sqlite3 (apt-get, when running as root on Debian);
//   3. dist/ rebuilt when a TypeScript source is newer than the last build.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (text) => process.stderr.write(`[setup] ${text}\n`);

function run(command, args, options = {}) {
  say(`${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.status !== 0) {
    say(`failed: ${command} ${args.join(" ")} (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

// 1. npm dependencies: install when node_modules is missing or older than the lockfile.
let installedNow = false;
const lock = join(root, "package-lock.json");
const installed = join(root, "node_modules", ".package-lock.json");
if (
  !existsSync(installed) ||
  mtime(lock) > mtime(installed) ||
  !existsSync(join(root, "node_modules", "sqlite3", "build"))
) {
  const before = Date.now();
  run("npm", existsSync(lock) ? ["ci"] : ["install"]);
  installedNow = mtime(join(root, "dist", "coordinator", "cli", "main.js")) >= before - 1000;
}

// 2. Debian packages: nats-server (the events, node and coordinator commands need it) and the
//    sqlite3 shell (docs/sqlite-schema.md's queries are written for it, and a test runs them there).
function findProgram(name) {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin"]) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
const missing = ["nats-server", "sqlite3"].filter((program) => findProgram(program) === undefined);
if (missing.length > 0) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (isRoot && existsSync("/usr/bin/apt-get")) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const first = spawnSync("apt-get", ["install", "-y", ...missing], { stdio: "inherit", env });
    if (first.status !== 0) {
      run("apt-get", ["update"], { env });
      run("apt-get", ["install", "-y", ...missing], { env });
    }
  } else {
    say(`missing: ${missing.join(", ")}; install with: sudo apt-get install -y ${missing.join(" ")}`);
    say("(or put the programs on PATH; the events, node and coordinator commands need nats-server)");
  }
}

// 3. dist/: rebuild when the sources differ from the ones of the last build made here. The
//    fingerprint (every .ts path with its size and mtime, plus tsconfig and package.json) is
//    written only after a successful build, so `tsc --noEmit` or an interrupted build never makes
//    a stale dist/ look current.
function sourceEntries(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceEntries(path, out);
    else if (entry.name.endsWith(".ts")) {
      const st = statSync(path);
      out.push(`${path}:${st.size}:${st.mtimeMs}`);
    }
  }
  return out;
}
const fingerprintFile = join(root, "dist", ".source-fingerprint");
const entries = [];
for (const d of ["proto", "node", "replay", "coordinator", "bench", "scripts"])
  if (existsSync(join(root, d))) sourceEntries(join(root, d), entries);
for (const f of ["tsconfig.json", "package.json"]) entries.push(`${f}:${mtime(join(root, f))}`);
const fingerprint = createHash("sha1").update(entries.sort().join("\n")).digest("hex");
let built = "";
try {
  built = readFileSync(fingerprintFile, "utf8").trim();
} catch {
  built = "";
}
if (installedNow) {
  // npm ci has just built dist/ from these sources through `prepare` (tsc, which fails the install
  // on any error), so a second build would change nothing.
  writeFileSync(fingerprintFile, `${fingerprint}\n`);
} else if (!existsSync(join(root, "dist", "coordinator", "cli", "main.js")) || built !== fingerprint) {
  say("building dist/ (tsc)");
  const tsc = spawnSync(
    process.execPath,
    [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"],
    { cwd: root, stdio: "inherit" },
  );
  // tsc emits JavaScript even when it reports type errors; `npm run typecheck` (and CI) fail on
  // those. Here a type error only warns, so one unfinished file does not stop every command.
  if (tsc.status !== 0)
    say(`tsc reported errors (exit ${tsc.status}); dist/ was still emitted — run \`npm run typecheck\``);
  if (!existsSync(join(root, "dist", "coordinator", "cli", "main.js"))) {
    say("the build produced no dist/coordinator/cli/main.js");
    process.exit(1);
  }
  writeFileSync(fingerprintFile, `${fingerprint}\n`);
}
