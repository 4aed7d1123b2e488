/**
 * The public surface of node/xfs_io: an xfs_io work-alike over a simulated Machine (docs/io.md),
 * and the number syntax and output formats it shares with xfs_io.
 */
export { DEFAULT_OPEN_OPTIONS, IO_BUFFER_BYTES_MAX, SIGNAL_EXIT_STATUS, SIGNAL_MESSAGE, XfsIo } from "./xfs_io.js";
export type { OpenOptions, XfsIoOptions } from "./xfs_io.js";
export { cvtnum, cvtstr, dumpBuffer, reportIoTimes, timestr, timeval } from "./xfs_io_format.js";
export { STRERROR, cFixed, getopt, strtoll, strtoul } from "./c_lib.js";
