"""Capture Text: a global shortcut, a region picker, and the text of what was picked.

- ``flow.CaptureFlow``: the presenter that ties it together (prewarm, pick, submit first, stream into the
  popover, copy, notify, keep the picture with the history entry).
- ``overlay``: the Qt region picker (Linux/X11 and any platform without a system picker).
- ``external``: the system's own pickers run as a process (macOS ``screencapture``; Wayland's grim/slurp,
  spectacle or gnome-screenshot).
- ``hotkeys`` (+ ``hotkey_x11``, ``hotkey_macos``): the global shortcut per platform; ``keys``: shortcut text.
- ``macos``: the Screen Recording permission check and its System Settings pane.
- ``popover``: the small result panel near the tray icon.

See docs/adr/0017-screen-capture.md, and docs/adr/0001-lifecycle-rules.md ("Priority jobs").
"""

MODES = ("region", "window", "last")  # a region dragged, a window clicked, the last region again
