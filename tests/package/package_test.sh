#!/usr/bin/env bash
# The package tests: libtodo installed, then used from projects outside its tree.
# Each subcommand is one CTest test (tests/package/CMakeLists.txt) and fails
# loudly: a consumer that does not configure, build, run or print what it
# should is an error, never a skip.
#
#   package_test.sh install <build-dir> <work>             cmake --install <build-dir> into <work>/prefix
#   package_test.sh build-library <source> <work> <cmake-option>...
#                                                          configure, build and install libtodo (libraries only)
#   package_test.sh find-package <work> <components> [<missing-optional-components>]
#                                                          a find_package consumer against <work>/prefix
#   package_test.sh not-found <work> <name> <expected-message> <cmake-option>...
#                                                          a consumer whose configure must fail, saying so
#   package_test.sh pkg-config <work> shared|static <components>
#                                                          a consumer compiled with pkg-config's flags only
#   package_test.sh symbols <work> <soversion>             the shared libraries export libtodo's symbols only
#   package_test.sh add-subdirectory <source> <work>       a consumer with add_subdirectory(<source>)
#   package_test.sh port-version <source> <version>        the vcpkg port has the project's version
#
# <components> is a comma-separated list. The environment variables LIBTODO_TEST_CXX,
# LIBTODO_TEST_CXX_FLAGS and LIBTODO_TEST_GENERATOR come from the outer build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
jobs=2  # the machine's cores are shared with the rest of the test run
cmake_common=(-G "${LIBTODO_TEST_GENERATOR:-Unix Makefiles}" -DCMAKE_CXX_COMPILER="${LIBTODO_TEST_CXX:-c++}"
              -DCMAKE_CXX_FLAGS="${LIBTODO_TEST_CXX_FLAGS:-}" -DCMAKE_BUILD_TYPE=None
              -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)

fail() { echo "package_test: FAILED: $*" >&2; exit 1; }
run() { echo "+ $*" >&2; "$@"; }

# The lines the consumer (consumer/main.cpp) prints for these components.
expected_output() {
  echo "sqlite: 1 pending, Buy milk"
  echo "core: title rejected, 1970-01-01T00:00:00.000Z"
  if [[ ",$1," == *",jwt,"* ]]; then echo "jwt: ada verified, bad_signature"; fi
  if [[ ",$1," == *",postgres,"* ]]; then echo "postgres: unavailable"; fi
}

# Runs a consumer binary and compares what it prints with expected_output.
check_consumer() {  # binary, components
  local output
  output=$("$1") || fail "$1 exited with status $?"
  if [ "$output" != "$(expected_output "$2")" ]; then
    diff <(expected_output "$2") <(echo "$output") >&2 || true
    fail "$1 printed something else than expected (diff above: < expected, > actual)"
  fi
  echo "$output"
}

fresh_prefix() { rm -rf "$1/prefix"; mkdir -p "$1"; }
# lib, or lib/<multiarch> for a /usr prefix: where libtodo.pc was installed.
libdir_of() {
  local pc
  pc=$(find "$1/prefix" -name libtodo.pc -print -quit)
  [ -n "$pc" ] || fail "no libtodo.pc under $1/prefix"
  dirname "$(dirname "$pc")"
}

