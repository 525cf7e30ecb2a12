import { describe, expect, it } from 'vitest';
import { safeNext, signInUrl } from '../../src/lib/redirect';

describe('safeNext', () => {
  it('keeps a path on this origin', () => {
    expect(safeNext('/admin/users?q=ada')).toBe('/admin/users?q=ada');
  });

  it.each([null, '', 'https://evil.example', '//evil.example/x', '/\\evil.example', '/signin?next=/'])(
    'falls back to / for %s',
    (next) => {
      expect(safeNext(next)).toBe('/');
    },
  );
});

describe('signInUrl', () => {
  it('remembers the wanted path', () => {
    expect(signInUrl('/profile')).toBe('/signin?next=%2Fprofile');
  });

  it('omits next for the home page', () => {
    expect(signInUrl('/')).toBe('/signin');
  });
});
