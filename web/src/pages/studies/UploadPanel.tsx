import { useEffect, useId, useRef, useState } from 'react';
import { ABORTED_CODE, toApiError, type ApiError } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { plural } from '../../lib/format';
import type { UploadItem } from './collectFiles';
import { DropZone } from './DropZone';
import { UploadSummary } from './UploadSummary';
import { runUpload, type UploadProgress, type UploadReport } from './uploadJob';

type Phase = 'idle' | 'reading' | 'uploading' | 'done';

/**
 * "Upload studies": a one-line bar to drop or choose files; below it, while used, the progress and then what was
 * stored and what was not, until the user closes that summary (so the study list comes first again).
 */
export function UploadPanel({ onUploaded }: { onUploaded: () => void }) {
  const headingId = useId();
  const [phase, setPhase] = useState<Phase>('idle');
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [report, setReport] = useState<UploadReport | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [nothingChosen, setNothingChosen] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const busy = phase === 'reading' || phase === 'uploading';
  const cancelled = error?.code === ABORTED_CODE;

  // Leaving the page would drop the rest of the upload: let the browser ask first.
  useEffect(() => {
    if (phase !== 'uploading') return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [phase]);

  useEffect(() => () => controller.current?.abort(), []);

  async function start(chosen: Promise<UploadItem[]> | UploadItem[]) {
    if (busy) return;
    setError(null);
    setReport(null);
    setNothingChosen(false);
    setPhase('reading');
    let items: UploadItem[];
    try {
      items = await chosen;
    } catch (cause) {
      setError(toApiError(cause));
      setPhase('idle');
      return;
    }
    if (items.length === 0) {
      setNothingChosen(true);
      setPhase('idle');
      return;
    }
    const abort = new AbortController();
    controller.current = abort;
    setProgress({ fraction: 0, filesDone: 0, filesTotal: items.length });
    setPhase('uploading');
    try {
      setReport(await runUpload(items, { onProgress: setProgress, onReport: setReport, signal: abort.signal }));
    } catch (cause) {
      setError(toApiError(cause));
    } finally {
      controller.current = null;
      setPhase('done');
      onUploaded();
    }
  }

  function close() {
    setPhase('idle');
    setReport(null);
    setError(null);
    setProgress(null);
    setNothingChosen(false);
  }

  const percent = Math.round((progress?.fraction ?? 0) * 100);
  const showReport = report && (report.stored > 0 || report.failures.length > 0 || phase === 'done');
  const ended = !busy && (phase === 'done' || nothingChosen || error !== null);
  return (
    <section id="upload-studies" className="upload" aria-labelledby={headingId}>
      <h2 id={headingId} className="visually-hidden">Upload studies</h2>
      <DropZone disabled={busy} onItems={(items) => void start(items)} />
      {(busy || ended) && (
        <div className="upload-status">
          {nothingChosen && <Alert tone="info">No files to upload were found there.</Alert>}
          {phase === 'reading' && <Loading label="Reading the files…" />}
          {phase === 'uploading' && progress && (
            <div className="upload-progress">
              <div className="progress">
                <progress max={100} value={percent} aria-label="Upload progress" aria-valuetext={`${percent}%`} />
                <span className="progress-percent">{percent}%</span>
              </div>
              <div className="upload-progress-row">
                <p className="muted" aria-live="polite">
                  Uploading: {progress.filesDone.toLocaleString()} of {plural(progress.filesTotal, 'file', 'files')} answered
                </p>
                <Button variant="secondary" onClick={() => controller.current?.abort()}>Cancel upload</Button>
              </div>
            </div>
          )}
          {cancelled && !report && <Alert tone="info">The upload was cancelled before the server answered.</Alert>}
          {!cancelled && <FormError error={error} />}
          {showReport && (
            <UploadSummary report={report}
              end={phase !== 'done' ? 'running' : cancelled ? 'cancelled' : error ? 'stopped' : 'finished'} />
          )}
          {ended && (
            <div className="upload-status-end">
              <Button variant="secondary" className="btn--small" onClick={close}>Close upload summary</Button>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
