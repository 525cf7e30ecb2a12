import { lazy, Suspense } from 'react';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router-dom';
import { Loading } from './components/Loading';
import { AppLayout } from './components/layout/AppLayout';
import { PublicLayout } from './components/layout/PublicLayout';
import { AuditPage } from './pages/admin/AuditPage';
import { CertificatesPage } from './pages/admin/CertificatesPage';
import { UsersPage } from './pages/admin/UsersPage';
import { ConfirmEmailPage } from './pages/email/ConfirmEmailPage';
import { VerifyEmailPage } from './pages/email/VerifyEmailPage';
import { GroupPage } from './pages/groups/GroupPage';
import { GroupsPage } from './pages/groups/GroupsPage';
import { HomePage } from './pages/home/HomePage';
import { ModelPage } from './pages/models/ModelPage';
import { ModelsPage } from './pages/models/ModelsPage';
import { NewModelPage } from './pages/models/NewModelPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OAuthCompletePage } from './pages/oauth/OAuthCompletePage';
import { ForgotPasswordPage } from './pages/password/ForgotPasswordPage';
import { ResetPasswordPage } from './pages/password/ResetPasswordPage';
import { ProfilePage } from './pages/profile/ProfilePage';
import { SignInPage } from './pages/signin/SignInPage';
import { TwoFactorPage } from './pages/signin/TwoFactorPage';
import { SignUpPage } from './pages/signup/SignUpPage';
import { StudiesPage } from './pages/studies/StudiesPage';
import { ViewerPage } from './pages/viewer/ViewerPage';
import { RequireAuth } from './session/RequireAuth';
import { RequireRole } from './session/RequireRole';
import { SessionProvider } from './session/SessionProvider';

// The code editor (CodeMirror) is loaded only by the page that uses it.
const ModelEditorPage = lazy(() => import('./pages/models/ModelEditorPage').then((m) => ({ default: m.ModelEditorPage })));

export function App() {
  return (
    <BrowserRouter>
      <SessionProvider>
        <Routes>
          <Route element={<PublicLayout />}>
            <Route path="/signin" element={<SignInPage />} />
            <Route path="/signin/2fa" element={<TwoFactorPage />} />
            <Route path="/signup" element={<SignUpPage />} />
            <Route path="/verify-email" element={<VerifyEmailPage />} />
            <Route path="/forgot-password" element={<ForgotPasswordPage />} />
            <Route path="/reset-password" element={<ResetPasswordPage />} />
            <Route path="/email/confirm" element={<ConfirmEmailPage />} />
            <Route path="/oauth/complete" element={<OAuthCompletePage />} />
          </Route>
          <Route element={<RequireAuth><AppLayout /></RequireAuth>}>
            <Route index element={<HomePage />} />
            <Route path="/profile" element={<ProfilePage />} />
            <Route path="/studies" element={<StudiesPage />} />
            <Route path="/studies/:studyUid/view" element={<ViewerPage />} />
            <Route path="/groups" element={<GroupsPage />} />
            <Route path="/groups/:groupId" element={<GroupPage />} />
            <Route path="/models" element={<ModelsPage />} />
            <Route path="/models/new" element={<NewModelPage />} />
            <Route path="/models/shared" element={<Navigate to="/models?scope=shared" replace />} />
            <Route path="/models/:modelId" element={<ModelPage />} />
            <Route path="/models/:modelId/edit" element={
              <Suspense fallback={<Loading label="Opening the editor…" />}><ModelEditorPage /></Suspense>} />
            <Route path="/admin" element={<RequireRole role="admin"><Navigate to="/admin/users" replace /></RequireRole>} />
            <Route path="/admin/users" element={<RequireRole role="admin"><UsersPage /></RequireRole>} />
            <Route path="/admin/certificates" element={<RequireRole role="admin"><CertificatesPage /></RequireRole>} />
            <Route path="/admin/audit" element={<RequireRole role="admin"><AuditPage /></RequireRole>} />
          </Route>
          <Route element={<PublicLayout />}>
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Routes>
      </SessionProvider>
    </BrowserRouter>
  );
}
