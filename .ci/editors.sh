#!/usr/bin/env bash
# Install the real editors the editor tests drive (tests/editors/):
#   * Krita 5 + Xvfb from Debian (apt), about 1 minute;
#   * GIMP 3 in a Debian trixie chroot (Debian 12 only has GIMP 2.10), about 70 s the first
#     time; the chroot is cached in $DARKROOM_EDITORS_CACHE and reused when complete.
# Idempotent and quick when done. Never fatal: if an editor cannot be installed, the script says
# so and exits 0; the editor tests then skip with a reason.
set -u

CACHE="${DARKROOM_EDITORS_CACHE:-/var/cache/neural-darkroom-editors}"
CHROOT="$CACHE/gimp3-trixie"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# GIMP as a user gets it: no python3-zmq (the installer vendors pyzmq for GIMP's Python).
GIMP_PKGS="gimp python3 python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4"
WHEELS="$CACHE/wheels"
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
        echo "editors.sh: not root and no password-less sudo: editor tests will skip."; exit 0; fi
fi
export DEBIAN_FRONTEND=noninteractive

log() { echo "editors.sh: $*"; }

install_krita() {
    if command -v krita >/dev/null && command -v xvfb-run >/dev/null && command -v xauth >/dev/null \
       && /usr/bin/python3 -c "import PyQt5" 2>/dev/null; then
        log "Krita $(dpkg-query -W -f='${Version}' krita 2>/dev/null) and Xvfb already installed."
        return 0
    fi
    if ! command -v apt-get >/dev/null; then log "no apt-get: Krita tests will skip."; return 0; fi
    log "installing Krita, Xvfb, PyQt5 (apt) …"
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    if $SUDO apt-get install -y -qq krita xvfb xauth python3-pyqt5 debootstrap >/dev/null 2>&1; then
        log "Krita installed."
    else
        log "apt-get could not install Krita: Krita tests will skip."
    fi
}

install_gimp3() {
    if [ -f "$CHROOT/.complete" ] && [ -x "$CHROOT/usr/bin/gimp-console-3.0" ]; then
        log "GIMP 3 chroot ready in $CHROOT (cached)."
        return 0
    fi
    if ! command -v debootstrap >/dev/null; then
        $SUDO apt-get install -y -qq debootstrap >/dev/null 2>&1 || true
    fi
    if ! command -v debootstrap >/dev/null; then log "no debootstrap: GIMP tests will skip."; return 0; fi
    log "building the GIMP 3 trixie chroot in $CHROOT (first time: a few minutes) …"
    $SUDO rm -rf "$CHROOT.tmp"
    $SUDO mkdir -p "$CACHE"
    if ! $SUDO debootstrap --variant=minbase trixie "$CHROOT.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
        log "debootstrap failed (see $CACHE/debootstrap.log): GIMP tests will skip."; return 0
    fi
    if ! $SUDO chroot "$CHROOT.tmp" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends $GIMP_PKGS && apt-get clean" \
            >"$CACHE/apt-chroot.log" 2>&1; then
        log "apt-get in the chroot failed (see $CACHE/apt-chroot.log): GIMP tests will skip."; return 0
    fi
    $SUDO touch "$CHROOT.tmp/.complete"
    $SUDO rm -rf "$CHROOT"
    $SUDO mv "$CHROOT.tmp" "$CHROOT"
    log "GIMP 3 chroot ready: $($SUDO chroot "$CHROOT" gimp-console-3.0 --version 2>/dev/null | head -n1)"
}

# The chroot as a user's GIMP has it: drop python3-zmq left there by older versions of this
# script, and keep a pyzmq wheel for GIMP's Python so the install test needs no network
# (install.py --wheels; a user's install.py fetches the same wheel from PyPI).
gimp3_as_shipped() {
    [ -f "$CHROOT/.complete" ] || return 0
    if [ -d "$CHROOT/usr/lib/python3/dist-packages/zmq" ]; then
        $SUDO chroot "$CHROOT" /bin/sh -c "DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq \
            python3-zmq python3-numpy >/dev/null 2>&1" || log "could not remove python3-zmq"
    fi
    local ver
    ver=$(ls "$CHROOT"/usr/lib/python3/dist-packages/gi/_gi.cpython-3*.so 2>/dev/null \
          | sed -n 's/.*cpython-3\([0-9]*\).*/3.\1/p' | head -n1)
    if [ -n "$ver" ] && ! ls "$WHEELS"/pyzmq-*.whl >/dev/null 2>&1; then
        $SUDO mkdir -p "$WHEELS"
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$ver" \
            --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
            -d "$WHEELS" "pyzmq>=25" >/dev/null 2>&1 \
            && log "pyzmq wheel for GIMP's Python $ver in $WHEELS" \
            || log "could not fetch a pyzmq wheel for Python $ver: the GIMP tests will skip"
    fi
}

install_krita
install_gimp3
gimp3_as_shipped
exit 0
