/**
 * The public surface of node/image: the DIMM image file format and moving a Machine in and out of it.
 */
export {
  ImageCorruptError,
  ImageError,
  ImageForeignError,
  ImageIoError,
  ImageNotFoundError,
  ImageInconsistentError,
  ImageTruncatedError,
  ImageVersionError,
} from "./errors.js";
export {
  IMAGE_HEADER_BYTES,
  IMAGE_VERSION,
  decodeHeader,
  encodeHeader,
  formatMediaHash,
  readImage,
  readImageHeader,
  writeImage,
} from "./image_file.js";
export type { DimmImage, ImageGeometry, ImageHeader } from "./image_file.js";
export { machineFromImage, saveImage, shutDown, syncAllFiles } from "./machine_image.js";
