import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiError } from '../../api';
import { cancelJob, deleteJob, isActive, type Job, listJobs, listRunnableModels, resultSeries, type RunnableModel,
  startJob } from '../../api/inference';
import { Alert } from '../../components/Alert';
import { formatDateTime } from '../../lib/format';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { usePoll } from '../models/model/usePoll';
import { ResultSummary, type Summary } from './ResultSummary';
import { useUser } from '../../session/context';

export interface AiPanelProps {
  studyUid: string;
  /** The series a model would run on: OHIF's active image series, else the one the page opened; null until known. */
  seriesUid: string | null;
  /** Show a result series in the viewer (the page's one "refresh the viewer" action). */
  showResult: (seriesUid: string) => Promise<void>;
}

/** How often the panel asks again while a job of the study runs: a result is shown within half a second. */
const JOB_POLL_MS = 500;

const STAGES: Readonly<Record<string, string>> = {
  queued: 'waiting in the queue', starting: 'starting the model', reading: 'reading the series',
  model: 'running the model', storing: 'storing the result', done: 'done',
};

function statusText(job: Job): string {
  switch (job.status) {
    case 'queued': return 'Queued';
    case 'running': return job.cancel_requested ? 'Cancelling…' : `Running: ${STAGES[job.stage] ?? job.stage}`;
    case 'done': return 'Done';
    case 'failed': return `Failed: ${job.error ?? 'no reason given'}`;
    case 'cancelled': return 'Cancelled';
  }
}

/** Problems the panel shows in place of a list, with what to do. */
function problemText(error: ApiError): string {
  return error.detail || error.message;
}

function ModelList({ studyUid, seriesUid, onStarted }: {
  studyUid: string; seriesUid: string; onStarted: (job: Job) => void;
}) {
  const models = useLoad(() => listRunnableModels(studyUid, seriesUid), [studyUid, seriesUid]);
  const action = useAction();
  const run = async (model: RunnableModel) => {
    const outcome = await action.run(() => startJob(model.model_id, studyUid, seriesUid));
    if (outcome.ok) onStarted(outcome.value);
  };
  if (models.loading && !models.data) return <p role="status">Loading models…</p>;
  if (models.error) return <Alert tone="error" title="Models could not be listed">{problemText(models.error)}</Alert>;
  const items = models.data?.items ?? [];
  return (
    <>
      {action.error && <Alert tone="error" title="The model could not be started">{problemText(action.error)}</Alert>}
      {items.length === 0 ? <p>No model you may run fits this series.</p> : (
        <ul className="ai-panel__list" aria-label="Models">
          {items.map((model) => (
            <li key={model.model_id} aria-label={model.name}>
              <span>{model.name} <small>v{model.version} · {model.modality}</small></span>
              <small className="ai-panel__task" data-testid="model-task">
                {model.task}{model.labels.length > 0 && `: ${model.labels.map((label) => label.name).join(', ')}`}
              </small>
              {!model.modality_match && <small> (made for {model.modality})</small>}
              <button type="button" className="btn btn--primary btn--small" disabled={action.busy}
                aria-label={`Run ${model.name}`} onClick={() => void run(model)}>Run</button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function JobItem({ job, mine, onChanged, onShow }: { job: Job; mine: boolean; onChanged: () => void; onShow: () => void }) {
  const action = useAction();
  const act = async (task: () => Promise<unknown>) => {
    if ((await action.run(task)).ok) onChanged();
  };
  const label = `${job.model.name} v${job.version}`;
  return (
    <li aria-label={label} data-status={job.status} data-job-id={job.id}>
      <div><strong>{label}</strong> <span data-testid="job-status">{statusText(job)}</span></div>
      {job.status === 'running' && (
        <progress max={1} value={job.progress} aria-label={`${label} progress`}>{Math.round(job.progress * 100)}%</progress>
      )}
      <small>{formatDateTime(job.finished_at ?? job.created_at)} · for {job.user.name}</small>
      {job.status === 'done' && job.result && <ResultSummary summary={job.result.summary as Summary} />}
      <div className="button-row">
        {isActive(job) && mine && !job.cancel_requested && (
          <button type="button" className="btn btn--secondary btn--small" disabled={action.busy}
            onClick={() => void act(() => cancelJob(job.id))}>Cancel</button>
        )}
        {job.result && resultSeries(job.result) && (
          <button type="button" className="btn btn--primary btn--small" disabled={action.busy}
            onClick={onShow}>Show result</button>
        )}
        {!isActive(job) && job.may_delete && (
          <button type="button" className="btn btn--danger btn--small" disabled={action.busy}
            onClick={() => void act(() => deleteJob(job.id))}>Delete</button>
        )}
      </div>
      {action.error && <Alert tone="error">{problemText(action.error)}</Alert>}
    </li>
  );
}

/** The AI panel beside the viewer: models to run on the series on screen, the study's jobs and results. */
export function AiPanel({ studyUid, seriesUid, showResult }: AiPanelProps) {
  const user = useUser();
  const jobs = useLoad(() => listJobs(studyUid), [studyUid]);
  const items = jobs.data?.items ?? [];
  usePoll(items.some(isActive), jobs.reload, jobs.data, JOB_POLL_MS);
  const [showError, setShowError] = useState<string | null>(null);

  const show = useCallback((uid: string) => {
    setShowError(null);
    showResult(uid).catch((cause: unknown) => setShowError(cause instanceof Error ? cause.message : String(cause)));
  }, [showResult]);

  // A job seen running that is now done shows its result at once: the user reloads nothing.
  const seenActive = useRef(new Set<string>());
  // A job started here is followed from its start: one done before the next listing still shows its result.
  const started = useCallback((job: Job) => {
    seenActive.current.add(job.id);
    jobs.reload();
  }, [jobs.reload]);
  useEffect(() => {
    for (const job of items) {
      if (isActive(job)) seenActive.current.add(job.id);
      else if (seenActive.current.delete(job.id) && job.status === 'done' && job.result) {
        const series = resultSeries(job.result);
        if (series) show(series);
      }
    }
  }, [items, show]);

  return (
    <aside className="ai-panel" aria-label="AI">
      <h2 className="section-title">Run a model</h2>
      {seriesUid ? <ModelList studyUid={studyUid} seriesUid={seriesUid} onStarted={started} />
        : <p role="status">Waiting for the viewer to show a series…</p>}
      <h2 className="section-title">Jobs and results</h2>
      {showError && <Alert tone="error" title="The result could not be shown">{showError}</Alert>}
      {jobs.error ? <Alert tone="error" title="Jobs could not be listed">{problemText(jobs.error)}</Alert>
        : jobs.loading && !jobs.data ? <p role="status">Loading jobs…</p>
          : items.length === 0 ? <p>No model has run on this study yet.</p> : (
            <ul className="ai-panel__list" aria-label="Jobs">
              {items.map((job) => (
                <JobItem key={job.id} job={job} mine={job.user.id === user.id} onChanged={jobs.reload}
                  onShow={() => {
                  const series = job.result && resultSeries(job.result);
                  if (series) show(series);
                }} />
              ))}
            </ul>
          )}
    </aside>
  );
}
