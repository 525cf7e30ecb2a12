import { ApiError, networkError, problemToError } from './errors';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type QueryValue = string | number | boolean | null | undefined;
export type Query = Readonly<Record<string, QueryValue>>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
}

/**
 * The CSRF cookie: `__Host-mcc_csrf` on the HTTPS origin; plain `mcc_csrf` only where the server runs
 * with MCC_COOKIE_SECURE=false (the `__Host-` prefix needs Secure). The first one present is used.
 */
export const CSRF_COOKIES = ['__Host-mcc_csrf', 'mcc_csrf'] as const;
export const CSRF_HEADER = 'X-CSRF-Token';
export const REFRESH_PATH = '/api/auth/token/refresh';
const UNSAFE_METHODS: ReadonlySet<HttpMethod> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const ACCEPT = 'application/json, application/problem+json';

/** What one HTTP exchange answered, whichever transport (fetch or XHR) carried it. */
interface RawResponse {
  status: number;
  contentType: string;
  text: string;
  retryAfter: string | null;
}

type Attempt = () => Promise<RawResponse>;
type Listener = () => void;

let apiOrigin = '';
const sessionEndedListeners = new Set<Listener>();
let refreshInFlight: Promise<void> | null = null;

/** Point the client at another origin (tests); the portal itself stays same-origin. */
export function configureApi(options: { origin: string }): void {
  apiOrigin = options.origin.replace(/\/$/, '');
}

/** Called when the refresh token is rejected: the user is signed out. */
export function onSessionEnded(listener: Listener): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

export function readCookie(name: string): string | null {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** The CSRF token to echo in the X-CSRF-Token header of unsafe requests, or null when not signed in. */
export function csrfToken(): string | null {
  for (const name of CSRF_COOKIES) {
    const value = readCookie(name);
    if (value) return value;
  }
  return null;
}

export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return `${apiOrigin}${path}${qs ? `?${qs}` : ''}`;
}

function baseHeaders(method: HttpMethod): Record<string, string> {
  const headers: Record<string, string> = { Accept: ACCEPT };
  const csrf = UNSAFE_METHODS.has(method) ? csrfToken() : null;
  if (csrf) headers[CSRF_HEADER] = csrf;
  return headers;
}

function fetchAttempt(method: HttpMethod, path: string, options: RequestOptions = {}): Attempt {
  return async () => {
    const headers = baseHeaders(method);
    let body: BodyInit | undefined;
    if (options.body instanceof FormData) {
      body = options.body;
    } else if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await fetch(buildUrl(path, options.query), {
        method,
        headers,
        body,
        credentials: 'same-origin',
      });
    } catch {
      throw networkError();
    }
    return {
      status: response.status,
      contentType: response.headers.get('Content-Type') ?? '',
      text: await response.text(),
      retryAfter: response.headers.get('Retry-After'),
    };
  };
}

/** How an upload is sent and which answers count as answers rather than problems. */
export interface UploadOptions {
  /** The body's media type; leave out for FormData (the browser adds the boundary). */
  contentType?: string;
  /** The Accept header; JSON and problem+json unless set. */
  accept?: string;
  /** Fraction of the body sent so far, 0–1. */
  onProgress?: (fraction: number) => void;
  /** Aborting stops the request; it then fails with code `aborted`. */
  signal?: AbortSignal;
  /** Error statuses whose non-problem body is the answer (STOW-RS 409: no instance stored, each one's reason). */
  answerStatuses?: readonly number[];
}

export const ABORTED_CODE = 'aborted';

function abortedError(): ApiError {
  return new ApiError({ status: 0, code: ABORTED_CODE, detail: 'The upload was cancelled.' });
}

function xhrAttempt(path: string, body: FormData | Blob, options: UploadOptions): Attempt {
  return () =>
    new Promise<RawResponse>((resolve, reject) => {
      const { signal, onProgress } = options;
      if (signal?.aborted) {
        reject(abortedError());
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open('POST', buildUrl(path));
      xhr.withCredentials = true;
      const headers = baseHeaders('POST');
      if (options.accept) headers.Accept = options.accept;
      if (options.contentType) headers['Content-Type'] = options.contentType;
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event: ProgressEvent) => {
        if (event.lengthComputable && event.total > 0) onProgress?.(event.loaded / event.total);
      };
      const onAbort = () => xhr.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => signal?.removeEventListener('abort', onAbort);
      xhr.onload = () => {
        settle();
        resolve({
          status: xhr.status,
          contentType: xhr.getResponseHeader('Content-Type') ?? '',
          text: xhr.responseText,
          retryAfter: xhr.getResponseHeader('Retry-After'),
        });
      };
      xhr.onerror = () => {
        settle();
        reject(networkError());
      };
      xhr.onabort = () => {
        settle();
        reject(signal?.aborted ? abortedError() : networkError());
      };
      xhr.send(body);
    });
}

function parseBody(raw: RawResponse): unknown {
  if (!raw.text) return undefined;
  if (!/json/i.test(raw.contentType)) return raw.text;
  try {
    return JSON.parse(raw.text) as unknown;
  } catch {
    return undefined;
  }
}

function isTokenExpired(raw: RawResponse): boolean {
  if (raw.status !== 401) return false;
  const body = parseBody(raw);
  return typeof body === 'object' && body !== null && (body as { code?: unknown }).code === 'token_expired';
}

function decode<T>(raw: RawResponse, answerStatuses: readonly number[] = []): T {
  const body = parseBody(raw);
  const failed = raw.status >= 400 || raw.status === 0;
  const answer = answerStatuses.includes(raw.status) && !/problem\+json/i.test(raw.contentType);
  if (failed && !answer) throw problemToError(raw.status, body, raw.retryAfter);
  return body as T;
}

/** Rotate the session's tokens; concurrent callers share one refresh. */
export function refreshSession(): Promise<void> {
  refreshInFlight ??= (async () => {
    try {
      const raw = await fetchAttempt('POST', REFRESH_PATH)();
      if (raw.status === 401) sessionEndedListeners.forEach((listener) => listener());
      decode<unknown>(raw);
    } finally {
      refreshInFlight = null;
    }
  })();
  return refreshInFlight;
}

/** Run an attempt; on 401 token_expired refresh once and retry once. */
async function execute<T>(attempt: Attempt, answerStatuses?: readonly number[]): Promise<T> {
  let raw = await attempt();
  if (isTokenExpired(raw)) {
    await refreshSession();
    raw = await attempt();
  }
  return decode<T>(raw, answerStatuses);
}

/** Send a JSON (or multipart) request and decode the answer; failures throw ApiError. */
export function request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
  return execute<T>(fetchAttempt(method, path, options));
}

/**
 * POST a form or a file-backed body with upload progress (XMLHttpRequest: fetch has no upload
 * progress). A Blob made of File parts is read by the browser as it sends, never held whole.
 */
export function upload<T>(path: string, body: FormData | Blob, options: UploadOptions = {}): Promise<T> {
  return execute<T>(xhrAttempt(path, body, options), options.answerStatuses);
}

export { ApiError };
