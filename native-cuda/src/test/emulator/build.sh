#!/usr/bin/env bash
# Builds the test-only CUDA emulator into OUT (default target/emulated-cuda): stand-ins for libcuda.so.1,
# libcudart.so.13, libcublas.so.13, libcublasLt.so.13 and libnvrtc.so.13 that run the backend's real .cu kernels on
# the CPU (see emulated_device.h). Maven's emulated-cuda test run puts OUT on LD_LIBRARY_PATH, so bytedeco's JNI
# bindings and CudaBackend run unchanged against it where no GPU is. It proves kernels' logic and the Java side's
# calls, not GPU behaviour or speed. Without g++ it writes only OUT/SKIPPED (a reason), unless CI is set: then it fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-target/emulated-cuda}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out/SKIPPED"
cxx="${CXX:-g++}"
if ! command -v "$cxx" >/dev/null 2>&1; then
  if [ -n "${CI:-}" ]; then
    echo "build.sh: $cxx not found; CI must install g++ (see .ci/run) so the emulated CUDA tests run" >&2
    exit 1
  fi
  echo "no C++ compiler ($cxx) to build the CUDA emulator; install g++ to run the CUDA tests on the CPU" > "$out/SKIPPED"
  echo "build.sh: skipped: $(cat "$out/SKIPPED")"
  exit 0
fi

# One library per soname; each exports its symbols under the version node its soname names, as bytedeco's JNI
# libraries require (e.g. cudaMalloc@libcudart.so.13). libcuda.so.1's symbols are unversioned, like the driver's.
build() {   # soname, source, extra flags...
  local soname="$1" source="$2"
  shift 2
  local flags=()
  if [ "$soname" != libcuda.so.1 ]; then
    printf '%s { global: *; };\n' "$soname" > "$out/$soname.map"
    flags+=("-Wl,--version-script=$out/$soname.map")
  fi
  "$cxx" -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Wno-unused-parameter -Werror \
    -Wl,-soname,"$soname" "${flags[@]}" -o "$out/$soname" "$here/$source" "$@"
}

build libcudart.so.13 runtime.cpp
build libcuda.so.1 driver.cpp -ldl
build libcublasLt.so.13 cublas.cpp -DPG_CUBLAS_LT
build libcublas.so.13 cublas.cpp -L"$out" -l:libcudart.so.13 -Wl,-rpath,'$ORIGIN'
build libnvrtc.so.13 nvrtc.cpp "-DPG_EMULATOR_HEADER=\"$here/emulated_device.h\""
# the emulator's own checks; a failure here fails the build before any Java test trusts the emulator
"$cxx" -std=c++17 -O1 -Wall -Werror -o "$out/emulator_test" "$here/emulator_test.cpp" -L"$out" -l:libcudart.so.13 \
  -l:libcuda.so.1 -l:libnvrtc.so.13 -l:libcublas.so.13 -Wl,-rpath,"$out"
"$out/emulator_test" 2> "$out/emulator_test.stderr" || { cat "$out/emulator_test.stderr" >&2; exit 1; }
echo "build.sh: the CUDA emulator is in $out"
