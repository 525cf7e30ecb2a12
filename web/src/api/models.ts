/** Typed functions and objects of the `models` function (docs/api/models.md): registry, versions, resumable uploads. */
import { ApiError, networkError, problemToError } from './errors';
import { buildUrl, CSRF_HEADER, csrfToken, refreshSession, request } from './http';
import type { Items, ModelAccess, ModelAction, Person } from './types';

const MODELS = '/api/models';
const id = (value: string): string => encodeURIComponent(value);

/** The five kinds of model, as the SDK's `InferType` names them. */
export const INFER_TYPES = ['segmentation', 'classification', 'detection', 'localisation', 'processing'] as const;
export type InferType = (typeof INFER_TYPES)[number];

export interface LabelCode {
  value: string;
  scheme: string;
  meaning: string;
}

export interface ModelLabel {
  name: string;
  code: LabelCode | null;
  colour: [number, number, number] | null;
}

/** The version a list row summarises; not in the contract yet (see the report), shown only when the server sends it. */
export interface VersionSummary {
  version: number;
  status: VersionStatus;
  stage: ValidationStage | null;
}

export interface Model {
  id: string;
  name: string;
  description: string;
  architecture: string;
  task: InferType;
  modality: string;
  owner: Person;
  access: ModelAccess;
  actions: ModelAction[];
  active_version: number | null;
  published_version: number | null;
  labels: ModelLabel[];
  created_at: string;
  updated_at: string;
  latest_version?: VersionSummary | null;
}

export type VersionStatus = 'validating' | 'ready' | 'failed';
export type ValidationStage = 'archive' | 'manifest' | 'static' | 'smoke' | 'storing';
export type ProblemStage = Exclude<ValidationStage, 'storing'>;

/** One thing wrong with a bundle, where the editor marks it (line and column count from 1). */
export interface Problem {
  stage: ProblemStage;
  file: string | null;
  line: number | null;
  column: number | null;
  message: string;
}

export interface ModelVersion {
  version: number;
  status: VersionStatus;
  stage: ValidationStage | null;
  digest: string | null;
  size: number;
  notes: string;
  author: Person | null;
  created_at: string;
  finished_at: string | null;
  active: boolean;
  published: boolean;
  problems: Problem[];
}

/** A model with its versions, newest first. */
export interface ModelDetail extends Model {
  versions: ModelVersion[];
}

export interface BundleFile {
  path: string;
  size: number;
}

export interface VersionDetail extends ModelVersion {
  manifest: Record<string, unknown>;
  files: BundleFile[];
}

/** What a new version starts from: the text files of version n, and its weights (reused by reference). */
export interface VersionSource {
  files: Record<string, string>;
  weights: BundleFile[];
}

/** path → text: the files of a bundle as the editor holds them. */
export type SourceFiles = Record<string, string>;

export interface Template {
  id: string;
  title: string;
  task: InferType;
  files: SourceFiles;
}

export type ServiceStateName = 'idle' | 'starting' | 'ready' | 'stopped';

export interface ServiceState {
  version: number | null;
  state: ServiceStateName;
  instances: number;
  last_failure: string | null;
}

/** One weight file or archive on its way in. */
export interface Upload {
  id: string;
  name: string;
  size: number;
  received: number;
  complete: boolean;
  sha256: string | null;
  chunk_size: number;
  expires_at: string;
}

export type ModelScope = 'all' | 'mine' | 'shared' | 'published';

/** What the add-model form sends; the same fields the manifest carries. */
export interface ModelInfo {
  name: string;
  description: string;
  architecture: string;
  task: InferType;
  modality: string;
}

/** A weight file of a new version: a finished upload, or the same file of an earlier version. */
export type WeightRef = string | { from_version: number };

export interface NewVersion {
  files: SourceFiles;
  weights: Record<string, WeightRef>;
  notes?: string;
}

export interface ImportedVersion {
  archive: string;
  notes?: string;
}

// Models
export const listModels = (scope: ModelScope = 'all') => request<Items<Model>>('GET', MODELS, { query: { scope } });
export const createModel = (info: ModelInfo) => request<Model>('POST', MODELS, { body: info });
export const listTemplates = () => request<Items<Template>>('GET', `${MODELS}/templates`);
export const getModel = (modelId: string) => request<ModelDetail>('GET', `${MODELS}/${id(modelId)}`);
/** Owner only: its services stop, its bundles, uploads and shares go. */
export const deleteModel = (modelId: string) => request<undefined>('DELETE', `${MODELS}/${id(modelId)}`);
/** Make a ready version the model's service: activate a newer one or roll back to an older one. */
export const activateVersion = (modelId: string, version: number) =>
  request<Model>('PUT', `${MODELS}/${id(modelId)}/active`, { body: { version } });
export const getService = (modelId: string) => request<ServiceState>('GET', `${MODELS}/${id(modelId)}/service`);

