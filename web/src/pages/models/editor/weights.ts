/** A new version's weights: the earlier version's files it keeps, and the uploads that add or replace some. */
import type { WeightRef } from '../../../api/models';
import type { UploadEntry } from '../upload/useUploads';

/** A weight file of the version the editor started from, reused unless replaced or removed. */
export interface ReusedWeight {
  path: string;
  size: number;
  fromVersion: number;
}

export type WeightsOutcome = { ok: true; weights: Record<string, WeightRef> } | { ok: false; message: string };

/** The `weights` of POST /versions, or why they cannot be sent yet (an upload still running or failed). */
export function weightRefs(reused: readonly ReusedWeight[], uploads: Readonly<Record<string, UploadEntry>>): WeightsOutcome {
  const weights: Record<string, WeightRef> = {};
  for (const weight of reused) weights[weight.path] = { from_version: weight.fromVersion };
  for (const [path, entry] of Object.entries(uploads)) {
    if (entry.state === 'uploading') return { ok: false, message: `Wait until ${path} is uploaded.` };
    if (entry.state !== 'done' || !entry.upload) {
      return { ok: false, message: `The upload of ${path} did not finish: retry it or remove it.` };
    }
    weights[path] = entry.upload.id;
  }
  return { ok: true, weights };
}

/** Where a chosen file goes in the bundle: the path typed, else models/<its name>. */
export function weightPath(typed: string, fileName: string): string {
  return typed.trim() || `models/${fileName}`;
}
