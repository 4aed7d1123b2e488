/**
 * Saves the media replay rebuilt as a DIMM image file (node/image's format), so the image tools
 * (`daxsim io`, `fsck`, `ls`, `cat`) open the node's DIMM as it was at that seq.
 *
 * Invariant: the image holds the durable media only — what a power loss keeping nothing pending
 * (policy strict) would leave — and its header hash equals DimmState.mediaSha256() of the replayed
 * state (checked after writing). Lines still in the cache are reported, not saved.
 */
import { CHUNK_BYTES } from "../node/index.js";
import type { DimmState } from "../node/index.js";
import { writeImage } from "../node/image/index.js";
import type { ImageHeader } from "../node/image/index.js";

export function writeMediaImage(state: DimmState, path: string): ImageHeader {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const header = writeImage(path, { dimmSizeBytes: state.sizeBytes, persistence: state.persistence }, (c) => {
    if (state.mem[c] === undefined) return undefined;
    state.readMedia(c * CHUNK_BYTES, chunk);
    return chunk;
  });
  const own = state.mediaSha256();
  if (!own.equals(header.mediaSha256)) {
    throw new Error(
      `writeMediaImage: wrote media hash ${header.mediaSha256.toString("hex")} but the replayed DIMM's is ${own.toString("hex")}`,
    );
  }
  return header;
}
