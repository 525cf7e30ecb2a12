"""DICOM handling: validation before the archive, de-identification, study originals, ingest, the Orthanc
client, the study index and its search.

Importing any of it silences pydicom's own diagnostics for the process: its warnings and log lines
quote attribute values (a patient's name or birth date in an invalid element), and patient data never
goes to logs. Refusals are reported by `validation.py` in the platform's own words instead.
"""

import logging
import warnings

from pydicom import config as _pydicom_config

_pydicom_config.settings.reading_validation_mode = _pydicom_config.IGNORE  # was WARN: the same values, no warning
_pydicom_config.settings.writing_validation_mode = _pydicom_config.IGNORE
logging.getLogger("pydicom").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
