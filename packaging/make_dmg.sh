#!/usr/bin/env bash
# Make the disk image users download: the app and a link to /Applications on a compressed (UDZO)
# volume; sign it when OCR_TRAY_CODESIGN_IDENTITY names an identity. Then mount it read-only and
# check what a user gets: the Applications link, and an app whose signature still verifies strictly
# (a copy that turned the Qt frameworks' symlinks into files fails here, as in pyinstaller#8927).
#
#   bash packaging/make_dmg.sh "dist/OCR Tray.app" OCR-Tray-0.1.0.dmg ["OCR Tray"]
set -euo pipefail
app=${1:?usage: make_dmg.sh APP DMG [VOLUME_NAME]}
dmg=${2:?usage: make_dmg.sh APP DMG [VOLUME_NAME]}
volname=${3:-OCR Tray}
name=$(basename "$app")
stage=$(mktemp -d)
mnt=$(mktemp -d)
cleanup() {
  hdiutil detach "$mnt" -quiet >/dev/null 2>&1 || true
  rm -rf "$stage"
  rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

ditto "$app" "$stage/$name"  # ditto keeps symlinks, permissions, extended attributes and signatures
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
# hdiutil on CI machines now and then answers "Resource busy": try a few times
for attempt in 1 2 3 4; do
  if hdiutil create -volname "$volname" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"; then
    break
  fi
  if [ "$attempt" = 4 ]; then
    echo "make_dmg: hdiutil create failed 4 times" >&2
    exit 1
  fi
  sleep $((attempt * 5))
done
if [ -n "${OCR_TRAY_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --sign "$OCR_TRAY_CODESIGN_IDENTITY" --timestamp "$dmg"
fi

hdiutil attach -readonly -nobrowse -noautoopen -mountpoint "$mnt" "$dmg" >/dev/null
if [ ! -L "$mnt/Applications" ] || [ "$(readlink "$mnt/Applications")" != /Applications ]; then
  echo "make_dmg: the image has no Applications link" >&2
  exit 1
fi
codesign --verify --deep --strict --verbose=1 "$mnt/$name"
links=$(find "$mnt/$name" -type l | wc -l | tr -d ' ')
hdiutil detach "$mnt" -quiet
echo "make_dmg: $dmg ($(du -h "$dmg" | cut -f1)): $name ($links symlinks kept, signature verified) + Applications link"
