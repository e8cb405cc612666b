#!/usr/bin/env bash
# Prepares the device check on a machine with Maven and a JDK 17 (no GPU needed): builds core, native-cuda and
# models with their test jars, collects every runtime jar, jlinks a small Java runtime with only the modules they
# use, adds stories260K (for the real-model test), and packs it all into
# native-cuda/device/dist/promptgrad-device.tar.gz, which must stay under 64 MiB (the most a device call carries).
# Run from anywhere; prints the archive's size. check.sh unpacks it on the GPU machine.
# BASELINE=COMMIT also builds that commit's native-cuda jar (its kernels and CudaBackend) into
# native-cuda/device/dist/baseline, which check.sh's baseline stage times beside this build in the same call.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DIST=native-cuda/device/dist
LIMIT_MIB=64

command -v jlink >/dev/null || { echo "prepare.sh: jlink not found; install a JDK 17 (e.g. openjdk-17-jdk-headless)" >&2; exit 1; }
JAVA_MAJOR=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')
[ "$JAVA_MAJOR" = "17" ] || echo "prepare.sh: warning: building with Java $JAVA_MAJOR; the project targets 17" >&2

STORIES=../shared/models/stories260K/stories260K.bin
[ -f "$STORIES" ] || { echo "prepare.sh: $STORIES is missing; the shared folder must sit beside the repository" >&2; exit 1; }

echo "== building core, native-cuda and models (tests skipped; they run in CI and on the device)"
mvn -q -o -B -pl native-cuda,models -am package -DskipTests -Pdevice-dist

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/lib"
cp native-cuda/target/promptgrad-native-cuda-*-tests.jar "$STAGE/lib/"
cp "$(ls native-cuda/target/promptgrad-native-cuda-*.jar | grep -v -- '-tests.jar')" "$STAGE/lib/"
cp native-cuda/target/device-libs/*.jar "$STAGE/lib/"
# the model tests' classes (their fixtures come from the repository copy on the device, as files)
cp models/target/promptgrad-models-*-tests.jar "$STAGE/lib/"
cp "$(ls models/target/promptgrad-models-*.jar | grep -v -- '-tests.jar')" "$STAGE/lib/"
mkdir -p "$STAGE/shared/models/stories260K"
cp "$STORIES" "$STAGE/shared/models/stories260K/"

# The CUDA presets' native jar holds JNI bindings for every CUDA library (cuDNN, NPP, cuFFT, ...); the backend
# needs three. Keep only those, so the archive leaves room for the rest.
CUDA_NATIVES=$(ls "$STAGE"/lib/cuda-*-linux-x86_64.jar)
TRIM=$(mktemp -d)
(cd "$TRIM" && unzip -q "$CUDA_NATIVES" 'META-INF/*' \
    'org/bytedeco/cuda/linux-x86_64/libjnicudart.so' \
    'org/bytedeco/cuda/linux-x86_64/libjnicublas.so' \
    'org/bytedeco/cuda/linux-x86_64/libjninvrtc.so' \
  && rm -f "$CUDA_NATIVES" && jar --create --no-manifest --file "$CUDA_NATIVES" -C "$TRIM" .)
rm -rf "$TRIM"

echo "== finding the Java modules the jars use"
MODULES=$(jdeps --print-module-deps --ignore-missing-deps --multi-release 17 --class-path "$STAGE/lib/*" \
  "$STAGE"/lib/*.jar 2>/dev/null | tail -1)
case ",$MODULES," in *,jdk.unsupported,*) ;; *) MODULES="$MODULES,jdk.unsupported" ;; esac   # JavaCPP's Unsafe
# java.desktop (10 MiB) serves only the training loss plot (LossCurve), which the device check never draws
MODULES=$(echo "$MODULES" | tr , '\n' | grep -vx java.desktop | paste -sd, -)
echo "   $MODULES"
COMPRESS=zip-6
jlink --help 2>&1 | grep -q 'zip-\[0-9\]' || COMPRESS=2   # JDK 17 spells it --compress=2
jlink --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --compress=$COMPRESS \
  --output "$STAGE/jre"

mkdir -p "$DIST"
{
  echo "promptgrad device check archive"
  echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "java: $("$STAGE/jre/bin/java" -version 2>&1 | head -1)"
  echo "modules: $MODULES"
  echo "jars:"; (cd "$STAGE/lib" && ls -1)
} > "$STAGE/MANIFEST.txt"
tar -czf "$DIST/promptgrad-device.tar.gz" -C "$STAGE" MANIFEST.txt jre lib shared
cp "$STAGE/MANIFEST.txt" "$DIST/MANIFEST.txt"

rm -rf "$DIST/baseline"
if [ -n "${BASELINE:-}" ]; then
  echo "== building native-cuda at $BASELINE for the baseline stage"
  TREE=$(mktemp -d)
  git -C "$ROOT" worktree add -q --detach "$TREE/repo" "$BASELINE"
  (cd "$TREE/repo" && mvn -q -o -B -pl native-cuda -am package -DskipTests)
  mkdir -p "$DIST/baseline"
  cp "$(ls "$TREE"/repo/native-cuda/target/promptgrad-native-cuda-*.jar | grep -v -- '-tests.jar')" \
    "$DIST/baseline/promptgrad-native-cuda-baseline.jar"
  git -C "$ROOT" rev-parse "$BASELINE" > "$DIST/baseline/COMMIT"
  git -C "$ROOT" worktree remove --force "$TREE/repo"
  rm -rf "$TREE"
fi

BYTES=$(stat -c %s "$DIST/promptgrad-device.tar.gz")
MIB=$(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "== $DIST/promptgrad-device.tar.gz: $MIB MiB (jre $(du -sh "$STAGE/jre" | cut -f1), jars $(du -sh "$STAGE/lib" | cut -f1) unpacked)"
if [ "$BYTES" -ge $((LIMIT_MIB * 1048576)) ]; then
  echo "prepare.sh: the archive is over ${LIMIT_MIB} MiB, more than a device call carries" >&2
  exit 1
fi
