import { Link } from 'react-router-dom';
import { AuthCard } from '../components/AuthCard';

export function NotFoundPage() {
  return (
    <AuthCard title="Page not found">
      <p>There is nothing at this address.</p>
      <p className="auth-footer">
        <Link to="/">Go to the home page</Link>
      </p>
    </AuthCard>
  );
}
