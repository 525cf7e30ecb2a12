/** The portal's one API client: typed endpoint functions over one fetch/XHR wrapper. */
export * as auth from './auth';
export * as inference from './inference';
export * as models from './models';
export * as sharing from './sharing';
export * as studies from './studies';
export * as stow from './stow';
export * from './types';
export { ABORTED_CODE } from './http';
export type { RefusedInstance, StoredInstance, StowOutcome } from './stow';
export { ApiError, NETWORK_ERROR_CODE, toApiError } from './errors';
export type { FieldError } from './errors';
export { configureApi, onSessionEnded, refreshSession } from './http';
