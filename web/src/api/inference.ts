/** Typed functions and objects of the `inference` function (docs/api/inference.md): run a model on a series, follow its job. */
import { request } from './http';
import type { InferType, ModelLabel } from './models';
import type { Items, Person } from './types';

const INFERENCE = '/api/inference';
const id = (value: string): string => encodeURIComponent(value);

/** A model the caller may run on a series; `modality_match` says whether it was made for the series' modality. */
export interface RunnableModel {
  model_id: string;
  name: string;
  task: InferType;
  modality: string;
  labels: ModelLabel[];
  version: number;
  modality_match: boolean;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
/** The executor's stage; the contract names these and may add others, shown as they come. */
export type JobStage = 'queued' | 'starting' | 'reading' | 'model' | 'storing' | 'done' | (string & {});

/** What a result instance holds: a label volume (SEG), boxes and points to draw (SR), or scores only (SR). */
export type ResultContent = 'segmentation' | 'findings' | 'scores';

/** One DICOM instance a job stored in the study. */
export interface ResultInstance {
  series_uid: string;
  sop_uid: string;
  modality: 'SEG' | 'SR' | (string & {});
  /** Absent on results stored before the field existed. */
  content?: ResultContent | (string & {});
}

/** What a finished job stored in the study: a DICOM SEG (label volumes), an SR of findings and/or an SR of scores. */
export interface JobResult {
  kind: 'seg' | 'sr';
  instances: ResultInstance[];
  summary: Record<string, unknown>;
  timings?: Record<string, number>;
}

/**
 * The series the viewer shows for a result: its SEG, else its SR of findings (boxes, points), else none. An SR of
 * scores alone has nothing to draw and OHIF 3.13 fails to load it (docs/viewer-ai.md): the panel's summary shows them.
 */
export function resultSeries(result: JobResult): string | null {
  const content = (i: ResultInstance): string => i.content ?? (i.modality === 'SEG' ? 'segmentation' : 'findings');
  const shown = result.instances.find((i) => content(i) === 'segmentation')
    ?? result.instances.find((i) => content(i) === 'findings');
  return shown ? shown.series_uid : null;
}

export interface Job {
  id: string;
  model: { id: string; name: string };
  version: number;
  digest: string;
  study_uid: string;
  series_uid: string;
  user: Person;
  status: JobStatus;
  stage: JobStage;
  progress: number;
  /** The user asked to cancel a running job; its executor ends it at its next step or heartbeat. */
  cancel_requested: boolean;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: JobResult | null;
  /** Whether the caller may delete the job and its result (the study's owner, the user who ran it). */
  may_delete: boolean;
}

/** Whether a job may still change (the panel polls while one is). */
export const isActive = (job: Job): boolean => job.status === 'queued' || job.status === 'running';

export const listRunnableModels = (studyUid: string, seriesUid: string) =>
  request<Items<RunnableModel>>('GET', `${INFERENCE}/models`, { query: { study: studyUid, series: seriesUid } });
export const startJob = (modelId: string, studyUid: string, seriesUid: string) =>
  request<Job>('POST', `${INFERENCE}/jobs`, { body: { model_id: modelId, study_uid: studyUid, series_uid: seriesUid } });
/** The study's results and running jobs, newest first. */
export const listJobs = (studyUid: string) => request<Items<Job>>('GET', `${INFERENCE}/jobs`, { query: { study: studyUid } });
export const getJob = (jobId: string) => request<Job>('GET', `${INFERENCE}/jobs/${id(jobId)}`);
export const cancelJob = (jobId: string) => request<Job>('POST', `${INFERENCE}/jobs/${id(jobId)}/cancel`);
/** Remove a job's result from the study (study owner or the user who ran it). */
export const deleteJob = (jobId: string) => request<undefined>('DELETE', `${INFERENCE}/jobs/${id(jobId)}`);
