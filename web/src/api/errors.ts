/** One field-level problem from a problem+json `errors` list. */
export interface FieldError {
  field: string;
  message: string;
}

export interface ApiErrorInit {
  status: number;
  code: string;
  detail: string;
  title?: string;
  type?: string;
  fieldErrors?: readonly FieldError[];
  retryAfterSeconds?: number | null;
}

/** An RFC 7807 problem answered by the API (or a network failure, status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly title: string;
  readonly type: string;
  readonly fieldErrors: readonly FieldError[];
  readonly retryAfterSeconds: number | null;

  constructor(init: ApiErrorInit) {
    super(init.detail);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.title = init.title ?? '';
    this.type = init.type ?? 'about:blank';
    this.fieldErrors = init.fieldErrors ?? [];
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
  }

  /** The server's message for one request field, if it named that field. */
  fieldMessage(field: string): string | undefined {
    return this.fieldErrors.find((e) => e.field === field)?.message;
  }
}

export const NETWORK_ERROR_CODE = 'network_error';

export function networkError(): ApiError {
  return new ApiError({
    status: 0,
    code: NETWORK_ERROR_CODE,
    detail: 'Could not reach MedCloudCare. Check your connection and try again.',
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function parseFieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown) => {
    if (!isRecord(item)) return [];
    const field = str(item.field);
    const message = str(item.message);
    return field && message ? [{ field, message }] : [];
  });
}

function parseRetryAfter(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Build an ApiError from a failed response body, whatever shape it has. */
export function problemToError(status: number, body: unknown, retryAfter: string | null): ApiError {
  const problem = isRecord(body) ? body : {};
  const title = str(problem.title);
  return new ApiError({
    status,
    code: str(problem.code) ?? `http_${status}`,
    detail: str(problem.detail) ?? title ?? `The request failed (HTTP ${status}). Please try again.`,
    title,
    type: str(problem.type),
    fieldErrors: parseFieldErrors(problem.errors),
    retryAfterSeconds: parseRetryAfter(retryAfter),
  });
}

/** Any thrown value as an ApiError, so pages handle one error type. */
export function toApiError(cause: unknown): ApiError {
  if (cause instanceof ApiError) return cause;
  return new ApiError({
    status: 0,
    code: 'unexpected',
    detail: cause instanceof Error ? cause.message : 'Something went wrong. Please try again.',
  });
}
