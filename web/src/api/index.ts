/** The portal's one API client: typed endpoint functions over one fetch/XHR wrapper. */
export * as auth from './auth';
export * from './types';
export { ApiError, NETWORK_ERROR_CODE, toApiError } from './errors';
export type { FieldError } from './errors';
export { configureApi, onSessionEnded, refreshSession } from './http';
