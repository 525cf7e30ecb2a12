/**
 * One upload of whatever was chosen or dropped: DICOM files go by STOW-RS in batches (read by the
 * browser only as each request is sent), zip archives one by one to the import endpoint. The
 * server decides what is stored; this adds up its answers per study and names each refused file.
 */
import { ApiError, studies, stow, toApiError } from '../../api';
import { readSopInstanceUid } from '../../lib/dicomFile';
import { isZip, type UploadItem } from './collectFiles';
import { describeFailure } from './failureReasons';

export interface UploadFailure {
  /** The file as the person knows it (folder/file.dcm, archive.zip › inner/file.dcm). */
  file: string;
  /** Plain words for the reason. */
  reason: string;
  /** The server's own explanation, when it gave one. */
  comment: string | null;
}

export interface UploadReport {
  /** StudyInstanceUID → instances stored in it, in the order the studies were first seen. */
  studies: ReadonlyMap<string, number>;
  stored: number;
  failures: readonly UploadFailure[];
}

export interface UploadProgress {
  /** 0–1, by bytes sent. */
  fraction: number;
  filesDone: number;
  filesTotal: number;
}

export interface UploadHandlers {
  onProgress?: (progress: UploadProgress) => void;
  /** A fresh report after every answered request, so results show while the rest is sent. */
  onReport?: (report: UploadReport) => void;
  signal?: AbortSignal;
}

/** What the job needs from outside; tests pass fakes. */
export interface UploadApi {
  storeInstances: typeof studies.storeInstances;
  importArchive: typeof studies.importArchive;
  readSopInstanceUid: (file: Blob) => Promise<string | null>;
}

const DEFAULT_API: UploadApi = {
  storeInstances: studies.storeInstances,
  importArchive: studies.importArchive,
  readSopInstanceUid,
};

/** Refusals that concern the whole upload (no connection, cancelled, signed out, no access): stop. */
const STOPPING_STATUSES: ReadonlySet<number> = new Set([0, 401, 403]);

type Request = { kind: 'stow' | 'archive'; items: UploadItem[]; bytes: number };

function plan(items: readonly UploadItem[], limits: stow.BatchLimits): Request[] {
  const dicom = items.filter((item) => !isZip(item)).map((item) => ({ item, size: item.file.size }));
  return [
    ...stow.planBatches(dicom, limits).map((group): Request => ({
      kind: 'stow',
      items: group.map((entry) => entry.item),
      bytes: group.reduce((sum, entry) => sum + entry.size, 0),
    })),
    ...items.filter(isZip).map((item): Request => ({ kind: 'archive', items: [item], bytes: item.file.size })),
  ];
}

function refusedWhole(error: ApiError, kind: Request['kind']): string {
  if (kind === 'archive' && error.status === 422) return 'Archive refused: nothing in it was stored';
  if (error.status === 413) return 'Too large';
  return 'Not stored: the server refused the upload';
}

export async function runUpload(
  items: readonly UploadItem[],
  handlers: UploadHandlers = {},
  api: UploadApi = DEFAULT_API,
  limits: stow.BatchLimits = stow.STOW_BATCH,
): Promise<UploadReport> {
  const { onProgress, onReport, signal } = handlers;
  const requests = plan(items, limits);
  const totalBytes = Math.max(1, requests.reduce((sum, request) => sum + request.bytes, 0));
  const tally = new Map<string, number>();
  const failures: UploadFailure[] = [];
  let stored = 0;
  let sentBytes = 0;
  let filesDone = 0;

  const count = (studyUid: string | null) => {
    stored += 1;
    if (studyUid) tally.set(studyUid, (tally.get(studyUid) ?? 0) + 1);
  };
  const report = (): UploadReport => ({ studies: new Map(tally), stored, failures: [...failures] });
  const progress = (fraction: number, bytes: number) =>
    onProgress?.({ fraction: Math.min(1, (sentBytes + fraction * bytes) / totalBytes), filesDone, filesTotal: items.length });

  async function sendBatch(group: UploadItem[], options: studies.SendOptions) {
    const outcome = await api.storeInstances(group.map((item) => item.file), options);
    outcome.stored.forEach((instance) => count(instance.studyUid));
    if (outcome.failed.length === 0) return;
    const allRefused = outcome.stored.length === 0 && outcome.failed.length === group.length;
    const uids = allRefused ? null : await Promise.all(group.map((item) => api.readSopInstanceUid(item.file)));
    for (const { index, failure } of stow.attributeFailures(group.length, outcome, uids)) {
      const item = index === null ? undefined : group[index];
      failures.push({
        file: item?.name ?? 'A file of this upload',
        reason: describeFailure(failure.reasonCode),
        comment: failure.comment,
      });
    }
  }

  async function sendArchive(item: UploadItem, options: studies.SendOptions) {
    const result = await api.importArchive(item.file, options);
    (result.stored ?? []).forEach((instance) => count(instance.study_uid));
    for (const failure of result.failed ?? []) {
      failures.push({
        file: `${item.name} › ${failure.file}`,
        reason: describeFailure(failure.reason_code),
        comment: failure.message || null,
      });
    }
  }

  progress(0, 0);
  for (const request of requests) {
    const options: studies.SendOptions = { signal, onProgress: (fraction) => progress(fraction, request.bytes) };
    try {
      if (request.kind === 'stow') await sendBatch(request.items, options);
      else if (request.items[0]) await sendArchive(request.items[0], options);
    } catch (cause) {
      const error = toApiError(cause);
      if (STOPPING_STATUSES.has(error.status)) throw error;
      for (const item of request.items) {
        failures.push({ file: item.name, reason: refusedWhole(error, request.kind), comment: error.detail });
      }
    }
    sentBytes += request.bytes;
    filesDone += request.items.length;
    progress(0, 0);
    onReport?.(report());
  }
  return report();
}
