"""Helpers that run MedCloudCare's backing services on one machine for development and tests."""