// Versions
const versions = (modelId: string): string => `${MODELS}/${id(modelId)}/versions`;

/** Publish files and weights as a new version: 202 validating, or InvalidBundle (422) with every problem. */
export const publishVersion = (modelId: string, version: NewVersion) =>
  exchange<ModelVersion>('POST', versions(modelId), { json: version });
/** Publish an uploaded bundle zip or MONAI Bundle as it is. */
export const importVersion = (modelId: string, version: ImportedVersion) =>
  exchange<ModelVersion>('POST', versions(modelId), { json: version });
export const getVersion = (modelId: string, version: number) =>
  request<VersionDetail>('GET', `${versions(modelId)}/${version}`);
export const versionSource = (modelId: string, version: number) =>
  request<VersionSource>('GET', `${versions(modelId)}/${version}/source`);

// Uploads (resumable: create, then PUT chunks in order with Content-Range)
const uploads = (modelId: string): string => `${MODELS}/${id(modelId)}/uploads`;

export const createUpload = (modelId: string, file: { name: string; size: number; sha256?: string }) =>
  request<Upload>('POST', uploads(modelId), { body: file });
export const getUpload = (modelId: string, uploadId: string) =>
  request<Upload>('GET', `${uploads(modelId)}/${id(uploadId)}`);
export const deleteUpload = (modelId: string, uploadId: string) =>
  request<undefined>('DELETE', `${uploads(modelId)}/${id(uploadId)}`);

/** `bytes start-end/total`, end inclusive, as the Content-Range of a chunk starting at `start`. */
export function contentRange(start: number, length: number, total: number): string {
  return `bytes ${start}-${start + length - 1}/${total}`;
}

/** PUT one chunk's raw bytes; a chunk not starting at the server's `received` answers 409 upload_offset. */
export const sendChunk = (modelId: string, uploadId: string, chunk: Blob, start: number, total: number, signal?: AbortSignal) =>
  exchange<Upload>('PUT', `${uploads(modelId)}/${id(uploadId)}`, {
    body: chunk,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': contentRange(start, chunk.size, total) },
    signal,
  });

/** A 422 invalid_bundle: the bundle became no version, for every one of these problems. */
export class InvalidBundle extends ApiError {
  readonly problems: Problem[];

  constructor(error: ApiError, problems: Problem[]) {
    super({
      status: error.status, code: error.code, detail: error.detail, title: error.title, type: error.type,
      fieldErrors: error.fieldErrors, retryAfterSeconds: error.retryAfterSeconds,
    });
    this.name = 'InvalidBundle';
    this.problems = problems;
  }
}

const STAGES: readonly string[] = ['archive', 'manifest', 'static', 'smoke'];
const count = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) ? value : null);

/** The `problems` of a problem+json body, each as the contract shapes it; anything else is dropped. */
export function parseProblems(body: unknown): Problem[] {
  const list = (body as { problems?: unknown } | undefined)?.problems;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item: unknown): Problem[] => {
    if (typeof item !== 'object' || item === null) return [];
    const { stage, file, line, column, message } = item as Record<string, unknown>;
    if (typeof message !== 'string') return [];
    return [{
      stage: (typeof stage === 'string' && STAGES.includes(stage) ? stage : 'archive') as ProblemStage,
      file: typeof file === 'string' && file !== '' ? file : null,
      line: count(line),
      column: count(column),
      message,
    }];
  });
}

interface Exchange {
  body?: Blob;
  json?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/**
 * One request the shared client cannot send yet: raw bytes with a Content-Range, and 422 answers whose
 * `problems` must reach the editor. Same CSRF header and one refresh on token_expired as `request`
 * (see the report: with Blob bodies, headers and problem extensions in http.ts this goes away).
 */
async function exchange<T>(method: 'POST' | 'PUT', path: string, init: Exchange): Promise<T> {
  const attempt = async (): Promise<Response> => {
    const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', ...init.headers };
    const csrf = csrfToken();
    if (csrf) headers[CSRF_HEADER] = csrf;
    if (init.json !== undefined) headers['Content-Type'] = 'application/json';
    const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
    try {
      return await fetch(buildUrl(path), { method, headers, body, credentials: 'same-origin', signal: init.signal });
    } catch (cause) {
      if (init.signal?.aborted) throw cause;
      throw networkError();
    }
  };
  let response = await attempt();
  let body = await readJson(response);
  if (response.status === 401 && (body as { code?: unknown } | undefined)?.code === 'token_expired') {
    await refreshSession();
    response = await attempt();
    body = await readJson(response);
  }
  if (response.ok) return body as T;
  const error = problemToError(response.status, body, response.headers.get('Retry-After'));
  throw error.code === 'invalid_bundle' ? new InvalidBundle(error, parseProblems(body)) : error;
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text || !/json/i.test(response.headers.get('Content-Type') ?? '')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
