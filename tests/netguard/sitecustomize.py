"""Run at start-up by every Python process the test suite starts (tests/conftest.py puts this
folder first on ``PYTHONPATH``): the same network guard as the tests themselves."""

import os

if os.environ.get("OCR_TRAY_TEST_NETGUARD_LOG"):
    import ocr_tray_netguard

    ocr_tray_netguard.install_for_process()
