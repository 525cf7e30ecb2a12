import { Outlet } from 'react-router-dom';
import { Brand } from './Brand';

/** The frame for pages used before signing in: product name and one centred card. */
export function PublicLayout() {
  return (
    <div className="app">
      <header className="topbar">
        <Brand />
      </header>
      <main id="main" className="page page--narrow">
        <Outlet />
      </main>
    </div>
  );
}
