/**
 * STOW-RS on the wire (DICOM PS3.18 §10.5): the multipart/related request body, how a folder is
 * split into requests, and what the response dataset says was stored or refused.
 */

/** The largest request the portal sends: a 1 GB folder goes as many of these, one at a time. */
export interface BatchLimits {
  maxFiles: number;
  maxBytes: number;
}

export const STOW_BATCH: BatchLimits = { maxFiles: 20, maxBytes: 50 * 1024 * 1024 };

/**
 * Group items in order into requests of at most `maxFiles` items and `maxBytes` bytes; an item
 * larger than `maxBytes` travels alone. Only references are grouped: bytes are read when sent.
 */
export function planBatches<T extends { size: number }>(items: readonly T[], limits: BatchLimits = STOW_BATCH): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= limits.maxFiles || bytes + item.size > limits.maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** A boundary that cannot plausibly occur inside DICOM bytes. */
export function newBoundary(): string {
  return `mcc-stow-${crypto.randomUUID()}`;
}

export function stowContentType(boundary: string): string {
  return `multipart/related; type="application/dicom"; boundary=${boundary}`;
}

/** The request body: one application/dicom part per file, the files' bytes streamed by the browser. */
export function stowBody(files: readonly Blob[], boundary: string): Blob {
  const parts: BlobPart[] = [];
  for (const file of files) {
    parts.push(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, file, '\r\n');
  }
  parts.push(`--${boundary}--\r\n`);
  return new Blob(parts, { type: stowContentType(boundary) });
}

// The response dataset (DICOM JSON, PS3.18 Table 10.5.3-1)
const TAG = {
  retrieveUrl: '00081190',
  failedSops: '00081198',
  referencedSops: '00081199',
  sopInstanceUid: '00081155',
  failureReason: '00081197',
  errorComment: '00000902',
} as const;

export interface StoredInstance {
  sopInstanceUid: string | null;
  /** From the instance's RetrieveURL (…/studies/<uid>/…), else the response's own. */
  studyUid: string | null;
}

export interface RefusedInstance {
  sopInstanceUid: string | null;
  /** Failure Reason (0008,1197), e.g. 0xC000; null when the server gave none. */
  reasonCode: number | null;
  /** Error Comment (0000,0902): the server's short explanation. */
  comment: string | null;
}

export interface StowOutcome {
  stored: StoredInstance[];
  failed: RefusedInstance[];
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstValue(item: Json, tag: string): unknown {
  const element = item[tag];
  if (!isRecord(element) || !Array.isArray(element.Value)) return undefined;
  return element.Value[0];
}

function text(item: Json, tag: string): string | null {
  const value = firstValue(item, tag);
  return typeof value === 'string' && value !== '' ? value : null;
}

function items(body: Json, tag: string): Json[] {
  const element = body[tag];
  if (!isRecord(element) || !Array.isArray(element.Value)) return [];
  return element.Value.filter(isRecord);
}

/** The StudyInstanceUID in a WADO-RS URL such as https://host/dicom-web/studies/1.2.3/series/4.5. */
export function studyUidFromUrl(url: string | null): string | null {
  const match = /\/studies\/([0-9.]+)(?:[/?#]|$)/.exec(url ?? '');
  return match?.[1] ?? null;
}

/** Read a STOW-RS response dataset; anything it does not say is null, never guessed. */
export function summariseStow(body: unknown): StowOutcome {
  if (!isRecord(body)) return { stored: [], failed: [] };
  const studyOfResponse = studyUidFromUrl(text(body, TAG.retrieveUrl));
  return {
    stored: items(body, TAG.referencedSops).map((item) => ({
      sopInstanceUid: text(item, TAG.sopInstanceUid),
      studyUid: studyUidFromUrl(text(item, TAG.retrieveUrl)) ?? studyOfResponse,
    })),
    failed: items(body, TAG.failedSops).map((item) => {
      const reason = firstValue(item, TAG.failureReason);
      return {
        sopInstanceUid: text(item, TAG.sopInstanceUid),
        reasonCode: typeof reason === 'number' ? reason : null,
        comment: text(item, TAG.errorComment),
      };
    }),
  };
}

export interface AttributedFailure {
  /** Index of the file in its request, or null when the answer cannot be tied to a file. */
  index: number | null;
  failure: RefusedInstance;
}

/**
 * Tie each refused instance to the file it came from. The server answers per instance, not per
 * file, so files are matched by their SOP Instance UID (`fileUids`, read from each file's meta
 * header; null entries where unreadable). Refusals without a matching UID go, in order, to the
 * files no answer claimed: the server handles parts in order. When every file was refused no
 * UIDs are needed.
 */
export function attributeFailures(
  fileCount: number,
  outcome: StowOutcome,
  fileUids: readonly (string | null)[] | null,
): AttributedFailure[] {
  const { failed, stored } = outcome;
  if (failed.length === 0) return [];
  if (failed.length === fileCount && stored.length === 0) {
    return failed.map((failure, index) => ({ index, failure }));
  }
  const taken = new Array<boolean>(fileCount).fill(false);
  const claim = (uid: string | null): number | null => {
    if (!uid || !fileUids) return null;
    const index = fileUids.findIndex((fileUid, i) => !taken[i] && fileUid === uid);
    if (index < 0) return null;
    taken[index] = true;
    return index;
  };
  stored.forEach((instance) => claim(instance.sopInstanceUid));
  const attributed: AttributedFailure[] = failed.map((failure) => ({ failure, index: claim(failure.sopInstanceUid) }));
  for (const entry of attributed) {
    if (entry.index !== null) continue;
    const index = taken.indexOf(false);
    if (index < 0) break;
    taken[index] = true;
    entry.index = index;
  }
  return attributed;
}
