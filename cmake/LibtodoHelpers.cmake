# Small helpers shared by the targets of this project.

include(GNUInstallDirs)

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

# The option that switches a part off: TODO_WITH_<COMPONENT> for the libraries,
# TODO_BUILD_<PART> for the server and the examples.
function(_libtodo_option_of part out)
  string(TOUPPER ${part} upper)
  if(part STREQUAL "server" OR part STREQUAL "examples")
    set(${out} TODO_BUILD_${upper} PARENT_SCOPE)
  else()
    set(${out} TODO_WITH_${upper} PARENT_SCOPE)
  endif()
endfunction()

# The shared libraries' ABI version. Before 1.0 every minor release may break
# the ABI (libtodo-core.so.0.1, .so.0.2, ...); from 1.0 on only a major one.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(LIBTODO_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(LIBTODO_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

# libtodo_add_library(<component> <source>...): the library libtodo::<component>
# (target libtodo_<component>, file libtodo-<component>.so or .a): its include
# directory, its export header <libtodo/<component>_export.hpp> defining
# LIBTODO_<COMPONENT>_EXPORT, hidden visibility for everything else, the ABI
# version, and, with TODO_INSTALL, its install rules and export set.
function(libtodo_add_library component)
  set(target libtodo_${component})
  add_library(${target} ${ARGN})
  add_library(libtodo::${component} ALIAS ${target})
  set_target_properties(${target} PROPERTIES
    EXPORT_NAME ${component} OUTPUT_NAME todo-${component}
    VERSION ${PROJECT_VERSION} SOVERSION ${LIBTODO_SOVERSION}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  libtodo_target_defaults(${target})

  # The export header says whether this build is shared, so consumers need no
  # -D flag whichever way it was built (CMake, pkg-config, vcpkg or Conan).
  get_target_property(type ${target} TYPE)
  string(TOUPPER ${component} LIBTODO_EXPORT_UPPER)
  set(LIBTODO_EXPORT_COMPONENT ${component})
  set(LIBTODO_EXPORT_TARGET ${target})
  if(type STREQUAL "SHARED_LIBRARY")
    set(LIBTODO_EXPORT_SHARED 1)
  else()
    set(LIBTODO_EXPORT_SHARED 0)
  endif()
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/include)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/export.hpp.in
                 ${generated}/libtodo/${component}_export.hpp @ONLY)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${generated}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  if(type STREQUAL "SHARED_LIBRARY" AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND NOT APPLE)
    # Only libtodo's symbols are exported: none of a static archive linked in
    # (Debian's libSQLiteCpp.a), none of the std templates we instantiate.
    set(map ${PROJECT_SOURCE_DIR}/cmake/libtodo.map)
    target_link_options(${target} PRIVATE "LINKER:--exclude-libs,ALL" "LINKER:--version-script=${map}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${map})
  endif()

  set_property(GLOBAL APPEND PROPERTY LIBTODO_COMPONENTS ${component})
  if(TODO_INSTALL)
    install(TARGETS ${target} EXPORT libtodo-${component}-targets
            RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(DIRECTORY include/ ${generated}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
            FILES_MATCHING PATTERN "*.hpp")
    install(EXPORT libtodo-${component}-targets NAMESPACE libtodo::
            DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libtodo)
  endif()
endfunction()

# What a consumer of a static libtodo::<component> must also find and link,
# recorded for the installed package: CMake code for libtodoConfig.cmake and
# flags for libtodo.pc. Shared libraries carry their dependencies themselves.
function(_libtodo_record_dependency component code)
  cmake_parse_arguments(R "" "" "PC_REQUIRES;PC_LIBS" ${ARGN})
  set_property(GLOBAL APPEND_STRING PROPERTY LIBTODO_DEPENDENCIES_${component} "${code}\n")
  set_property(GLOBAL APPEND PROPERTY LIBTODO_PC_REQUIRES_${component} ${R_PC_REQUIRES})
  set_property(GLOBAL APPEND PROPERTY LIBTODO_PC_LIBS_${component} ${R_PC_LIBS})
endfunction()

# libtodo_find_package(<part> <what> <package> [<find_package arguments>...]
#                      [PC_REQUIRES <module>...] [PC_LIBS <flag>...])
# find_package(<package> ...) or a configure error naming <what> and the option
# that turns <part> off. For a library part, records the lookup (and what
# libtodo.pc needs instead) for static consumers.
function(libtodo_find_package part what package)
  cmake_parse_arguments(F "" "" "PC_REQUIRES;PC_LIBS" ${ARGN})
  find_package(${package} ${F_UNPARSED_ARGUMENTS} QUIET)
  _libtodo_option_of(${part} option)
  libtodo_require(${package}_FOUND "${what}" ${option})
  string(JOIN " " arguments ${package} ${F_UNPARSED_ARGUMENTS})
  _libtodo_record_dependency(${part} "find_dependency(${arguments})"
                             PC_REQUIRES ${F_PC_REQUIRES} PC_LIBS ${F_PC_LIBS})
endfunction()

# libtodo_find_library(<part> <what> <out-var> CONFIG <package> <target>
#                      PKG_CONFIG <module>... [PC_LIBS <flag>...])
# A library that vcpkg and Conan describe with a CMake package and Debian only
# with pkg-config (libpqxx, cpp-httplib): find_package(<package> CONFIG) when
# there is one, else pkg_check_modules(LIBTODO_<OUT-VAR> ... IMPORTED_TARGET).
# Sets <out-var> to the target to link and records the lookup like
# libtodo_find_package. libtodo.pc names PC_LIBS when given, else the modules.
function(libtodo_find_library part what out)
  cmake_parse_arguments(F "" "" "CONFIG;PKG_CONFIG;PC_LIBS" ${ARGN})
  list(GET F_CONFIG 0 package)
  list(GET F_CONFIG 1 package_target)
  find_package(${package} CONFIG QUIET)
  if(${package}_FOUND AND TARGET ${package_target})
    set(${out} ${package_target} PARENT_SCOPE)
    _libtodo_record_dependency(${part} "find_dependency(${package} CONFIG)" PC_LIBS ${F_PC_LIBS})
    return()
  endif()
  find_package(PkgConfig QUIET)
  set(prefix LIBTODO_${out})
  if(PkgConfig_FOUND)
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${F_PKG_CONFIG})
  endif()
  _libtodo_option_of(${part} option)
  libtodo_require(${prefix}_FOUND "${what}" ${option})
  set(${out} PkgConfig::${prefix} PARENT_SCOPE)
  set(pc_requires ${F_PKG_CONFIG})
  if(F_PC_LIBS)
    set(pc_requires "")
  endif()
  string(JOIN " " modules ${F_PKG_CONFIG})
  _libtodo_record_dependency(${part} "_libtodo_pkg_config_dependency(${prefix} ${modules})"
                             PC_REQUIRES ${pc_requires} PC_LIBS ${F_PC_LIBS})
endfunction()
