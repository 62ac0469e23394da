#!/usr/bin/env bash
# Bundles built binaries with every shared library they load and the dynamic loader itself, so that they run on
# a machine whose glibc and libraries differ from this one's (the GPU machine of the README's GPU section, which
# has no Debian packages): the bundle's binaries are started through its own loader,
#   DEST/run tameq eval ppl ...        (DEST/run = DEST/lib/ld-linux-x86-64.so.2 --library-path DEST/lib DEST/bin/NAME)
# The CUDA driver (libcuda.so.1) is never bundled: it belongs to the machine's driver; the runner adds the
# usual driver folders to the library path after the bundle's own.
#   scripts/device-bundle.sh DEST [BINARY...]     (default binaries: build/tameq)
# With XZ=1 it also writes DEST.tar.xz (transfers to that machine are size-limited) and removes DEST.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/device-bundle.sh DEST [BINARY...]" >&2; exit 2; }
dest=$1
shift
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(build/tameq)
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "device-bundle: $b: not an executable (build first: scripts/build.sh)" >&2; exit 2; }
done

rm -rf "$dest" "$dest.tar.xz"
mkdir -p "$dest/bin" "$dest/lib"
for b in "${bins[@]}"; do
  cp "$b" "$dest/bin/"
  # ldd prints "name => path (addr)" for libraries and "path (addr)" for the loader.
  ldd "$b" | awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }' | while read -r lib; do
    case "$(basename "$lib")" in
      libcuda.so*|libnvidia*) continue ;;  # the driver's, from the target machine
    esac
    cp -L "$lib" "$dest/lib/"
  done
done
loader=$(ls "$dest"/lib/ld-linux-x86-64.so.* | head -1)
[ -n "$loader" ] || { echo "device-bundle: no dynamic loader found in ldd's output" >&2; exit 2; }

cat > "$dest/run" <<'EOF'
#!/bin/sh
# DEST/run NAME ARGS...: runs DEST/bin/NAME through the bundle's own loader and libraries.
here=$(cd "$(dirname "$0")" && pwd)
name=$1
shift
drivers=/usr/local/nvidia/lib64:/usr/lib/x86_64-linux-gnu:/usr/lib64
# tameq re-executes itself through /proc/self/exe to pick OpenBLAS's AVX-512 kernels (common/blas_env.h); under
# this loader /proc/self/exe is the loader, so make that choice here and keep the program from re-executing.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  case "$flags" in
    *avx512f*) case "$flags" in *avx512bw*) case "$flags" in *avx512vl*) case "$flags" in *avx512dq*)
      export OPENBLAS_CORETYPE=SkylakeX ;; esac ;; esac ;; esac ;;
  esac
fi
export TAMEQ_NO_REEXEC=1
exec "$here/lib/ld-linux-x86-64.so.2" --library-path "$here/lib:$drivers" "$here/bin/$name" "$@"
EOF
chmod +x "$dest/run"
[ "$(basename "$loader")" = ld-linux-x86-64.so.2 ] || ln -sf "$(basename "$loader")" "$dest/lib/ld-linux-x86-64.so.2"

if [ "${XZ:-0}" = 1 ]; then
  tar -C "$(dirname "$dest")" -cf - "$(basename "$dest")" | xz -T"$(nproc)" -6 > "$dest.tar.xz"
  rm -rf "$dest"
  echo "device-bundle: $dest.tar.xz ($(du -h "$dest.tar.xz" | cut -f1))"
else
  echo "device-bundle: $dest ($(du -sh "$dest" | cut -f1))"
fi
