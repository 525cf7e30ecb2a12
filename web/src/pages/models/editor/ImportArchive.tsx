import { useState, type ChangeEvent, type ReactNode } from 'react';
import { toApiError, type ApiError } from '../../../api';
import * as models from '../../../api/models';
import type { ModelVersion, Problem } from '../../../api/models';
import { FormError } from '../../../components/form';
import { Section } from '../../../components/Section';
import { UploadProgress } from '../upload/UploadProgress';
import type { Uploads } from '../upload/useUploads';

const KEY = 'archive';

export interface ImportArchiveProps {
  modelId: string;
  notes: string;
  uploads: Uploads;
  disabled: boolean;
  onPublished: (version: ModelVersion) => void;
  onRefused: (problems: Problem[]) => void;
  /** The archive's problems, when the server refused it. */
  children?: ReactNode;
}

/** "Import an archive": a bundle zip or a MONAI Bundle zip, uploaded in chunks, then published as it is. */
export function ImportArchive({ modelId, notes, uploads, disabled, onPublished, onRefused, children }: ImportArchiveProps) {
  const [error, setError] = useState<ApiError | null>(null);
  const [publishing, setPublishing] = useState(false);
  const entry = uploads.entries[KEY];

  async function publish(uploadId: string) {
    setPublishing(true);
    try {
      onPublished(await models.importVersion(modelId, { archive: uploadId, notes: notes.trim() || undefined }));
    } catch (cause) {
      const refused = problemsOf(cause);
      if (refused) onRefused(refused);
      else setError(toApiError(cause));
    } finally {
      setPublishing(false);
    }
  }

  async function send(started: Promise<models.Upload | null>) {
    setError(null);
    onRefused([]);
    const upload = await started;
    if (upload) await publish(upload.id);
  }

  function chosen(event: ChangeEvent<HTMLInputElement>) {
    const input = event.currentTarget;
    const file = input.files?.[0];
    input.value = '';
    if (file) void send(uploads.start(KEY, file));
  }

  const busy = disabled || publishing || entry?.state === 'uploading';
  return (
    <Section title="Import an archive">
      <p className="muted">
        A bundle zip (manifest.json, code and weights), or a MONAI Bundle zip in the model-zoo layout
        (configs/metadata.json, configs/inference.json, models/model.pt), published as it is: a MONAI Bundle needs no code.
      </p>
      <div className="button-row">
        <label className={`btn btn--secondary file-button${busy ? ' file-button--disabled' : ''}`}>
          <input type="file" accept=".zip,application/zip" className="visually-hidden" disabled={busy} onChange={chosen} />
          Choose an archive
        </label>
      </div>
      {entry && (
        <UploadProgress label={entry.file.name} entry={entry} onRetry={() => void send(uploads.retry(KEY))}
          onCancel={() => uploads.cancel(KEY)} />
      )}
      {publishing && <p className="muted" role="status">Publishing {entry?.file.name}…</p>}
      {children}
      <FormError error={error} />
    </Section>
  );
}

/** The problems of a 422 invalid_bundle, or null for any other failure. */
export function problemsOf(cause: unknown): Problem[] | null {
  return cause instanceof models.InvalidBundle ? cause.problems : null;
}
