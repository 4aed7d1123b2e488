/**
 * The public surface of replay/: reading a node's event log back and rebuilding its media with the
 * same pure apply code the node uses (node/dimm/apply.ts). Filled in by the replay issue.
 */
export {};
