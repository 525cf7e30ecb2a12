import { describe, expect, it } from 'vitest';
import { leavesPortal, safeNext, signInUrl } from '../../src/lib/redirect';

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

describe('leavesPortal', () => {
  it.each(['/viewer?StudyInstanceUIDs=1.2.3', '/viewer/viewer?StudyInstanceUIDs=1.2.3', '/viewer', '/api/auth/oauth/x/start'])(
    'is true for %s, served outside the router',
    (path) => {
      expect(leavesPortal(path)).toBe(true);
    },
  );

  it.each(['/', '/studies?patient_name=doe', '/profile', '/viewers', '/apiary'])('is false for the portal page %s', (path) => {
    expect(leavesPortal(path)).toBe(false);
  });
});
