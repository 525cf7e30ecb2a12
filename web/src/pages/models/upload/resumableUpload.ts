/**
 * The resumable upload protocol of docs/api/models.md, driven from the browser: create the upload,
 * PUT chunks in order from `received`; after a failed chunk ask the server where it stands and go on
 * from there, a few times, then give up with an error that can be resumed later ("Retry").
 */
import { ABORTED_CODE, ApiError, toApiError } from '../../../api';
import * as models from '../../../api/models';
import type { Upload } from '../../../api/models';

/** The three calls of the protocol; `modelUploads` binds them to a model, tests pass their own. */
export interface UploadTransport {
  create: (file: { name: string; size: number }) => Promise<Upload>;
  status: (uploadId: string) => Promise<Upload>;
  put: (uploadId: string, chunk: Blob, start: number, total: number, signal?: AbortSignal) => Promise<Upload>;
}

export function modelUploads(modelId: string): UploadTransport {
  return {
    create: (file) => models.createUpload(modelId, file),
    status: (uploadId) => models.getUpload(modelId, uploadId),
    put: (uploadId, chunk, start, total, signal) => models.sendChunk(modelId, uploadId, chunk, start, total, signal),
  };
}

export interface UploadProgress {
  /** Bytes the server has confirmed. */
  sent: number;
  total: number;
  /** Where the server stands, for resuming after a cancel. */
  upload: Upload;
}

export interface ResumableOptions {
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
  /** Failed attempts in a row tolerated before giving up; 3 unless set. */
  retries?: number;
  /** Waits between attempts (tests pass one that does not wait); `attempt` counts from 1. */
  pause?: (attempt: number, signal?: AbortSignal) => Promise<void>;
  /** An upload that failed earlier: asked where it stands and continued, instead of starting anew. */
  resume?: Upload | null;
}

/** Used when the server names no chunk size, so that a chunk is never the whole of a large file. */
const FALLBACK_CHUNK = 8 * 1024 * 1024;

/** Answers worth another attempt: the connection, a timeout, a busy or failing server, a chunk out of step. */
export function isRetryable(error: ApiError): boolean {
  if (error.code === ABORTED_CODE) return false;
  if (error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500) return true;
  return error.status === 409 && error.code === 'upload_offset';
}

/** The upload gave up; `upload` (when it was created) is where it stands, for a later `resume`. */
export class UploadFailed extends Error {
  readonly error: ApiError;
  readonly upload: Upload | null;
  /** Whether trying again may help (the connection or the server), or the file itself was refused. */
  readonly retryable: boolean;

  constructor(error: ApiError, upload: Upload | null, retryable: boolean) {
    super(error.detail);
    this.name = 'UploadFailed';
    this.error = error;
    this.upload = upload;
    this.retryable = retryable;
  }
}

/** 1 s, 2 s, 4 s…, at most 10 s; ends early when aborted. */
export function backoff(attempt: number, signal?: AbortSignal): Promise<void> {
  const ms = Math.min(10_000, 1000 * 2 ** (attempt - 1));
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

function aborted(): ApiError {
  return new ApiError({ status: 0, code: ABORTED_CODE, detail: 'The upload was cancelled.' });
}

function stalled(upload: Upload): ApiError {
  return new ApiError({
    status: 0, code: 'upload_stalled',
    detail: `The server accepted a chunk of ${upload.name} but its upload did not advance. Try again.`,
  });
}

/**
 * Send `file` and return the completed upload (its id goes into a version's `weights` or `archive`).
 * Throws UploadFailed: at once for a refusal (too large, checksum, no access), or after `retries`
 * failed attempts in a row for a connection or server failure.
 */
export async function uploadResumable(
  file: Blob, name: string, transport: UploadTransport, options: ResumableOptions = {},
): Promise<Upload> {
  const { onProgress, signal, retries = 3, pause = backoff } = options;
  let upload: Upload | null = options.resume ?? null;
  let failures = 0;
  const report = (current: Upload) => onProgress?.({ sent: current.received, total: file.size, upload: current });

  /** Count a failure; give up when it is not worth retrying or there were too many. */
  async function failed(cause: unknown): Promise<void> {
    if (signal?.aborted) throw new UploadFailed(aborted(), upload, true);
    const error = toApiError(cause);
    if (!isRetryable(error)) throw new UploadFailed(error, upload, false);
    failures += 1;
    if (failures > retries) throw new UploadFailed(error, upload, true);
    await pause(failures, signal);
    if (signal?.aborted) throw new UploadFailed(aborted(), upload, true);
  }

  /** Where the server stands: a fresh upload, or the one being resumed (a new one if it expired). */
  async function sync(): Promise<void> {
    if (upload) {
      try {
        upload = await transport.status(upload.id);
      } catch (cause) {
        if (toApiError(cause).status !== 404) throw cause;
        upload = null;
      }
    }
    upload ??= await transport.create({ name, size: file.size });
    report(upload);
  }

  for (;;) {
    try {
      await sync();
      break;
    } catch (cause) {
      await failed(cause);
    }
  }
  while (upload && !upload.complete) {
    if (signal?.aborted) throw new UploadFailed(aborted(), upload, true);
    const start = upload.received;
    const end = Math.min(start + (upload.chunk_size > 0 ? upload.chunk_size : FALLBACK_CHUNK), file.size);
    try {
      const answer: Upload = await transport.put(upload.id, file.slice(start, end), start, file.size, signal);
      upload = answer;
      if (!answer.complete && answer.received <= start) throw stalled(answer);
      failures = 0;
      report(answer);
    } catch (cause) {
      await failed(cause);
      try {
        await sync();
      } catch {
        // The next chunk tries again; a server that moved on answers upload_offset and is asked again.
      }
    }
  }
  if (!upload) throw new Error('unreachable: every path above ends with an upload or throws');
  return upload;
}
