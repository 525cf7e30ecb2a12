import { describe, expect, it } from 'vitest';
import { isZip, itemsFromFiles } from '../../../src/pages/studies/collectFiles';

function fileIn(path: string, type = ''): File {
  const file = new File(['x'], path.split('/').pop() ?? path, { type });
  Object.defineProperty(file, 'webkitRelativePath', { value: path });
  return file;
}

describe('chosen files', () => {
  it('keep their path in the chosen folder and skip hidden and index files', () => {
    const items = itemsFromFiles([fileIn('scan/1.dcm'), fileIn('scan/.DS_Store'), fileIn('scan/.git/HEAD'), fileIn('scan/DICOMDIR'), fileIn('scan/sub/IM0001')]);
    expect(items.map((item) => item.name)).toEqual(['scan/1.dcm', 'scan/sub/IM0001']);
  });

  it('use the file name when not picked as a folder', () => {
    expect(itemsFromFiles([new File(['x'], 'slice.dcm')]).map((item) => item.name)).toEqual(['slice.dcm']);
  });

  it('are zips by extension or type', () => {
    expect(isZip({ file: fileIn('a/Scans.ZIP'), name: 'a/Scans.ZIP' })).toBe(true);
    expect(isZip({ file: fileIn('export', 'application/zip'), name: 'export' })).toBe(true);
    expect(isZip({ file: fileIn('IM0001'), name: 'IM0001' })).toBe(false);
  });
});
