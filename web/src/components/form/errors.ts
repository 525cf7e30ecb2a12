import type { ApiError } from '../../api';

/** For each request field of a form: error codes whose `detail` belongs beside that field. */
export type FieldCodes = Readonly<Record<string, readonly string[]>>;

export interface FormErrors {
  /** Message for the whole form, when no field took the error. */
  form: ApiError | null;
  field: (name: string) => string | undefined;
}

/**
 * Place a problem+json error: a code a field owns (e.g. weak_password) shows the server's
 * `detail` beside that field; `errors` entries show beside the fields they name; anything
 * left over shows above the form.
 */
export function splitErrors(error: ApiError | null, fields: FieldCodes): FormErrors {
  if (!error) return { form: null, field: () => undefined };
  const messages = new Map<string, string>();
  let ownedByCode = false;
  for (const [name, codes] of Object.entries(fields)) {
    if (codes.includes(error.code)) {
      messages.set(name, error.detail);
      ownedByCode = true;
      continue;
    }
    const message = error.fieldMessage(name);
    if (message) messages.set(name, message);
  }
  const unplaced = !ownedByCode && error.fieldErrors.some((e) => !(e.field in fields));
  return {
    form: messages.size === 0 || unplaced ? error : null,
    field: (name) => messages.get(name),
  };
}
