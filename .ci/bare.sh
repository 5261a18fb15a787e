#!/usr/bin/env bash
# Run a command as on a bare machine with Python and pip only: inside a private mount
# namespace every system OpenGL / EGL / OSMesa / X11 / xcb / Vulkan / DRM library (and Mesa's
# drivers) is hidden behind an empty file, so dlopen() fails as it would where they were
# never installed.  Used by .ci/run for the README's two commands.
#   usage: .ci/bare.sh 'COMMAND'       (needs root; the hiding ends with the command)
set -euo pipefail
if [ "${1:-}" = "--inside" ]; then
  shift
  n=0
  for f in $(ldconfig -p | awk '{print $NF}' \
      | grep -E '/lib(GL|EGL|GLX|GLES|GLU|OSMesa|glapi|GLdispatch|gbm|X[A-Za-z0-9]*|xcb[-A-Za-z0-9]*|vulkan|drm|glut)[._]' \
      | xargs -r -n1 readlink -f | sort -u); do
    mount --bind /dev/null "$f"; n=$((n + 1))
  done
  for d in /usr/lib/x86_64-linux-gnu/dri /usr/lib/aarch64-linux-gnu/dri /usr/share/glvnd; do
    if [ -d "$d" ]; then mount -t tmpfs none "$d"; fi
  done
  # prove it: no GL library can be loaded any more
  if python3 -c 'import ctypes, ctypes.util, sys
for name in ("GL", "EGL", "OSMesa", "X11"):
    try:
        ctypes.CDLL(ctypes.util.find_library(name) or "lib%s.so.1" % name)
    except OSError:
        continue
    sys.exit("bare: lib%s still loads" % name)'; then
    echo "bare: $n system GL/X libraries hidden; none loads"
  else
    exit 1
  fi
  unset DISPLAY WAYLAND_DISPLAY
  exec bash -c "$1"
fi
exec unshare --mount --propagation private "$0" --inside "$1"
