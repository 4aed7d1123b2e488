/**
 * Why an image file cannot be used. Every class names one failure; its message says what is wrong
 * with which file and what to do about it. Reading never modifies the file, so after any of these
 * the file is exactly as it was.
 */

/** Base class: callers that only need "the image is unusable" check `instanceof ImageError`. */
export class ImageError extends Error {
  override readonly name: string = "ImageError";
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The file does not exist. */
export class ImageNotFoundError extends ImageError {
  override readonly name = "ImageNotFoundError";
}

/** The file exists but is not a daxsim image (wrong magic): some other file was named. */
export class ImageForeignError extends ImageError {
  override readonly name = "ImageForeignError";
}

/** A daxsim image written in a format version this build does not read. */
export class ImageVersionError extends ImageError {
  override readonly name = "ImageVersionError";
}

/** The file is shorter than its header says (an interrupted copy or download). */
export class ImageTruncatedError extends ImageError {
  override readonly name = "ImageTruncatedError";
}

/** The header checksum, a header field, the length or the media hash is wrong. */
export class ImageCorruptError extends ImageError {
  override readonly name = "ImageCorruptError";
}

/** The operating system refused a read or write (permissions, disk full, a directory ...). */
export class ImageIoError extends ImageError {
  override readonly name = "ImageIoError";
}

/** After a clean unmount the durable media is not a clean filesystem: saving it would store damage. */
export class ImageInconsistentError extends ImageError {
  override readonly name = "ImageInconsistentError";
}
