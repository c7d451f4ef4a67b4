// What a package database says about one installed package, whatever its format.

export interface InstalledPackage {
  /** Binary package name (`libssl3`, `openssl-libs`). */
  name: string;
  /** Unique per installed package: `name_version` (dpkg), the NEVRA (rpm). */
  identifier: string;
  /** Source package: the unit a distribution updates (all its binaries change together). */
  source: string;
  sourceVersion: string;
  /** Absolute paths as the database names them (before symlinks in the tree are resolved). */
  files: string[];
  /**
   * The package manager's files about this package that change whenever it does (dpkg's
   * `info/<pkg>.md5sums` and `.list`), among `files`.
   */
  metadata?: string[];
  /** Changelog entry times (seconds since the epoch), newest first when known. */
  changeTimes: number[];
}
