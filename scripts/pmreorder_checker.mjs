#!/usr/bin/env node
// A consistency checker for PMDK's pmreorder (`-c prog -p "node scripts/pmreorder_checker.mjs"`):
// pmreorder calls it with the raw DIMM media file (what `daxsim export --media` wrote and the store
// log registers) as the last argument, after applying one reordering of the stores. It mounts that
// media the way a node does after a power loss — journal recovery, then fsck of the result — and
// exits 0 when daxfs is consistent, 1 when not (pmreorder's convention). Messages go to stderr.
// Needs the built dist/ (npm install or npm run build).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = new URL("../dist/", import.meta.url);
const { Machine } = await import(new URL("node/machine.js", dist).href);
const { EventLog, NullSink, StepClock, CHUNK_BYTES } = await import(new URL("node/index.js", dist).href);

const path = process.argv[process.argv.length - 1];
if (path === undefined || path === fileURLToPath(import.meta.url)) {
  process.stderr.write("usage: pmreorder_checker.mjs MEDIA_FILE\n");
  process.exit(2);
}
const media = readFileSync(path);
if (media.length % CHUNK_BYTES !== 0) {
  process.stderr.write(`${path}: ${media.length} bytes is not a whole number of 1 MiB chunks\n`);
  process.exit(1);
}
try {
  const log = new EventLog(new NullSink(), new StepClock(1));
  const machine = Machine.fromMedia(log, { dimm: { sizeBytes: media.length } }, (c) => {
    const chunk = media.subarray(c * CHUNK_BYTES, (c + 1) * CHUNK_BYTES);
    return chunk.some((b) => b !== 0) ? chunk : undefined;
  });
  const report = machine.lastMount.fsck;
  if (report.clean) process.exit(0);
  process.stderr.write(
    `${path}: ${report.problems.length} fsck problem(s) after recovery; first: ${report.problems[0].kind}: ${report.problems[0].message}\n`,
  );
  process.exit(1);
} catch (error) {
  process.stderr.write(`${path}: cannot mount: ${error.message}\n`);
  process.exit(1);
}
