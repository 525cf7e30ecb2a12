import { useCallback } from 'react';
import { useNavigate } from 'react-router-dom';
import { leavesPortal } from './redirect';

/** Go to a same-origin path after sign-in: the router for the portal's pages, a page load for the rest. */
export function useGoTo(): (path: string) => void {
  const navigate = useNavigate();
  return useCallback((path: string) => {
    if (leavesPortal(path)) window.location.assign(path);
    else navigate(path, { replace: true });
  }, [navigate]);
}
