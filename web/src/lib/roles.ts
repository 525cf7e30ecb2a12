import type { Role } from '../api';

/** Roles whose accounts hold patient data (the server answers 403 no_patient_data_access to others). */
export const PATIENT_DATA_ROLES: readonly Role[] = ['researcher', 'health_professional'];

export const hasPatientData = (role: Role): boolean => PATIENT_DATA_ROLES.includes(role);
