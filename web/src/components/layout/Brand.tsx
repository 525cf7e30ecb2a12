import { Link } from 'react-router-dom';

export function Brand() {
  return (
    <Link to="/" className="brand">
      <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
        <rect width="32" height="32" rx="7" />
        <path d="M13 7h6v6h6v6h-6v6h-6v-6H7v-6h6z" />
      </svg>
      <span>MedCloudCare</span>
    </Link>
  );
}
