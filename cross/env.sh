# Sourced by cross/build and cross/test: target triple, linker, C compiler and runner for an arch.
# Usage: . cross/env.sh aarch64|x86_64
case "${1:-aarch64}" in
  aarch64|arm64)
    TARGET=aarch64-unknown-linux-musl
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
    export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
    export AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64-static
    # Tests that start the gatehouse binary run it through the same emulator.
    export GATEHOUSE_TEST_RUNNER=qemu-aarch64-static
    CROSS_APT=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu qemu-user-static file)
    CROSS_TOOLS=(aarch64-linux-gnu-gcc qemu-aarch64-static file)
    # The box's flash budget for the stripped binary (issue 3): under 8 MiB.
    SIZE_BUDGET=$((8 * 1024 * 1024))
    ;;
  x86_64|amd64)
    TARGET=x86_64-unknown-linux-musl
    # rust's self-contained musl linking needs only the host cc for ring's C code.
    export CC_x86_64_unknown_linux_musl=gcc
    CROSS_APT=(gcc file)
    CROSS_TOOLS=(gcc file)
    # x86 boxes have no fixed flash budget; the size is reported only.
    SIZE_BUDGET=0
    ;;
  *) echo "unknown arch '$1' (aarch64 or x86_64)" >&2; return 2 2>/dev/null || exit 2 ;;
esac
export TARGET
# Fixed-path remapping keeps the binary free of this machine's paths.
export CARGO_PROFILE_RELEASE_STRIP=true

cross_setup() {
  local missing=()
  for t in "${CROSS_TOOLS[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "cross: installing ${CROSS_APT[*]}"
    local s=""; [ "$(id -u)" = 0 ] || s=sudo
    $s apt-get update -qq
    $s env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${CROSS_APT[@]}"
  fi
  rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
}
