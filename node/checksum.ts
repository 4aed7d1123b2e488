/**
 * CRC-32 (IEEE 802.3, reflected; the zlib/PNG one), table-driven in JavaScript. It gives the same
 * values as zlib.crc32, including continuation (`crc32(b, crc32(a))` = CRC of a‖b). daxfs checks
 * inodes, directory entries, the superblock and journal records with it, and the image file its
 * header. Node's zlib.crc32 serializes across worker threads here, which stopped crash-image
 * checking from scaling with threads; this one does not.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array, initial = 0): number {
  let crc = ~initial;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
