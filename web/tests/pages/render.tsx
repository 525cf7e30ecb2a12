/** Render portal pages in jsdom as the signed-in user, behind a memory router whose location tests can read. */
import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import type { User } from '../../src/api';
import { SessionContext, type SessionValue } from '../../src/session/context';

export const RESEARCHER: User = {
  id: 'u1', email: 'ada@example.org', name: 'Ada', role: 'researcher', status: 'active', email_verified: true,
  totp_enabled: false, created_at: '2026-01-01T00:00:00Z', certificate: null,
};

/** jsdom has no showModal()/close(): they open and close by the attribute, as browsers do. */
export function polyfillDialog(): void {
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
  HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement) {
    this.removeAttribute('open');
  };
}

let currentPath = '';

function LocationProbe() {
  const location = useLocation();
  currentPath = location.pathname + location.search;
  return null;
}

/** The router's path and query after the last render, e.g. "/studies?scope=shared". */
export const routerPath = (): string => currentPath;

function session(user: User): SessionValue {
  return {
    user, loading: false, loadError: null, returnAfterSignOut: null,
    signedIn: () => undefined, reloadUser: async () => undefined, signOut: async () => undefined, forget: () => undefined,
  };
}

/** Render `routes` (path → element) at `path`, signed in as `user`. */
export function renderAt(path: string, routes: Readonly<Record<string, ReactElement>>, user: User = RESEARCHER): RenderResult {
  return render(
    <SessionContext.Provider value={session(user)}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          {Object.entries(routes).map(([route, element]) => <Route key={route} path={route} element={element} />)}
        </Routes>
        <LocationProbe />
      </MemoryRouter>
    </SessionContext.Provider>,
  );
}
