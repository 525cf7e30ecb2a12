import { useCallback, useEffect, useRef, useState } from 'react';
import { ABORTED_CODE, type ApiError } from '../../../api';
import type { Upload } from '../../../api/models';
import { UploadFailed, uploadResumable, type ResumableOptions, type UploadTransport } from './resumableUpload';

export type UploadState = 'uploading' | 'done' | 'failed' | 'cancelled';

/** One file on its way in, as the page shows it. */
export interface UploadEntry {
  key: string;
  file: File;
  state: UploadState;
  /** Bytes the server has confirmed. */
  sent: number;
  total: number;
  /** Where the server stands; kept after a failure so that "Retry" resumes it. */
  upload: Upload | null;
  error: ApiError | null;
  retryable: boolean;
}

export interface Uploads {
  entries: Readonly<Record<string, UploadEntry>>;
  /** Send `file` under `key` (replacing what was there); resolves to the completed upload, or null. */
  start: (key: string, file: File) => Promise<Upload | null>;
  /** Resume a failed upload where the server stands. */
  retry: (key: string) => Promise<Upload | null>;
  cancel: (key: string) => void;
  forget: (key: string) => void;
}

/** Several resumable uploads with their progress; leaving the page cancels the ones still running. */
export function useUploads(transport: UploadTransport, options: Pick<ResumableOptions, 'retries' | 'pause'> = {}): Uploads {
  const [entries, setEntries] = useState<Record<string, UploadEntry>>({});
  const controllers = useRef(new Map<string, AbortController>());
  const known = useRef<Record<string, UploadEntry>>({});
  known.current = entries;
  const settings = useRef({ transport, options });
  settings.current = { transport, options };

  const update = (key: string, change: Partial<UploadEntry>) =>
    setEntries((all) => (all[key] ? { ...all, [key]: { ...all[key], ...change } } : all));

  const send = useCallback(async (key: string, file: File, resume: Upload | null): Promise<Upload | null> => {
    controllers.current.get(key)?.abort();
    const controller = new AbortController();
    controllers.current.set(key, controller);
    setEntries((all) => ({
      ...all,
      [key]: { key, file, state: 'uploading', sent: resume?.received ?? 0, total: file.size, upload: resume, error: null, retryable: false },
    }));
    try {
      const upload = await uploadResumable(file, file.name, settings.current.transport, {
        ...settings.current.options,
        resume,
        signal: controller.signal,
        onProgress: ({ sent, upload }) => { if (!controller.signal.aborted) update(key, { sent, upload }); },
      });
      if (!controller.signal.aborted) update(key, { state: 'done', sent: upload.received, upload });
      return upload;
    } catch (cause) {
      if (controller.signal.aborted) return null;
      if (!(cause instanceof UploadFailed)) throw cause;
      const cancelled = cause.error.code === ABORTED_CODE;
      update(key, { state: cancelled ? 'cancelled' : 'failed', upload: cause.upload, error: cause.error, retryable: cause.retryable });
      return null;
    } finally {
      if (controllers.current.get(key) === controller) controllers.current.delete(key);
    }
  }, []);

  const start = useCallback((key: string, file: File) => send(key, file, null), [send]);
  const retry = useCallback(async (key: string) => {
    const entry = known.current[key];
    return entry ? send(key, entry.file, entry.upload) : null;
  }, [send]);
  const cancel = useCallback((key: string) => {
    controllers.current.get(key)?.abort();
    controllers.current.delete(key);
    update(key, { state: 'cancelled' });
  }, []);
  const forget = useCallback((key: string) => {
    controllers.current.get(key)?.abort();
    controllers.current.delete(key);
    setEntries((all) => {
      const rest = { ...all };
      delete rest[key];
      return rest;
    });
  }, []);

  useEffect(() => () => controllers.current.forEach((controller) => controller.abort()), []);
  return { entries, start, retry, cancel, forget };
}
