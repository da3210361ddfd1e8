#!/usr/bin/env bash
# Installs the optional system tools the test-suite exercises: lame (real MP3 encoder for
# the MP3-alignment test), ffmpeg (decoder fallback), the FluidSynth library with a
# General-MIDI soundfont (songscope synth) and Debian's Chromium (the browser test of
# songscope serve drives it through Playwright, which never downloads a browser of its own).
# Without them those tests skip.
set -u
missing=()
command -v lame >/dev/null 2>&1 || missing+=(lame)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
ldconfig -p 2>/dev/null | grep -q libfluidsynth.so.3 || missing+=(libfluidsynth3)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing+=(fluid-soundfont-gm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "installing ${missing[*]} with apt-get" >&2
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
      || echo "note: could not install ${missing[*]}; the tests that need them will skip" >&2
    exit 0
  fi
fi
echo "note: ${missing[*]} not found; the tests that need them will skip (install them to run those tests)" >&2
exit 0
