export { Dimm, DIRECT_STORE, JOURNAL_RECORDS_MAX_DEFAULT, PENDING_BYTES_MAX_DEFAULT } from "./dimm.js";
export type { DimmOptions, StoreMeta } from "./dimm.js";
