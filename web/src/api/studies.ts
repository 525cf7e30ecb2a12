/** Typed functions for the study list (`/api/studies`), zip import and STOW-RS upload (`/dicom-web`). */
import { request, upload, type UploadOptions } from './http';
import { newBoundary, stowBody, stowContentType, summariseStow, type StowOutcome } from './stow';
import type { ImportResult, StudyPage, StudyQuery, StudySummary } from './types';

const STUDIES = '/api/studies';
const id = (value: string): string => encodeURIComponent(value);

export type SendOptions = Pick<UploadOptions, 'onProgress' | 'signal'>;

export const listStudies = (query: StudyQuery) =>
  request<StudyPage>('GET', STUDIES, { query: { ...query } });
export const getStudy = (studyUid: string) => request<StudySummary>('GET', `${STUDIES}/${id(studyUid)}`);
export const deleteStudy = (studyUid: string, password: string) =>
  request<undefined>('DELETE', `${STUDIES}/${id(studyUid)}`, { body: { password } });

/** The OHIF viewer is another app on this origin: open it with a full page load, not the router. */
export const viewerUrl = (studyUid: string): string => `/viewer?StudyInstanceUIDs=${id(studyUid)}`;

/** Send a zip archive as is; the server unpacks, checks and stores it (or refuses it whole, 422 bad_archive). */
export const importArchive = (archive: Blob, options: SendOptions = {}) =>
  upload<ImportResult>(`${STUDIES}/import`, archive, { ...options, contentType: 'application/zip' });

/**
 * STOW-RS: store DICOM files in one request. 200, 202 (some refused) and 409 (none stored) all
 * answer per instance; a problem with the request as a whole (400, 413, 415) throws ApiError.
 */
export async function storeInstances(files: readonly Blob[], options: SendOptions = {}): Promise<StowOutcome> {
  const boundary = newBoundary();
  const body = await upload<unknown>('/dicom-web/studies', stowBody(files, boundary), {
    ...options,
    contentType: stowContentType(boundary),
    accept: 'application/dicom+json, application/problem+json',
    answerStatuses: [409],
  });
  return summariseStow(body);
}
