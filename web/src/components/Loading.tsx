export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner spinner--dark" aria-hidden="true" />
      {label}
    </p>
  );
}
