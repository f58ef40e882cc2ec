"""Conan 2 recipe of libtodo, building this repository.

    conan create . -o "libtodo/*:jwt=True"            # + test_package
    conan create . -o "libtodo/*:shared=True"

The options mirror the vcpkg port's features (ports/libtodo): sqlite (default),
postgres, jwt, server. See docs/packaging.md.
"""

import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir
from conan.tools.gnu import PkgConfigDeps

required_conan_version = ">=2.0"


class LibtodoConan(ConanFile):
    name = "libtodo"
    description = ("Embeddable per-user task store (SQLite, PostgreSQL) with a JWT verifier, "
                   "and the todo-server REST backend")
    license = "MIT"
    topics = ("todo", "tasks", "sqlite", "postgresql", "jwt", "rest")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "sqlite": [True, False],
        "postgres": [True, False],
        "jwt": [True, False],
        "server": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "sqlite": True,
        "postgres": False,
        "jwt": False,
        "server": False,
        # The JWKS URL client fetches https URLs.
        "cpp-httplib/*:with_openssl": True,
    }
    def export_sources(self):
        # What the build needs: not the tests, nor npm packages installed for them.
        for pattern in ("CMakeLists.txt", "LICENSE", "README.md", "cmake/*", "docs/CMakeLists.txt",
                        "libtodo/*", "adapters/*"):
            copy(self, pattern, self.recipe_folder, self.export_sources_folder,
                 excludes=("*node_modules*",))

    def set_version(self):
        cmakelists = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        self.version = re.search(r"project\(libtodo VERSION (\S+)", cmakelists).group(1)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # Header-only and used inside the libraries only: not a consumer's dependency.
        if self.options.sqlite or self.options.postgres or self.options.jwt or self.options.server:
            self.requires("nlohmann_json/[>=3.10 <4]", visible=False)
        if self.options.sqlite:
            self.requires("sqlitecpp/[>=3.2 <4]")
        if self.options.postgres:
            # libtodo is written against libpqxx 6.4 (Debian 12's); 7.x changed the API.
            self.requires("libpqxx/[>=6.4 <7]")
        if self.options.jwt:  # the server needs it too, and validate() makes sure it is on
            self.requires("openssl/[>=3 <4]")
            self.requires("cpp-httplib/[>=0.11 <1]")
        if self.options.server:
            # The built-in accounts' Argon2id, in the executable only.
            self.requires("libsodium/[>=1.0.18 <2]", visible=False)

    def validate(self):
        check_min_cppstd(self, 20)
        if self.options.server and not (self.options.sqlite and self.options.jwt):
            raise ConanInvalidConfiguration("libtodo:server needs libtodo:sqlite and libtodo:jwt")
        if self.settings.os == "Windows":
            raise ConanInvalidConfiguration("libtodo builds on Linux and macOS")

    def generate(self):
        tc = CMakeToolchain(self)  # BUILD_SHARED_LIBS and fPIC come from the options
        tc.cache_variables["TODO_WITH_SQLITE"] = bool(self.options.sqlite)
        tc.cache_variables["TODO_WITH_POSTGRES"] = bool(self.options.postgres)
        tc.cache_variables["TODO_WITH_JWT"] = bool(self.options.jwt)
        tc.cache_variables["TODO_BUILD_SERVER"] = bool(self.options.server)
        tc.cache_variables["TODO_BUILD_TESTS"] = False
        tc.cache_variables["TODO_BUILD_EXAMPLES"] = False
        tc.cache_variables["TODO_INSTALL"] = True
        # No built-in /docs directory in a packaged todo-server: DOCS_DIR sets one.
        tc.cache_variables["TODO_DOCS_DIR"] = ""
        tc.generate()
        CMakeDeps(self).generate()
        # libsodium is looked up with pkg-config when no CMake package has it.
        PkgConfigDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        # Conan generates both from package_info() below.
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self):
        # The same names as libtodo's own CMake package: find_package(libtodo)
        # and the targets libtodo::core, libtodo::sqlite, ...
        self.cpp_info.set_property("cmake_file_name", "libtodo")
        self.cpp_info.set_property("pkg_config_name", "libtodo")

        def component(name, requires):
            c = self.cpp_info.components[name]
            c.set_property("cmake_target_name", f"libtodo::{name}")
            c.set_property("pkg_config_name", f"libtodo-{name}")
            c.libs = [f"todo-{name}"]
            c.requires = requires
            return c

        component("core", [])
        if self.options.sqlite:
            component("sqlite", ["core", "sqlitecpp::sqlitecpp"])
        if self.options.postgres:
            component("postgres", ["core", "libpqxx::pqxx"])
        if self.options.jwt:
            jwt = component("jwt", ["core", "openssl::crypto", "cpp-httplib::cpp-httplib"])
            if self.settings.os in ["Linux", "FreeBSD"]:
                jwt.system_libs = ["pthread"]
