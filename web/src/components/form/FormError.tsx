import type { ApiError } from '../../api';

/** The server's explanation of a failed request, announced to screen readers. */
export function FormError({ error }: { error: ApiError | null }) {
  if (!error) return null;
  const wait = error.retryAfterSeconds;
  return (
    <div className="alert alert--error" role="alert">
      <p>{error.detail}</p>
      {wait !== null && wait > 0 && <p>You can try again in about {wait < 60 ? `${wait} seconds` : `${Math.ceil(wait / 60)} minutes`}.</p>}
    </div>
  );
}
