import { useState } from 'react';
import { Link, NavLink, Outlet } from 'react-router-dom';
import { useUser, useSession } from '../../session/context';
import { Button } from '../form';
import { Brand } from './Brand';
import { navItemsFor } from './nav';

/** The signed-in frame: top bar (product, navigation, user, sign out) and the page. */
export function AppLayout() {
  const user = useUser();
  const { signOut } = useSession();
  const [signingOut, setSigningOut] = useState(false);

  async function handleSignOut() {
    setSigningOut(true);
    try {
      await signOut('/');
    } catch {
      // Forgotten here either way; <RequireAuth> then shows the sign-in page.
    }
  }

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Brand />
        <nav className="topnav" aria-label="Main">
          {navItemsFor(user.role).map((item) => (
            <NavLink key={item.to} to={item.to} end={item.to === '/'} className="topnav-link">
              {item.label}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-user">
          <Link to="/profile" className="topbar-name" title="Your profile">
            {user.name}
          </Link>
          <Button variant="secondary" busy={signingOut} onClick={() => void handleSignOut()}>
            Sign out
          </Button>
        </div>
      </header>
      <main id="main" className="page" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
