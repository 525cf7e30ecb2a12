import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Button, type ButtonVariant } from './form';

export interface ConfirmButtonProps {
  /** The button's name, e.g. "Revoke". */
  label: string;
  /** Asked beside "Confirm" and "Cancel", e.g. "Revoke Bob's access?". */
  question: ReactNode;
  onConfirm: () => Promise<unknown> | void;
  variant?: ButtonVariant;
  disabled?: boolean;
  /** Ids of elements that say what the button acts on (its name stays `label`). */
  describedBy?: string;
  className?: string;
}

/**
 * An action that cannot be undone, in two steps: the button, then the question with "Confirm" and
 * "Cancel" in its place. Focus moves to "Confirm", and back to the button when cancelled.
 */
export function ConfirmButton({
  label, question, onConfirm, variant = 'danger', disabled, describedBy, className,
}: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const questionId = useId();
  const confirm = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef(false);

  useEffect(() => {
    if (asking) confirm.current?.focus();
    else if (returnFocus.current) opener.current?.focus();
    returnFocus.current = false;
  }, [asking]);

  async function confirmed() {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      // Unmounted when the action removed what it was about; then these do nothing.
      returnFocus.current = true;
      setBusy(false);
      setAsking(false);
    }
  }

  if (!asking) {
    return (
      <Button ref={opener} variant={variant} disabled={disabled} className={className} aria-describedby={describedBy}
        onClick={() => setAsking(true)}>
        {label}
      </Button>
    );
  }
  return (
    <span className="confirm">
      <span id={questionId} className="confirm-question">{question}</span>
      <Button ref={confirm} variant="danger" className={className} busy={busy} aria-describedby={questionId}
        onClick={() => void confirmed()}>
        Confirm
      </Button>
      <Button variant="secondary" className={className} disabled={busy}
        onClick={() => { returnFocus.current = true; setAsking(false); }}>
        Cancel
      </Button>
    </span>
  );
}
