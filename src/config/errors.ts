// Configuration errors carry the place they come from, so the operator can go straight to it:
// `config/roost.conf line 12: Unknown setting: foo_bar` (Dovecot's wording where it has one).

export class ConfigError extends Error {
  constructor(
    /** The file's path as given (relative paths stay relative, as the operator wrote them). */
    readonly file: string,
    /** 1-based line number; 0 when the error concerns the file as a whole. */
    readonly line: number,
    /** The bare reason, without the location. */
    readonly reason: string,
    /** The setting the error is about, when there is one. */
    readonly setting?: string,
  ) {
    super(line > 0 ? `${file} line ${line}: ${reason}` : `${file}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** A bad value found while converting a string; the parser adds file, line and setting. */
export class ValueError extends Error {
  override readonly name = 'ValueError';
}
