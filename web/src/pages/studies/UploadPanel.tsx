import { useEffect, useRef, useState } from 'react';
import { ABORTED_CODE, toApiError, type ApiError } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Section } from '../../components/Section';
import { plural } from '../../lib/format';
import type { UploadItem } from './collectFiles';
import { DropZone } from './DropZone';
import { UploadSummary } from './UploadSummary';
import { runUpload, type UploadProgress, type UploadReport } from './uploadJob';

type Phase = 'idle' | 'reading' | 'uploading' | 'done';

/** "Upload studies": drop or choose, watch the progress, then read what was stored and what was not. */
export function UploadPanel({ onUploaded }: { onUploaded: () => void }) {
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

  const percent = Math.round((progress?.fraction ?? 0) * 100);
  return (
    <Section title="Upload studies">
      <DropZone disabled={busy} onItems={(items) => void start(items)} />
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
      {report && (report.stored > 0 || report.failures.length > 0 || phase === 'done') && (
        <UploadSummary report={report} end={phase !== 'done' ? 'running' : cancelled ? 'cancelled' : error ? 'stopped' : 'finished'} />
      )}
    </Section>
  );
}
