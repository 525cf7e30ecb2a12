"""DICOM handling: validation before the archive, de-identification, study originals, ingest, the Orthanc
client, the study index and its search."""
