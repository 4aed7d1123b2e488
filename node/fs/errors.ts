/**
 * errno-style failures of the simulated kernel. FsError carries the errno name; the syscall layer
 * turns it into a result ({ errno }) and never lets it escape as a crash of the node (S9).
 */

export type Errno =
  | "EPERM"
  | "ENOENT"
  | "EIO"
  | "EBADF"
  | "ENOMEM"
  | "EACCES"
  | "EFAULT"
  | "EBUSY"
  | "EEXIST"
  | "ENOTDIR"
  | "EISDIR"
  | "EINVAL"
  | "EMFILE"
  | "EFBIG"
  | "ENOSPC"
  | "ESPIPE"
  | "EROFS"
  | "EMLINK"
  | "ENAMETOOLONG"
  | "ENOTEMPTY"
  | "EOPNOTSUPP"
  | "ESRCH"
  | "EOVERFLOW"
  | "ENODEV";

export class FsError extends Error {
  override readonly name = "FsError";
  constructor(
    readonly errno: Errno,
    message: string,
  ) {
    super(`${errno}: ${message}`);
  }
}

/** The on-media image is not a daxsim filesystem, or is damaged beyond mounting. */
export class FsCorruptError extends Error {
  override readonly name = "FsCorruptError";
}

/** A signal delivered to a simulated process (the access is not performed). */
export type Signal = "SIGBUS" | "SIGSEGV";

export class SignalError extends Error {
  override readonly name = "SignalError";
  constructor(
    readonly signal: Signal,
    message: string,
  ) {
    super(`${signal}: ${message}`);
  }
}
