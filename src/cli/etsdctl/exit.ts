/**
 * etcdctl's exit codes (etcdctl/ctlv3/command/error.go) and the error that carries one. A
 * command throws ExitError; the entry point prints `Error: <message>` on stderr, as etcdctl's
 * ExitWithError does, and exits with the code.
 */
import { EtsdError } from '../../util/errors.js';

export const ExitSuccess = 0;
export const ExitError = 1;
export const ExitBadConnection = 2;
/** For txn and watch input. */
export const ExitInvalidInput = 3;
/** A valid flag with an unsupported value (an output format a command has no printer for). */
export const ExitBadFeature = 4;
export const ExitInterrupted = 5;
export const ExitIO = 6;
export const ExitBadArgs = 128;

export class CtlExitError extends EtsdError {
  readonly exitCode: number;
  /** When set, printed instead of `Error: <message>` (etcdctl's Go panics print their own text). */
  readonly rawStderr: string | undefined;
  constructor(exitCode: number, message: string, rawStderr?: string) {
    super('ERR_ETSDCTL_EXIT', message);
    this.exitCode = exitCode;
    this.rawStderr = rawStderr;
  }
}

/** The stderr text etcdctl prints for an error. */
export function errorText(e: CtlExitError): string {
  return e.rawStderr ?? `Error: ${e.message}\n`;
}

/** etcdctl dereferences a missing response header in the fields printer and panics (exit 2). */
export function nilHeaderPanic(): CtlExitError {
  return new CtlExitError(ExitBadConnection, 'nil pointer dereference',
    'panic: runtime error: invalid memory address or nil pointer dereference\n');
}

/**
 * A flag cobra could not parse (unknown, or a bad value): cobra prints `Error: <msg>` and the
 * command's usage (on stdout), then etcdctl's main prints `Error: <msg>` again; exit code 1.
 * The usage text is not reproduced.
 */
export function flagError(message: string): CtlExitError {
  return new CtlExitError(ExitError, message, `Error: ${message}\n\nError: ${message}\n`);
}
