/**
 * The files a person chose or dropped, as a flat list with the names they recognise
 * (folder/sub/file.dcm). Only references are collected: no file is read here.
 */

export interface UploadItem {
  file: File;
  /** The path inside the chosen folder, or the file's name. */
  name: string;
}

const ZIP_TYPES = new Set(['application/zip', 'application/x-zip-compressed']);

/** Zips go to the server whole (it unpacks and checks them); everything else is sent as DICOM. */
export function isZip(item: UploadItem): boolean {
  return /\.zip$/i.test(item.file.name) || ZIP_TYPES.has(item.file.type);
}

/**
 * Hidden files and folders (.DS_Store, .git/…) are the system's, not the person's; a disc's
 * DICOMDIR and Windows' Thumbs.db index files hold no images (the zip import skips them too).
 */
const INDEX_FILES = new Set(['DICOMDIR', 'Thumbs.db']);

function skipped(path: string): boolean {
  const segments = path.split('/');
  return segments.some((segment) => segment.startsWith('.')) || INDEX_FILES.has(segments.at(-1) ?? '');
}

export function itemsFromFiles(files: FileList | readonly File[]): UploadItem[] {
  return Array.from(files)
    .map((file) => ({ file, name: file.webkitRelativePath || file.name }))
    .filter((item) => !skipped(item.name));
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** All entries of a directory: readEntries answers in chunks until it answers none. */
async function childrenOf(directory: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = directory.createReader();
  const children: FileSystemEntry[] = [];
  for (;;) {
    const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (chunk.length === 0) return children;
    children.push(...chunk);
  }
}

async function walk(entry: FileSystemEntry, into: UploadItem[]): Promise<void> {
  if (skipped(entry.name)) return;
  if (entry.isFile) {
    into.push({ file: await fileOf(entry as FileSystemFileEntry), name: entry.fullPath.replace(/^\//, '') });
  } else if (entry.isDirectory) {
    for (const child of await childrenOf(entry as FileSystemDirectoryEntry)) await walk(child, into);
  }
}

/**
 * The files of a drop, folders walked recursively. Call it inside the drop handler: the browser
 * hands out the dropped entries only while the event is being dispatched.
 */
export function itemsFromDrop(data: DataTransfer): Promise<UploadItem[]> {
  const entries = Array.from(data.items)
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.() ?? null);
  if (entries.length === 0 || entries.some((entry) => entry === null)) {
    return Promise.resolve(itemsFromFiles(data.files));
  }
  return (async () => {
    const items: UploadItem[] = [];
    for (const entry of entries) if (entry) await walk(entry, items);
    return items;
  })();
}
