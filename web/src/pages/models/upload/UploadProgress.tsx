import { Button } from '../../../components/form';
import { formatBytes } from '../../../lib/format';
import type { UploadEntry } from './useUploads';

/** Whole percent confirmed by the server: 100 only once every byte is there. */
export function percentOf(sent: number, total: number): number {
  if (total <= 0) return sent >= total ? 100 : 0;
  return Math.min(100, Math.floor((sent / total) * 100));
}

/** One file's upload: a progress bar named for the file, bytes and percent, and what went wrong with "Retry". */
export function UploadProgress({ label, entry, onRetry, onCancel }: {
  label: string;
  entry: UploadEntry;
  onRetry: () => void;
  onCancel: () => void;
}) {
  const percent = percentOf(entry.sent, entry.total);
  const amount = `${formatBytes(entry.sent)} of ${formatBytes(entry.total)} (${percent} %)`;
  return (
    <div className="upload-progress">
      <div className="progress">
        <progress max={100} value={percent} aria-label={`Upload of ${label}`} aria-valuetext={amount} />
        <span className="progress-percent">{percent} %</span>
      </div>
      <div className="upload-progress-row">
        <p className="muted" aria-live="polite">
          {entry.state === 'uploading' && `Uploading ${label}: ${amount}`}
          {entry.state === 'done' && `Uploaded ${label}: ${amount}`}
          {entry.state === 'cancelled' && `The upload of ${label} was cancelled.`}
        </p>
        {entry.state === 'uploading' && <Button variant="secondary" className="btn--small" onClick={onCancel}>Cancel</Button>}
      </div>
      {entry.state === 'failed' && (
        <div className="alert alert--error" role="alert">
          <p>The upload of {label} failed at {amount}: {entry.error?.detail}</p>
          {entry.retryable && <p>The part already sent is kept: retrying goes on from there.</p>}
          <div className="button-row">
            <Button variant="secondary" className="btn--small" onClick={onRetry}>Retry</Button>
          </div>
        </div>
      )}
      {entry.state === 'cancelled' && (
        <div className="button-row"><Button variant="secondary" className="btn--small" onClick={onRetry}>Retry</Button></div>
      )}
    </div>
  );
}
