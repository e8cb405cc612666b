#!/usr/bin/env bash
# Runs RealNvrtcTest: NVIDIA's own NVRTC 13 compiles every kernel source through the backend's NvrtcCompiler, for
# sm_80 and sm_90 cubins and PTX, on a machine without a GPU. NVRTC needs no GPU, but bytedeco's JNI library for
# it links libcuda.so.1, so the CUDA emulator's stand-in driver (src/test/emulator) fills that place; nothing else
# of the emulator is used. Usage, from the repository root after `mvn -pl native-cuda -am test-compile`:
#   native-cuda/src/test/real-nvrtc.sh DIR
# where DIR holds libnvrtc.so.13 and libnvrtc-builtins.so.13.* (a CUDA 13 toolkit's lib64, or the nvidia/cu13/lib
# folder of NVIDIA's nvidia-cuda-nvrtc wheel, which is a zip file). Not part of the build: CI has no NVRTC.
set -euo pipefail
if [ $# -ne 1 ] || [ ! -f "$1/libnvrtc.so.13" ]; then
  echo "usage: $0 DIR, where DIR holds NVIDIA's libnvrtc.so.13 and libnvrtc-builtins.so.13.*" >&2
  exit 2
fi
cd "$(dirname "$0")/../.."
emulator=target/emulated-cuda
[ -f "$emulator/libcuda.so.1" ] || bash src/test/emulator/build.sh
links=$(mktemp -d)
trap 'rm -rf "$links"' EXIT
cp "$1"/libnvrtc.so.13 "$1"/libnvrtc-builtins.so.13.* "$links"/   # copies: NVRTC finds its builtins beside itself
cp "$emulator/libcuda.so.1" "$links"/
LD_LIBRARY_PATH="$links" mvn -B -q -o surefire:test@default-test -Dtest=RealNvrtcTest \
  -Dsurefire.failIfNoSpecifiedTests=false -Dpromptgrad.realNvrtc=true \
  -Dorg.bytedeco.javacpp.platform.linkpath="$links" -Dorg.bytedeco.javacpp.cachedir="$links/javacpp"
grep -h "Tests run" target/surefire-reports/dev.promptgrad.cuda.RealNvrtcTest.txt
