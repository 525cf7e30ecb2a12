/** Plain words for the models API's values, in one place for every model page. */
import type { ModelAccess } from '../../api';
import type { InferType, ModelScope, ServiceStateName, ValidationStage, VersionStatus } from '../../api/models';

export const TASK_LABELS: Readonly<Record<InferType, string>> = {
  segmentation: 'Segmentation',
  classification: 'Classification',
  detection: 'Detection',
  localisation: 'Localisation',
  processing: 'Processing',
};

export const TASK_HINTS: Readonly<Record<InferType, string>> = {
  segmentation: 'a label for every voxel, e.g. an organ',
  classification: 'one probability per label for the series',
  detection: 'boxes around findings',
  localisation: 'points on landmarks or findings',
  processing: 'a new image, or a mask, on the input grid',
};

export const ACCESS_LABELS: Readonly<Record<ModelAccess, string>> = {
  owner: 'Owner',
  edit: 'Edit',
  use: 'Use',
  published: 'Published',
};

export const SCOPE_LABELS: Readonly<Record<ModelScope, string>> = {
  all: 'All',
  mine: 'Mine',
  shared: 'Shared with me',
  published: 'Published',
};

export const STATUS_LABELS: Readonly<Record<VersionStatus, string>> = {
  validating: 'Validating',
  ready: 'Ready',
  failed: 'Failed',
};

export const STAGE_LABELS: Readonly<Record<ValidationStage, string>> = {
  archive: 'archive check',
  manifest: 'manifest check',
  static: 'static checks',
  smoke: 'smoke test',
  storing: 'storing',
};

export const SERVICE_LABELS: Readonly<Record<ServiceStateName, string>> = {
  idle: 'Idle: it starts on the first request',
  starting: 'Starting',
  ready: 'Ready',
  stopped: 'Stopped',
};

/** The portal's badge for each status (global.css). */
export const STATUS_BADGES: Readonly<Record<VersionStatus, string>> = {
  validating: 'badge--pending',
  ready: 'badge--success',
  failed: 'badge--failure',
};

/** "Validating (smoke test)", "Ready", "Failed". */
export function statusText(status: VersionStatus, stage: ValidationStage | null): string {
  return status === 'validating' && stage ? `${STATUS_LABELS[status]} (${STAGE_LABELS[stage]})` : STATUS_LABELS[status];
}
