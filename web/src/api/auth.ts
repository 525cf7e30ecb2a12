/** Typed functions for every `/api/auth` endpoint the portal calls. */
import { request, upload } from './http';
import type {
  AdminCertificate, AdminUserQuery, AuditEntry, AuditQuery, Certificate, CertificateStatus,
  ChainVerification, Items, LoginResult, MfaProof, OAuthProvider, Page, PendingOAuth,
  RecoveryCodes, Session, SignedIn, SignupRole, Status, TotpSetup, User,
} from './types';

const AUTH = '/api/auth';
const id = (value: string): string => encodeURIComponent(value);

// Public: account life cycle
export const signUp = (body: { email: string; name: string; password: string; role: SignupRole }) =>
  request<Status<'verification_sent'>>('POST', `${AUTH}/signup`, { body });
export const verifyEmail = (token: string) =>
  request<Status<'verified'>>('POST', `${AUTH}/verify-email`, { body: { token } });
export const logIn = (body: { email: string; password: string }) =>
  request<LoginResult>('POST', `${AUTH}/login`, { body });
export const logInMfa = (proof: MfaProof) => request<SignedIn>('POST', `${AUTH}/login/mfa`, { body: proof });
export const forgotPassword = (email: string) =>
  request<Status<'reset_sent'>>('POST', `${AUTH}/password/forgot`, { body: { email } });
export const resetPassword = (body: { token: string; password: string }) =>
  request<Status<'password_changed'>>('POST', `${AUTH}/password/reset`, { body });
export const confirmEmail = (token: string) =>
  request<Status<'email_changed'>>('POST', `${AUTH}/email/confirm`, { body: { token } });

// Public: social sign-in
export const oauthProviders = () => request<Items<OAuthProvider>>('GET', `${AUTH}/oauth/providers`);
export const oauthStartUrl = (provider: string): string => `${AUTH}/oauth/${id(provider)}/start`;
export const oauthPending = () => request<PendingOAuth>('GET', `${AUTH}/oauth/pending`);
export const oauthCompleteSignup = (body: { role: SignupRole; name: string }) =>
  request<SignedIn>('POST', `${AUTH}/oauth/complete-signup`, { body });
export const oauthConfirmLink = (password: string) =>
  request<LoginResult>('POST', `${AUTH}/oauth/confirm-link`, { body: { password } });

// Signed in
export const me = () => request<User>('GET', `${AUTH}/me`);
export const updateMe = (body: { name: string }) => request<User>('PATCH', `${AUTH}/me`, { body });
export const logOut = () => request<unknown>('POST', `${AUTH}/logout`);
export const logOutEverywhere = () => request<unknown>('POST', `${AUTH}/logout-all`);
export const sessions = () => request<Items<Session>>('GET', `${AUTH}/sessions`);
export const revokeSession = (sessionId: string) =>
  request<undefined>('DELETE', `${AUTH}/sessions/${id(sessionId)}`);
export const changePassword = (body: { current_password: string; new_password: string }) =>
  request<unknown>('POST', `${AUTH}/password/change`, { body });
export const changeEmail = (body: { password: string; new_email: string }) =>
  request<Status<'verification_sent'>>('POST', `${AUTH}/email/change`, { body });
export const totpSetup = (password: string) =>
  request<TotpSetup>('POST', `${AUTH}/2fa/totp/setup`, { body: { password } });
export const totpConfirm = (code: string) =>
  request<RecoveryCodes>('POST', `${AUTH}/2fa/totp/confirm`, { body: { code } });
export const totpDisable = (body: { password: string; code: string }) =>
  request<unknown>('POST', `${AUTH}/2fa/totp/disable`, { body });
export const regenerateRecoveryCodes = (body: { password: string; code: string }) =>
  request<RecoveryCodes>('POST', `${AUTH}/2fa/recovery-codes`, { body });

export function uploadCertificate(file: File, onProgress?: (fraction: number) => void) {
  const form = new FormData();
  form.append('file', file);
  return upload<{ certificate: Certificate }>(`${AUTH}/certificate`, form, { onProgress });
}

// Admin
export const adminUsers = (query: AdminUserQuery) =>
  request<Page<User>>('GET', `${AUTH}/admin/users`, { query: { ...query } });
export const deactivateUser = (userId: string) =>
  request<User>('POST', `${AUTH}/admin/users/${id(userId)}/deactivate`);
export const reactivateUser = (userId: string) =>
  request<User>('POST', `${AUTH}/admin/users/${id(userId)}/reactivate`);
export const adminCertificates = (status: CertificateStatus = 'pending') =>
  request<Items<AdminCertificate>>('GET', `${AUTH}/admin/certificates`, { query: { status } });
export const certificateFileUrl = (certificateId: string): string =>
  `${AUTH}/admin/certificates/${id(certificateId)}/file`;
export const approveCertificate = (certificateId: string) =>
  request<Certificate>('POST', `${AUTH}/admin/certificates/${id(certificateId)}/approve`);
export const rejectCertificate = (certificateId: string, reason: string) =>
  request<Certificate>('POST', `${AUTH}/admin/certificates/${id(certificateId)}/reject`, { body: { reason } });
export const auditLog = (query: AuditQuery) =>
  request<Page<AuditEntry>>('GET', `${AUTH}/admin/audit`, { query: { ...query } });
export const verifyAuditChain = () => request<ChainVerification>('GET', `${AUTH}/admin/audit/verify`);
