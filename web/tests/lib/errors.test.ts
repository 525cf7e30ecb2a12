import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api';
import { splitErrors } from '../../src/components/form/errors';

const weak = new ApiError({ status: 422, code: 'weak_password', detail: 'Too common.' });
const validation = new ApiError({
  status: 422,
  code: 'validation',
  detail: 'email: is not an email address',
  fieldErrors: [{ field: 'email', message: 'is not an email address' }],
});

describe('splitErrors', () => {
  it('puts a field error beside its field and nothing above the form', () => {
    const errors = splitErrors(validation, { email: [], password: [] });
    expect(errors.field('email')).toBe('is not an email address');
    expect(errors.form).toBeNull();
  });

  it('puts a code-specific detail beside the field that owns it', () => {
    const errors = splitErrors(weak, { email: [], password: ['weak_password'] });
    expect(errors.field('password')).toBe('Too common.');
    expect(errors.form).toBeNull();
  });

  it('shows the detail of an owned code even when the server names another field', () => {
    const renamed = new ApiError({
      status: 422,
      code: 'weak_password',
      detail: 'password: must be at least 12 characters',
      fieldErrors: [{ field: 'password', message: 'must be at least 12 characters' }],
    });
    const errors = splitErrors(renamed, { current_password: [], new_password: ['weak_password'] });
    expect(errors.field('new_password')).toBe('password: must be at least 12 characters');
    expect(errors.form).toBeNull();
  });

  it('shows an error no field owns above the form', () => {
    const errors = splitErrors(validation, { password: [] });
    expect(errors.field('password')).toBeUndefined();
    expect(errors.form).toBe(validation);
  });

  it('is empty without an error', () => {
    const errors = splitErrors(null, { email: [] });
    expect(errors.form).toBeNull();
    expect(errors.field('email')).toBeUndefined();
  });
});
