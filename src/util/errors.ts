/**
 * One error model for the whole product (moby errdefs style): every error we raise on purpose is a
 * NestlingError with a stable `code` (E_<AREA>_<WHAT>), a category that decides the exit code and the HTTP status,
 * a one-line `hint` with the next step, and machine-readable `details` for --json output.
 *
 * Match on `code` (documented in docs/errors.md), or on the category through `isNestlingError`: instances are
 * branded with Symbol.for so that two copies of the package still recognise each other's errors.
 */

export const ErrorCategory = {
  Usage: 'usage',
  Config: 'config',
  Environment: 'environment',
  Engine: 'engine',
  PolicyDenied: 'policy-denied',
  Timeout: 'timeout',
  Internal: 'internal',
} as const;
export type ErrorCategory = (typeof ErrorCategory)[keyof typeof ErrorCategory];

/** Exit codes of the CLI; the table is repeated in docs/exit-codes.md and each code is tested end to end. */
export const ExitCode = {
  Ok: 0,
  Internal: 1,
  Usage: 2,
  Environment: 3,
  Engine: 4,
  PolicyDenied: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const brand = Symbol.for('nestling.error');

export interface NestlingErrorOptions {
  code: string;
  category: ErrorCategory;
  hint?: string | undefined;
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

export class NestlingError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(message: string, options: NestlingErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NestlingError';
    this.code = options.code;
    this.category = options.category;
    this.hint = options.hint;
    this.details = options.details ?? {};
    Object.defineProperty(this, brand, { value: true });
  }

  get exitCode(): ExitCode {
    return exitCodeForCategory(this.category);
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      category: this.category,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

/** An error the engine returned (non-2xx) or a failure to talk to it at all. */
export class EngineError extends NestlingError {
  readonly statusCode: number | undefined;
  readonly engineMessage: string | undefined;
  readonly route: string | undefined;
  constructor(
    message: string,
    options: Omit<NestlingErrorOptions, 'category'> & { statusCode?: number; engineMessage?: string; route?: string },
  ) {
    super(message, { ...options, category: ErrorCategory.Engine });
    this.name = 'EngineError';
    this.statusCode = options.statusCode;
    this.engineMessage = options.engineMessage;
    this.route = options.route;
  }
}

export function isNestlingError(e: unknown): e is NestlingError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[brand] === true;
}

function exitCodeForCategory(c: ErrorCategory): ExitCode {
  switch (c) {
    case 'usage':
    case 'config':
      return ExitCode.Usage;
    case 'environment':
      return ExitCode.Environment;
    case 'engine':
    case 'timeout':
      return ExitCode.Engine;
    case 'policy-denied':
      return ExitCode.PolicyDenied;
    case 'internal':
      return ExitCode.Internal;
  }
}

/** Walks the `cause` chain and returns the first NestlingError (moby FromError). */
export function findNestlingError(e: unknown): NestlingError | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 16 && cur !== undefined && cur !== null; i++) {
    if (isNestlingError(cur)) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export function exitCodeFor(e: unknown): ExitCode {
  const ne = findNestlingError(e);
  return ne ? ne.exitCode : ExitCode.Internal;
}

export function httpStatusFor(e: unknown): number {
  const ne = findNestlingError(e);
  if (!ne) return 500;
  switch (ne.category) {
    case 'usage':
    case 'config':
      return 400;
    case 'policy-denied':
      return 403;
    case 'engine':
      return ne instanceof EngineError && ne.statusCode ? ne.statusCode : 502;
    case 'timeout':
      return 504;
    case 'environment':
      return 503;
    case 'internal':
      return 500;
  }
}

// Small constructors, so call sites stay one line.
type Extra = { hint?: string; details?: Record<string, unknown>; cause?: unknown };
export const usageError = (code: string, message: string, extra: Extra = {}) =>
  new NestlingError(message, { code, category: ErrorCategory.Usage, ...extra });
export const configError = (code: string, message: string, extra: Extra = {}) =>
  new NestlingError(message, { code, category: ErrorCategory.Config, ...extra });
export const environmentError = (code: string, message: string, extra: Extra = {}) =>
  new NestlingError(message, { code, category: ErrorCategory.Environment, ...extra });
export const timeoutError = (code: string, message: string, extra: Extra = {}) =>
  new NestlingError(message, { code, category: ErrorCategory.Timeout, ...extra });
export const policyDenied = (code: string, message: string, extra: Extra = {}) =>
  new NestlingError(message, { code, category: ErrorCategory.PolicyDenied, ...extra });
export const internalError = (code: string, message: string, extra: Extra = {}) =>
  new NestlingError(message, { code, category: ErrorCategory.Internal, ...extra });