cmd=${1:?subcommand}
shift
case "$cmd" in
  install)
    build=$1 work=$2
    fresh_prefix "$work"
    run cmake --install "$build" --prefix "$work/prefix" > "$work/install.log" || fail "cmake --install $build"
    ;;

  build-library)
    source=$1 work=$2
    shift 2
    fresh_prefix "$work"
    run cmake -S "$source" -B "$work/build" "${cmake_common[@]}" -DCMAKE_INSTALL_PREFIX="$work/prefix" \
        -DTODO_BUILD_TESTS=OFF -DTODO_BUILD_EXAMPLES=OFF -DTODO_BUILD_SERVER=OFF "$@" > "$work/configure.log" ||
      { cat "$work/configure.log"; fail "configuring libtodo"; }
    run cmake --build "$work/build" -j"$jobs" || fail "building libtodo"
    run cmake --install "$work/build" > "$work/install.log" || fail "installing libtodo"
    ;;

  find-package)
    work=$1 components=$2 optional=${3:-}
    run cmake -S "$here/consumer" -B "$work/consumer" "${cmake_common[@]}" -DCMAKE_PREFIX_PATH="$work/prefix" \
        -DCONSUMER_COMPONENTS="$components" -DCONSUMER_OPTIONAL_COMPONENTS="$optional" \
        -DCONSUMER_VERSION=0.1 || fail "configuring the consumer"
    run cmake --build "$work/consumer" -j"$jobs" || fail "building the consumer"
    check_consumer "$work/consumer/consumer" "$components"
    ;;

  not-found)
    work=$1 name=$2 message=$3
    shift 3
    dir="$work/not-found-$name"
    rm -rf "$dir"
    if run cmake -S "$here/consumer" -B "$dir" "${cmake_common[@]}" \
           -DCMAKE_PREFIX_PATH="$work/prefix" "$@" > "$dir.log" 2>&1; then
      cat "$dir.log"
      fail "configuring with $* succeeded; it should have failed"
    fi
    cat "$dir.log"
    # CMake wraps long messages: compare with the line breaks taken out.
    tr -s ' \n' ' ' < "$dir.log" | grep -qF -- "$message" ||
      fail "the configure error does not say: $message"
    ;;

  pkg-config)
    work=$1 linkage=$2 components=$3
    libdir=$(libdir_of "$work")
    export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    static=()
    if [ "$linkage" = static ]; then static=(--static); fi
    version=$(pkg-config --modversion libtodo) || fail "pkg-config does not find libtodo"
    flags=$(pkg-config --cflags --libs "${static[@]}" libtodo) || fail "pkg-config --libs ${static[*]} libtodo"
    echo "libtodo $version: $flags"
    defines=()
    for c in ${components//,/ }; do defines+=("-DCONSUMER_WITH_${c^^}"); done
    # shellcheck disable=SC2086  # the flags are words
    run "${LIBTODO_TEST_CXX:-c++}" -std=c++20 "${defines[@]}" "$here/consumer/main.cpp" \
        -o "$work/pkg-config-consumer" $flags || fail "compiling with pkg-config's flags"
    LD_LIBRARY_PATH="$libdir" check_consumer "$work/pkg-config-consumer" "$components"
    if [ "$linkage" = static ] && ldd "$work/pkg-config-consumer" | grep -q 'libtodo-'; then
      fail "the static consumer loads a shared libtodo"
    fi
    ;;

  symbols)
    work=$1 soversion=$2
    found=0
    for lib in "$(libdir_of "$work")"/libtodo-*.so; do
      [ -e "$lib" ] || continue
      found=1
      name=$(basename "$lib")
      soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
      [ "$soname" = "$name.$soversion" ] || fail "$name: SONAME '$soname', expected $name.$soversion"
      [ -e "$(dirname "$lib")/$soname" ] || fail "$name: $soname is not installed"
      symbols=$(nm -D --defined-only -C "$lib" | cut -d' ' -f3-)
      [ -n "$symbols" ] || fail "$name exports nothing"
      foreign=$(grep -vE '^((typeinfo( name)?|vtable|VTT|(non-)?virtual thunk) (for|to) )?libtodo::' \
                  <<< "$symbols" || true)
      [ -z "$foreign" ] || fail "$name exports symbols that are not libtodo's:"$'\n'"$foreign"
      echo "$name ($soname): $(wc -l <<< "$symbols") symbols, all libtodo's"
    done
    [ "$found" = 1 ] || fail "no shared library in $(libdir_of "$work")"
    ;;

  add-subdirectory)
    source=$1 work=$2
    run cmake -S "$here/subdirectory" -B "$work/build" "${cmake_common[@]}" -DLIBTODO_SOURCE_DIR="$source" \
        -DTODO_WITH_POSTGRES=OFF -DTODO_WITH_JWT=OFF || fail "configuring the add_subdirectory consumer"
    run cmake --build "$work/build" -j"$jobs" || fail "building the add_subdirectory consumer"
    check_consumer "$work/build/consumer" sqlite
    ;;

  port-version)
    source=$1 version=$2
    port_version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$source/ports/libtodo/vcpkg.json")
    [ "$port_version" = "$version" ] ||
      fail "ports/libtodo/vcpkg.json says version '$port_version', CMakeLists.txt $version"
    echo "ports/libtodo/vcpkg.json: version $port_version"
    ;;

  *)
    fail "unknown subcommand $cmd"
    ;;
esac
