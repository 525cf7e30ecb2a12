import type { ApiError, Role } from '../api';

/** Roles whose accounts hold patient data (the server answers 403 no_patient_data_access to others). */
export const PATIENT_DATA_ROLES: readonly Role[] = ['researcher', 'health_professional'];

export const hasPatientData = (role: Role): boolean => PATIENT_DATA_ROLES.includes(role);

/** Refusals that mean this account cannot use patient data at all (pending approval, administrator). */
const ACCOUNT_REFUSALS: readonly string[] = ['account_pending', 'no_patient_data_access'];

export const isAccountRefusal = (error: ApiError): boolean => ACCOUNT_REFUSALS.includes(error.code);
