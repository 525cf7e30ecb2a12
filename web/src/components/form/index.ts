export { Button } from './Button';
export { FormError } from './FormError';
export { RadioGroup } from './RadioGroup';
export type { RadioOption } from './RadioGroup';
export { TextField } from './TextField';
export { splitErrors } from './errors';
export type { FieldCodes, FormErrors } from './errors';
export { SelectField } from './SelectField';
export type { SelectOption } from './SelectField';
