import type { ReactNode } from 'react';

/** "Two-factor authentication" → "two-factor-authentication", for in-page links. */
function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/**
 * A titled card. It is deliberately not a named region: a region named "Medical certificate"
 * would be a second match for the file input of the same label. Its id allows links like
 * /profile#two-factor-authentication.
 */
export function Section({ title, children, className }: { title: string; children: ReactNode; className?: string }) {
  return (
    <section id={slug(title)} className={['card', className].filter(Boolean).join(' ')}>
      <h2 className="card-title">{title}</h2>
      {children}
    </section>
  );
}
