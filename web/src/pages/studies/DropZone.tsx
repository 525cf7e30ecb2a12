import { useId, useState, type ChangeEvent, type DragEvent } from 'react';
import { itemsFromDrop, itemsFromFiles, type UploadItem } from './collectFiles';

export interface DropZoneProps {
  disabled: boolean;
  /** Called with the chosen or dropped files (a promise while dropped folders are walked). */
  onItems: (items: Promise<UploadItem[]> | UploadItem[]) => void;
}

const HINT = 'Zip archives are unpacked and checked by the server. Hidden files and DICOMDIR index files are skipped.';

/** Sets the non-standard attribute every current browser reads to pick a folder. */
function folderPicker(input: HTMLInputElement | null) {
  input?.setAttribute('webkitdirectory', '');
}

/**
 * A one-line bar above the study list: drop files, folders or zip archives on it, or pick them with the two
 * buttons (the keyboard way). Each button is the label of a visually hidden file input, so it is reached with
 * Tab and named for assistive technology by its text.
 */
export function DropZone({ disabled, onItems }: DropZoneProps) {
  const [over, setOver] = useState(false);
  const hintId = useId();

  function chosen(event: ChangeEvent<HTMLInputElement>) {
    const input = event.currentTarget;
    if (input.files && input.files.length > 0) onItems(itemsFromFiles(input.files));
    input.value = ''; // choosing the same files again is a new choice
  }

  function dragOver(event: DragEvent<HTMLDivElement>) {
    if (!Array.from(event.dataTransfer.types).includes('Files')) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
    setOver(true);
  }

  function drop(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    setOver(false);
    if (!disabled) onItems(itemsFromDrop(event.dataTransfer));
  }

  const buttonClass = `btn btn--secondary btn--small file-button${disabled ? ' file-button--disabled' : ''}`;
  return (
    <div className={`dropzone dropzone--bar${over ? ' dropzone--over' : ''}${disabled ? ' dropzone--disabled' : ''}`}
      title={HINT} onDragOver={dragOver} onDragLeave={() => setOver(false)} onDrop={drop}>
      <svg className="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <path d="M12 16V4m0 0-4 4m4-4 4 4M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3" />
      </svg>
      <p className="dropzone-text">Drop DICOM files, folders or .zip archives here, or</p>
      <div className="button-row">
        <label className={buttonClass}>
          <input type="file" multiple className="visually-hidden" disabled={disabled} onChange={chosen}
            aria-describedby={hintId} />
          Choose files
        </label>
        <label className={buttonClass}>
          <input ref={folderPicker} type="file" multiple className="visually-hidden" disabled={disabled} onChange={chosen}
            aria-describedby={hintId} />
          Choose folder
        </label>
      </div>
      <p id={hintId} className="visually-hidden">{HINT}</p>
    </div>
  );
}
