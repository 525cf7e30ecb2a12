import { useEffect, useId, useRef, type ReactNode, type RefObject } from 'react';

export interface DialogProps {
  title: string;
  /** Called on Escape; ignored while `busy` (a request is running). */
  onClose: () => void;
  busy?: boolean;
  /** Focused when the dialog opens; otherwise the browser focuses the first focusable element. */
  initialFocus?: RefObject<HTMLElement | null>;
  className?: string;
  children: ReactNode;
}

/**
 * A modal dialog named by its title. showModal() gives the focus trap, Escape and the inert page
 * behind; on close, focus returns to the element that opened it.
 */
export function Dialog({ title, onClose, busy = false, initialFocus, className, children }: DialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  useEffect(() => {
    const element = dialog.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (element && !element.open) element.showModal();
    initialFocus?.current?.focus();
    return () => {
      element?.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  return (
    // role="dialog" is <dialog>'s own role, stated for tools that do not map the element yet.
    <dialog ref={dialog} role="dialog" className={['dialog', className].filter(Boolean).join(' ')} aria-labelledby={titleId}
      onCancel={(event) => { event.preventDefault(); if (!busy) onClose(); }}>
      <div className="dialog-body">
        <h2 id={titleId} className="card-title">{title}</h2>
        {children}
      </div>
    </dialog>
  );
}
