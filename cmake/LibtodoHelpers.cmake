# Small helpers shared by the targets of this project.

# Compiler settings every libtodo target gets: C++20, warnings, and the
# sanitizers when TODO_SANITIZE or TODO_FUZZ is on. Applied per target, never per directory.
function(libtodo_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                             -Wno-sign-conversion -Wno-missing-field-initializers)
  endif()
  if(TODO_SANITIZE)
    # GCC 12 reports false -Wmaybe-uninitialized inside <regex> and <functional>
    # when ASan instruments optimized code; that noise would break -Werror builds.
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined -Wno-maybe-uninitialized)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(TODO_FUZZ)
    # Coverage for libFuzzer everywhere; the fuzz executables add -fsanitize=fuzzer (the main).
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
endfunction()

# Fails configuration with a message naming the option that turns the part off.
function(libtodo_require found what option)
  if(NOT ${found})
    message(FATAL_ERROR "${what} was not found. Install it (see scripts/install-deps.sh) "
                        "or configure with -D${option}=OFF.")
  endif()
endfunction()
