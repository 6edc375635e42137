# Shared helpers for tools/run and tools/test (sourced, not executed).
#
# Both scripts must work on a fresh Debian 12 machine as root: they install the Debian packages
# that are missing, configure the CMake build in build/ once (later runs are incremental), build
# with every core, and then do their job. Knobs (environment):
#   BRAID_CUDA=AUTO|ON|OFF   passed to CMake as -DBRAID_CUDA (default AUTO: CUDA if nvcc is found)
#   BRAID_BUILD_DIR=dir      build directory (default build/, relative to the repository root)
#   BRAID_SKIP_APT=1         never call apt-get (for machines where packages come from elsewhere)
# The build's own output (CMake, Ninja, compiler warnings) goes to stderr, as braid_say's lines
# do, so that stdout carries only the job's output (tools/run > results.txt).

# The repository root: the parent of tools/.
BRAID_ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BRAID_BUILD_DIR="${BRAID_BUILD_DIR:-build}"
case "${BRAID_BUILD_DIR}" in
  /*) ;;
  *) BRAID_BUILD_DIR="${BRAID_ROOT_DIR}/${BRAID_BUILD_DIR}" ;;
esac

# Debian packages the build, the tests and tools/run need (never vendored copies). python3: the
# CLI test scripts check JSON output with it; procps: pgrep finds the ranks of a job that the
# stalled-peer test stops; iproute2: the net tier's namespaces and netem (ip, tc); xz-utils:
# tools/gpu_check bundles the GPU build with it.
BRAID_DEBIAN_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libucx-dev libhwloc-dev libmpich-dev mpich
  libfmt-dev libgtest-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  valgrind
  gnuplot-nox iproute2
  python3 procps xz-utils
)

# Prints a progress line to stderr, so that stdout carries only the job's own output.
braid_say() {
  echo "[braid] $*" >&2
}

braid_die() {
  echo "[braid] error: $*" >&2
  exit 1
}

# True if the Debian package is fully installed.
braid_pkg_installed() {
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [[ "${status}" == "install ok installed" ]]
}

# Installs the packages of BRAID_DEBIAN_PACKAGES that are missing. apt-get update runs once, and
# only when something is missing, so a provisioned machine never touches the network.
braid_install_packages() {
  local missing=() pkg
  for pkg in "${BRAID_DEBIAN_PACKAGES[@]}"; do
    braid_pkg_installed "${pkg}" || missing+=("${pkg}")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  if [[ "${BRAID_SKIP_APT:-0}" == "1" ]]; then
    braid_say "missing Debian packages (BRAID_SKIP_APT=1, not installing): ${missing[*]}"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 ||
    braid_die "missing packages ${missing[*]} and no apt-get: this script expects Debian 12 (or install their equivalents and set BRAID_SKIP_APT=1)"
  local sudo=()
  if [[ "$(id -u)" != "0" ]]; then
    command -v sudo >/dev/null 2>&1 ||
      braid_die "missing packages ${missing[*]}: run as root, or install them yourself and set BRAID_SKIP_APT=1"
    sudo=(sudo)
  fi
  braid_say "installing missing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >&2
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# Configures build/ with CMake + Ninja the first time; afterwards the build is incremental (Ninja
# re-runs CMake itself when a CMakeLists.txt changes). An explicit BRAID_CUDA is re-applied to an
# existing build, because it changes the cache.
braid_configure() {
  local cuda="${BRAID_CUDA:-AUTO}"
  case "${cuda}" in
    AUTO|ON|OFF) ;;
    *) braid_die "BRAID_CUDA='${cuda}': expected AUTO, ON or OFF" ;;
  esac
  # A build directory configured for another checkout (copied with it) would build that one's
  # sources: its cache is dropped and it is configured again for this one.
  local cache="${BRAID_BUILD_DIR}/CMakeCache.txt" home
  if [[ -f "${cache}" ]]; then
    home="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "${cache}")"
    if [[ -n "${home}" && "$(cd "${home}" 2>/dev/null && pwd -P)" != "$(cd "${BRAID_ROOT_DIR}" && pwd -P)" ]]; then
      braid_say "${BRAID_BUILD_DIR} was configured for ${home}; configuring it again for ${BRAID_ROOT_DIR}"
      rm -rf "${cache}" "${BRAID_BUILD_DIR}/CMakeFiles" "${BRAID_BUILD_DIR}/build.ninja"
    fi
  fi
  if [[ -f "${cache}" && -f "${BRAID_BUILD_DIR}/build.ninja" ]]; then
    if [[ -n "${BRAID_CUDA:-}" ]]; then
      cmake -S "${BRAID_ROOT_DIR}" -B "${BRAID_BUILD_DIR}" -DBRAID_CUDA="${cuda}" >/dev/null
    fi
    return 0
  fi
  braid_say "configuring ${BRAID_BUILD_DIR} (BRAID_CUDA=${cuda})"
  # A build directory configured before with another generator keeps it (CMake refuses to switch).
  local generator=(-G Ninja)
  [[ -f "${BRAID_BUILD_DIR}/CMakeCache.txt" ]] && generator=()
  cmake -S "${BRAID_ROOT_DIR}" -B "${BRAID_BUILD_DIR}" "${generator[@]}" -DBRAID_CUDA="${cuda}" >&2
}

braid_build() {
  local jobs
  jobs="$(nproc 2>/dev/null || echo 2)"
  braid_say "building in ${BRAID_BUILD_DIR} with ${jobs} jobs"
  cmake --build "${BRAID_BUILD_DIR}" -j "${jobs}" >&2
}

# Prints the script's header comment (its lines from the second on, up to the first that is not
# a comment) without the leading "# ", for --help.
braid_usage() {
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$1"
}

# Everything up to a built tree: packages, configure, build.
braid_prepare() {
  braid_install_packages
  braid_configure
  braid_build
}
