# vcpkg overlay port of libtodo, building the repository it lives in:
#   vcpkg install libtodo[sqlite,jwt] --overlay-ports=<libtodo>/ports
# A registry port would fetch a release instead (vcpkg_from_github with REF and SHA512).
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
  FEATURES
    sqlite   TODO_WITH_SQLITE
    postgres TODO_WITH_POSTGRES
    jwt      TODO_WITH_JWT
    server   TODO_BUILD_SERVER
)

# BUILD_SHARED_LIBS comes from the triplet's VCPKG_LIBRARY_LINKAGE.
# TODO_DOCS_DIR empty: the packaged todo-server has no built-in /docs directory
# (set DOCS_DIR at run time).
vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    ${FEATURE_OPTIONS}
    -DTODO_BUILD_TESTS=OFF
    -DTODO_BUILD_EXAMPLES=OFF
    -DTODO_INSTALL=ON
    -DTODO_DOCS_DIR=
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/libtodo)
vcpkg_fixup_pkgconfig()

if("server" IN_LIST FEATURES)
  vcpkg_copy_tools(TOOL_NAMES todo-server AUTO_CLEAN)
endif()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include" "${CURRENT_PACKAGES_DIR}/debug/share")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
